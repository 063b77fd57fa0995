//! A deleted job runs nothing more: once `DELETE /jobs/{id}` has answered, no run of the job
//! starts, on whichever worker holds its next tick and however close to that tick the delete
//! comes, even when the tick was claimed ahead of its time; such a tick is recorded `skipped`
//! (the job was deleted).

use chrono::{DateTime, Utc};
use distcron_core::run::skip;
use distcron_e2e::checks::{each_runs_after, every_second_jobs};
use distcron_e2e::{TestCluster, epoch_now, epoch_of};
use std::collections::BTreeMap;
use std::time::Duration;

/// Deletes, each at its own offset within a second, spread over the whole second.
const TRIES: usize = 25;

/// (scheduled_at, status, reason, started_at) of a run row.
type RunRow = (DateTime<Utc>, String, Option<String>, Option<DateTime<Utc>>);

#[tokio::test]
async fn nothing_of_a_deleted_job_starts_once_the_delete_has_answered() {
    let cluster = TestCluster::start().await;
    let admin = cluster.admin();
    let witness = cluster.witness("delete");
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
    for (job, (offset, answer)) in &answered {
        let rows: Vec<RunRow> = sqlx::query_as(
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
                    epoch_of(*s) < *answer,
                    "{job} at {at}: its process was started {:.3} s after the DELETE (sent at +{offset:.2} s) answered",
                    epoch_of(*s) - answer
                );
            }
            if epoch_of(*at) > *answer {
                assert_eq!(
                    (status.as_str(), reason.as_deref()),
                    ("skipped", Some(skip::DELETED)),
                    "{job} at {at}: a tick after the delete"
                );
                assert!(started.is_none());
            }
        }
        // The witness, independent of MySQL: every process of the job wrote its line before
        // the answer, or right after a start the rows put before it (a process writes its line
        // a moment after it was started).
        for e in entries
            .iter()
            .filter(|e| &e.job == job && e.started > *answer)
        {
            let spawned = rows
                .iter()
                .find(|(at, ..)| *at == e.scheduled_at)
                .and_then(|(_, _, _, s)| *s);
            assert!(
                spawned.is_some_and(|s| epoch_of(s) < *answer && e.started - epoch_of(s) < 0.5),
                "{job}: a process wrote {:.3} s after the DELETE (sent at +{offset:.2} s) answered; \
                 its recorded start: {spawned:?}; {e:?}",
                e.started - answer
            );
        }
        // Sent between the claim (half a second ahead) and the start check (50 ms ahead), the
        // delete finds the next tick claimed: that tick must be the one recorded skipped.
        if (0.6..=0.9).contains(offset) {
            let next = answer.floor() + 1.0;
            assert!(
                rows.iter().any(|(at, status, reason, _)| {
                    epoch_of(*at) == next
                        && status == "skipped"
                        && reason.as_deref() == Some(skip::DELETED)
                }),
                "{job}: deleted at +{offset:.2} s, its next tick {next} was not recorded skipped: {rows:?}"
            );
        }
    }
}
