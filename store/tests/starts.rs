//! The start of a run against a real MySQL: the share lock a worker takes on its jobs' rows
//! for the start holds a delete back until the processes are started, and a start check that
//! meets a job being changed waits for the change and reads its outcome. A start is recorded
//! only on a row still running without one.

mod common;

use chrono::{SubsecRound, Utc};
use common::{TestDb, claimant, tick};
use distcron_core::{JobOptions, JobStatus, RunStatus, UserName};
use distcron_core::{Outcome, RunEnd};
use std::time::Duration;

fn admin() -> UserName {
    UserName::parse("admin").expect("name")
}

#[tokio::test]
async fn a_delete_waits_until_the_start_check_is_released_and_the_next_check_sees_it() {
    let db = TestDb::new().await;
    let (a, b) = (
        db.job(JobOptions::default()).await,
        db.job(JobOptions::default()).await,
    );
    let check = db.store.check_for_start(&[a, b]).await.expect("check");
    assert!(check.may_start(&a) && check.may_start(&b));

    let store = db.store.clone();
    let delete = tokio::spawn(async move {
        let (_, tx) = store
            .begin_finish_job(&a, &admin())
            .await
            .expect("finish")
            .expect("job");
        tx.expect("was active").commit().await.expect("commit");
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !delete.is_finished(),
        "the delete went ahead while the starts were in progress"
    );
    check.release().await.expect("release");
    tokio::time::timeout(Duration::from_secs(5), delete)
        .await
        .expect("the delete goes ahead once the starts are done")
        .expect("join");

    let after = db.store.check_for_start(&[a, b]).await.expect("check");
    assert!(!after.may_start(&a));
    assert_eq!(after.status(&a), Some(JobStatus::Finished));
    assert!(after.may_start(&b));
    after.release().await.expect("release");
}

#[tokio::test]
async fn a_job_being_changed_is_reported_busy_at_once_and_a_waiting_check_reads_the_change() {
    let db = TestDb::new().await;
    let (a, b) = (
        db.job(JobOptions::default()).await,
        db.job(JobOptions::default()).await,
    );
    for commit in [false, true] {
        let (_, tx) = db
            .store
            .begin_finish_job(&a, &admin())
            .await
            .expect("finish")
            .expect("job");
        let tx = tx.expect("active");
        // The plain check does not wait: b is locked, a is reported busy, not decided.
        let check = tokio::time::timeout(Duration::from_secs(1), db.store.check_for_start(&[a, b]))
            .await
            .expect("the check does not wait for a row being changed")
            .expect("check");
        assert!(check.may_start(&b));
        assert_eq!(check.busy(), &[a]);
        assert!(
            !check.may_start(&a),
            "a busy job is not started on this check's word"
        );
        check.release().await.expect("release");
        // The waiting check waits for the change and reads what it left.
        let store = db.store.clone();
        let waiting = tokio::spawn(async move { store.check_for_start_waiting(&[a]).await });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!waiting.is_finished(), "the waiting check did not wait");
        if commit {
            tx.commit().await.expect("commit");
        } else {
            tx.rollback().await.expect("rollback");
        }
        let check = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("the check goes ahead once the change is done")
            .expect("join")
            .expect("check");
        assert!(check.busy().is_empty());
        assert_eq!(
            check.may_start(&a),
            !commit,
            "the check reads what the change left"
        );
        check.release().await.expect("release");
    }
}

