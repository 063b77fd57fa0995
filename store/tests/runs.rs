//! The run rows against a real MySQL: the unique key is the fence that keeps a scheduled time
//! from running twice, outcomes never overwrite an interruption, and an interruption and its
//! retry are one transaction. Each test gets a database of its own.

mod common;

use chrono::{DateTime, SubsecRound, Utc};
use common::{TestDb, claimant, tick};
use distcron_core::{JobId, JobOptions, JobStatus, RunStatus};
use distcron_core::{NewRun, Outcome, RunEnd};
use std::time::Duration;

#[tokio::test]
async fn two_workers_claiming_the_same_ticks_get_each_tick_once() {
    let db = TestDb::new().await;
    let jobs: Vec<JobId> = create_jobs(3, || db.job(JobOptions::default())).await;
    let at = Utc::now().trunc_subsecs(0);
    let rows_a: Vec<NewRun> = jobs.iter().map(|j| tick(*j, at, 1)).collect();
    let rows_b: Vec<NewRun> = jobs.iter().map(|j| tick(*j, at, 1)).collect();
    let (ca, cb) = (claimant("a"), claimant("b"));
    let (a, b) = tokio::join!(
        db.store.claim_runs(&rows_a, &ca),
        db.store.claim_runs(&rows_b, &cb)
    );
    let (a, b) = (a.expect("claim a"), b.expect("claim b"));
    assert_eq!(
        a.len() + b.len(),
        3,
        "each tick claimed exactly once: {} + {}",
        a.len(),
        b.len()
    );
    for job in &jobs {
        let key = (*job, at, 1);
        assert!(
            a.contains_key(&key) ^ b.contains_key(&key),
            "job {job} claimed by both or neither"
        );
        // The winner's own row, with its own id.
        let (winner_rows, won) = if a.contains_key(&key) {
            (&rows_a, &a)
        } else {
            (&rows_b, &b)
        };
        let mine = winner_rows.iter().find(|r| r.job_id == *job).expect("row");
        assert_eq!(won[&key], (mine.id, RunStatus::Running));
    }
    // A later claim of the same ticks by someone else gets nothing; another attempt is another row.
    let again: Vec<NewRun> = jobs.iter().map(|j| tick(*j, at, 1)).collect();
    assert!(
        db.store
            .claim_runs(&again, &claimant("c"))
            .await
            .expect("claim")
            .is_empty()
    );
    let retry = vec![tick(jobs[0], at, 2)];
    assert_eq!(
        db.store
            .claim_runs(&retry, &claimant("c"))
            .await
            .expect("claim")
            .len(),
        1
    );
}

#[tokio::test]
async fn a_claim_whose_answer_was_lost_is_found_again_by_its_claimant() {
    let db = TestDb::new().await;
    let job = db.job(JobOptions::default()).await;
    let at = Utc::now().trunc_subsecs(0);
    let w = claimant("w");
    let first = tick(job, at, 1);
    db.store
        .claim_runs(std::slice::from_ref(&first), &w)
        .await
        .expect("claim");
    // The worker never saw that answer and tries again, with a new row id.
    let second = tick(job, at, 1);
    let owned = db
        .store
        .claim_runs(std::slice::from_ref(&second), &w)
        .await
        .expect("claim");
    assert_eq!(
        owned.get(&(job, at, 1)),
        Some(&(first.id, RunStatus::Running)),
        "the earlier row is its own"
    );
    // Another life of the same worker does not own it.
    let other_life = claimant("w");
    assert!(
        db.store
            .claim_runs(&[tick(job, at, 1)], &other_life)
            .await
            .expect("claim")
            .is_empty()
    );
    let running = db
        .store
        .own_running(&w, Duration::ZERO)
        .await
        .expect("own running");
    assert_eq!(running.len(), 1);
    assert_eq!(running[0].0, first.id);
}

