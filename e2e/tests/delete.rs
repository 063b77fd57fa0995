//! A deleted job runs nothing more: once `DELETE /jobs/{id}` has answered, no run of the job
//! starts, on whichever worker holds its next tick and however close to that tick the delete
//! comes, even when the tick was claimed ahead of its time; such a tick is recorded `skipped`
//! (the job was deleted).

use chrono::{DateTime, Utc};
use distcron_core::run::skip;
use distcron_e2e::checks::{each_runs_after, every_second_jobs};
use distcron_e2e::{TestCluster, Witness, epoch_now};
use std::collections::BTreeMap;
use std::time::Duration;

/// Deletes, each at its own offset within a second, spread over the whole second.
const TRIES: usize = 25;
/// The processes write their witness line a moment after they were started: a line this much
/// after the delete's answer can still belong to a run started before it.
const WITNESS_SLACK: f64 = 0.05;

/// (scheduled_at, status, reason, started_at) of a run row.
type RunRow = (DateTime<Utc>, String, Option<String>, Option<DateTime<Utc>>);

fn epoch(t: DateTime<Utc>) -> f64 {
    t.timestamp_micros() as f64 / 1e6
}

#[tokio::test]
async fn nothing_of_a_deleted_job_starts_once_the_delete_has_answered() {
    let cluster = TestCluster::start().await;
    let admin = cluster.admin();
    let witness = Witness::new(&cluster.dir, "delete");
    let jobs = every_second_jobs(&admin, &witness, "d", TRIES).await;
    each_runs_after(
        &witness,
        &jobs,
        0.0,
        "every job to run",
        Duration::from_secs(30),
    )
    .await;

    // (offset within the second the DELETE was sent at, the moment its answer was read)
    let mut answered: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for (i, job) in jobs.iter().enumerate() {
        let offset = 0.02 + 0.97 * i as f64 / (TRIES - 1) as f64;
        let now = epoch_now();
        let target = now.floor() + 1.0 + offset;
        tokio::time::sleep(Duration::from_secs_f64(target - now)).await;
        let a = admin.delete(&format!("/jobs/{job}")).await;
        assert_eq!(a.status, 200, "DELETE {job}: {}", a.body);
        assert_eq!(a.body["status"], "finished");
        answered.insert(job.clone(), (offset, epoch_now()));
    }
    // Whatever was still to start has started (or been skipped) by now.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let db = cluster.db().await;
    let entries = witness.entries();
    let mut claimed_ahead_and_skipped = 0;
    for (job, (offset, answer)) in &answered {
        for e in entries.iter().filter(|e| &e.job == job) {
            assert!(
                e.started <= answer + WITNESS_SLACK,
                "{job}: a run started {:.3} s after its DELETE (sent at +{offset:.2} s) answered: {e:?}",
                e.started - answer
            );
        }
        let rows: Vec<RunRow> =
            sqlx::query_as(
                "SELECT scheduled_at, status, reason, started_at FROM runs WHERE job_id = ? ORDER BY scheduled_at",
            )
            .bind(job)
            .fetch_all(&db)
            .await
            .expect("runs");
        for (at, status, reason, started) in &rows {
            assert!(
                status != "running" && status != "pending",
                "{job} at {at}: still {status}"
            );
            if let Some(s) = started {
                assert!(
                    epoch(*s) < *answer,
                    "{job} at {at}: its process was started {:.3} s after the DELETE answered",
                    epoch(*s) - answer
                );
            }
            if epoch(*at) > *answer {
                assert_eq!(
                    (status.as_str(), reason.as_deref()),
                    ("skipped", Some(skip::DELETED)),
                    "{job} at {at}: a tick after the delete"
                );
                assert!(started.is_none());
            }
        }
        // Sent past the claim lead (half a second), the delete finds the next tick claimed:
        // that tick must be the one recorded skipped.
        if *offset >= 0.6 {
            let next = answer.floor() + 1.0;
            let skipped = rows.iter().any(|(at, status, reason, _)| {
                epoch(*at) == next
                    && status == "skipped"
                    && reason.as_deref() == Some(skip::DELETED)
            });
            if skipped {
                claimed_ahead_and_skipped += 1;
            }
        }
    }
    assert!(
        claimed_ahead_and_skipped > 0,
        "no delete sent after its next tick was claimed found that tick claimed"
    );
}