#[tokio::test]
async fn a_start_is_written_only_on_a_running_row_that_has_none() {
    let db = TestDb::new().await;
    let job = db.job(JobOptions::default()).await;
    let base = Utc::now().trunc_subsecs(0);
    let at = |s: i64| base + chrono::Duration::seconds(s);
    let (running, other, ended) = (
        tick(job, at(0), 1),
        tick(job, at(2), 1),
        tick(job, at(1), 1),
    );
    db.store
        .claim_runs(
            &[running.clone(), ended.clone(), other.clone()],
            &claimant("w"),
        )
        .await
        .expect("claim");
    let t = |ms: i64| base + chrono::Duration::milliseconds(ms);
    db.store
        .record_outcomes(&[Outcome {
            id: ended.id,
            job_id: job,
            scheduled_at: ended.scheduled_at,
            attempt: 1,
            end: RunEnd {
                status: RunStatus::Succeeded,
                reason: None,
                started_at: Some(t(1002)),
                finished_at: t(1500),
                exit_code: Some(0),
                signal: None,
                output: Vec::new(),
            },
        }])
        .await
        .expect("record");
    db.store
        .mark_started(&[(running.id, t(3)), (ended.id, t(9999)), (other.id, t(2004))])
        .await
        .expect("starts");
    db.store
        .mark_started(&[(running.id, t(777))])
        .await
        .expect("a second start");
    let get = |id| {
        let store = db.store.clone();
        async move { store.get_run(&id).await.expect("get").expect("run").0 }
    };
    let r = get(running.id).await;
    assert_eq!((r.status, r.started_at), (RunStatus::Running, Some(t(3))));
    assert_eq!(
        get(other.id).await.started_at,
        Some(t(2004)),
        "each run its own start"
    );
    let e = get(ended.id).await;
    assert_eq!(
        (e.status, e.started_at),
        (RunStatus::Succeeded, Some(t(1002))),
        "the outcome's start stands"
    );
}

/// A failed attempt 1 of `at`, so that a retry can be queued for it.
async fn failed_tick(db: &TestDb, job: distcron_core::JobId, at: chrono::DateTime<Utc>) {
    let first = tick(job, at, 1);
    db.store
        .claim_runs(std::slice::from_ref(&first), &claimant("w"))
        .await
        .expect("claim");
    db.store
        .record_outcomes(&[Outcome {
            id: first.id,
            job_id: job,
            scheduled_at: at,
            attempt: 1,
            end: RunEnd::not_started(RunStatus::Failed, "exit code 1"),
        }])
        .await
        .expect("record");
}

#[tokio::test]
async fn a_retry_nobody_took_goes_to_another_worker_and_a_finished_jobs_retries_are_skipped() {
    let db = TestDb::new().await;
    let job = db.job(JobOptions::default()).await;
    let at = Utc::now().trunc_subsecs(0);
    failed_tick(&db, job, at).await;
    let due = Utc::now() - chrono::Duration::seconds(10);
    let retry = db
        .store
        .queue_retry(&job, at, 2, RunStatus::Failed, due, "w")
        .await
        .expect("queue")
        .expect("queued");
    assert_eq!(retry.worker_id.as_deref(), Some("w"));
    assert_eq!(
        db.store
            .queue_retry(&job, at, 2, RunStatus::Failed, Utc::now(), "v")
            .await
            .expect("queue"),
        Some(retry.clone()),
        "queued once: asking again gives the retry already queued"
    );
    // Another failed tick whose retry is not due yet is not overdue.
    let later = at + chrono::Duration::seconds(1);
    failed_tick(&db, job, later).await;
    db.store
        .queue_retry(&job, later, 2, RunStatus::Failed, Utc::now(), "w")
        .await
        .expect("queue")
        .expect("queued");
    let overdue = db
        .store
        .overdue_retries(Duration::from_secs(5))
        .await
        .expect("overdue");
    assert_eq!(overdue.len(), 1, "{overdue:?}");
    assert_eq!(overdue[0].id, retry.id);
    db.store.point_retry(&retry.id, "v").await.expect("point");
    assert_eq!(db.store.own_pending("w").await.expect("w").len(), 1);
    assert_eq!(db.store.own_pending("v").await.expect("v").len(), 1);
    // Once the job is finished no retry is queued for it, and those pending are skipped.
    db.store
        .apply_job_status(&[(job, distcron_store::JobStatusChange::Finished)])
        .await
        .expect("finish");
    let third = at + chrono::Duration::seconds(2);
    failed_tick(&db, job, third).await;
    assert_eq!(
        db.store
            .queue_retry(&job, third, 2, RunStatus::Failed, Utc::now(), "w")
            .await
            .expect("queue"),
        None
    );
    assert_eq!(
        db.store
            .skip_retries_of_finished_jobs()
            .await
            .expect("skip"),
        2
    );
    assert!(db.store.own_pending("v").await.expect("v").is_empty());
}