#[tokio::test]
async fn an_outcome_does_not_overwrite_an_interruption_and_the_retry_comes_with_it() {
    let db = TestDb::new().await;
    let job = db.job(JobOptions::default()).await;
    let at = Utc::now().trunc_subsecs(0);
    let row = tick(job, at, 1);
    let w = claimant("w");
    assert_eq!(
        db.store
            .claim_runs(std::slice::from_ref(&row), &w)
            .await
            .expect("claim")
            .len(),
        1
    );
    // The lease goes stale (no renewal), the reaper interrupts it and queues attempt 2.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let stale = db
        .store
        .stale_runs(Duration::from_millis(10))
        .await
        .expect("stale");
    assert_eq!(stale.len(), 1);
    assert!(
        db.store
            .interrupt_run(&stale[0], "worker w died", true, Some("x"))
            .await
            .expect("interrupt")
    );
    assert!(
        !db.store
            .interrupt_run(&stale[0], "again", true, Some("x"))
            .await
            .expect("interrupt"),
        "only once"
    );
    // The dead worker's late outcome changes nothing.
    db.store
        .record_outcomes(&[Outcome {
            id: row.id,
            job_id: job,
            scheduled_at: at,
            attempt: 1,
            end: RunEnd {
                status: RunStatus::Succeeded,
                reason: None,
                started_at: Some(at),
                finished_at: Utc::now(),
                exit_code: Some(0),
                signal: None,
                output: Vec::new(),
            },
        }])
        .await
        .expect("record");
    let (run, _) = db.store.get_run(&row.id).await.expect("get").expect("run");
    assert_eq!(run.status, RunStatus::Interrupted);
    assert_eq!(run.reason.as_deref(), Some("worker w died"));
    // Attempt 2 waits as a pending retry for the job's owner, x; one claim takes it.
    let due = db.store.own_pending("x").await.expect("due");
    assert_eq!(due.len(), 1);
    assert_eq!((due[0].attempt, due[0].scheduled_at), (2, at));
    assert!(db.store.own_pending("y").await.expect("due").is_empty());
    assert_eq!(
        db.store.pending_retries(&[job]).await.expect("pending"),
        due
    );
    let ids = [due[0].id];
    assert_eq!(
        db.store
            .claim_retries(&ids, &claimant("x"))
            .await
            .taken
            .len(),
        1
    );
    for by in ["x", "y"] {
        assert!(
            db.store
                .claim_retries(&ids, &claimant(by))
                .await
                .taken
                .is_empty(),
            "a retry is taken once, even by its own claimant"
        );
    }
}

#[tokio::test]
async fn a_renewed_lease_is_not_stale_and_the_latest_tick_is_the_cursor() {
    let db = TestDb::new().await;
    let job = db.job(JobOptions::default()).await;
    let w = claimant("w");
    let t0 = Utc::now().trunc_subsecs(0);
    let rows: Vec<NewRun> = (0..3)
        .map(|i| tick(job, t0 + chrono::Duration::seconds(i), 1))
        .collect();
    db.store.claim_runs(&rows, &w).await.expect("claim");
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(db.store.renew_leases(&w).await.expect("renew"), 3);
    assert!(
        db.store
            .stale_runs(Duration::from_millis(50))
            .await
            .expect("stale")
            .is_empty()
    );
    let last = db.store.last_accounted(&[job]).await.expect("last");
    assert_eq!(last.get(&job), Some(&(t0 + chrono::Duration::seconds(2))));
}

/// Runs `n` futures one after the other (the jobs' ids sort by creation).
async fn create_jobs<F, Fut>(n: usize, f: F) -> Vec<JobId>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = JobId>,
{
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(f().await);
    }
    out
}

#[tokio::test]
async fn a_retry_is_queued_only_after_a_recorded_failure_and_never_for_a_finished_job() {
    let db = TestDb::new().await;
    let job = db.job(JobOptions::default()).await;
    let w = claimant("w");
    let base = Utc::now().trunc_subsecs(0);
    let ended = |row: &NewRun, status: RunStatus| Outcome {
        id: row.id,
        job_id: row.job_id,
        scheduled_at: row.scheduled_at,
        attempt: row.attempt,
        end: RunEnd {
            status,
            reason: None,
            started_at: Some(row.scheduled_at),
            finished_at: Utc::now(),
            exit_code: None,
            signal: None,
            output: Vec::new(),
        },
    };
    let store = db.store.clone();
    let retry_after = |at: DateTime<Utc>, after: RunStatus| {
        let store = store.clone();
        async move {
            store
                .queue_retry(&job, at, 2, after, Utc::now(), "w")
                .await
                .map(|queued| queued.is_some())
        }
    };
    let retry = |at: DateTime<Utc>| retry_after(at, RunStatus::Failed);
    let (ok, failed, late) = (
        tick(job, base, 1),
        tick(job, base + chrono::Duration::seconds(1), 1),
        tick(job, base + chrono::Duration::seconds(2), 1),
    );
    db.store
        .claim_runs(&[ok.clone(), failed.clone(), late.clone()], &w)
        .await
        .expect("claim");
    // Attempt 1 succeeded: a retry asked for on a stale view (say, an orphan sweep that
    // thought it interrupted) queues nothing.
    db.store
        .record_outcomes(&[ended(&ok, RunStatus::Succeeded)])
        .await
        .expect("record");
    assert!(!retry(ok.scheduled_at).await.expect("queue"));
    // A failed attempt 1 gets its retry.
    db.store
        .record_outcomes(&[ended(&failed, RunStatus::Failed)])
        .await
        .expect("record");
    // A retry asked for by a record that lost (an orphan sweep's "interrupted" for an attempt
    // that in fact failed, and whose job allows no retries) queues nothing.
    assert!(
        !retry_after(failed.scheduled_at, RunStatus::Interrupted)
            .await
            .expect("queue")
    );
    assert!(retry(failed.scheduled_at).await.expect("queue"));
    // Once the job is finished, no new retry is queued for it.
    db.store
        .apply_job_status(&[(job, distcron_store::JobStatusChange::Finished)])
        .await
        .expect("finish");
    db.store
        .record_outcomes(&[ended(&late, RunStatus::Failed)])
        .await
        .expect("record");
    assert!(!retry(late.scheduled_at).await.expect("queue"));
    let due = db.store.own_pending("w").await.expect("due");
    assert_eq!(
        due.iter().map(|r| r.scheduled_at).collect::<Vec<_>>(),
        vec![failed.scheduled_at]
    );
}

#[tokio::test]
async fn interrupting_a_one_shot_run_without_retry_finishes_its_job_in_the_same_stroke() {
    let db = TestDb::new().await;
    let job = db.job(JobOptions::default()).await;
    let at = Utc::now().trunc_subsecs(0);
    let row = tick(job, at, 1);
    db.store
        .claim_runs(std::slice::from_ref(&row), &claimant("w"))
        .await
        .expect("claim");
    let stale = |schedule: &str| distcron_store::StaleRun {
        id: row.id.to_string(),
        job_id: job.to_string(),
        scheduled_at: at,
        attempt: 1,
        worker_id: Some("w".into()),
        incarnation: None,
        retry_interrupted: false,
        schedule: schedule.into(),
    };
    assert!(
        db.store
            .interrupt_run(&stale("@once"), "worker w died", false, None)
            .await
            .expect("interrupt")
    );
    let job = db.store.get_job(&job).await.expect("get").expect("job");
    assert_eq!(job.status, JobStatus::Finished);
    // A recurring job stays on its schedule.
    let recurring = db.job(JobOptions::default()).await;
    let row = tick(recurring, at, 1);
    db.store
        .claim_runs(std::slice::from_ref(&row), &claimant("w"))
        .await
        .expect("claim");
    let run = distcron_store::StaleRun {
        id: row.id.to_string(),
        job_id: recurring.to_string(),
        ..stale("* * * * * *")
    };
    assert!(
        db.store
            .interrupt_run(&run, "worker w died", false, None)
            .await
            .expect("interrupt")
    );
    let recurring = db
        .store
        .get_job(&recurring)
        .await
        .expect("get")
        .expect("job");
    assert_eq!(recurring.status, JobStatus::Scheduled);
}
