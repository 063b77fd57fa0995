//! The start of a run against a real MySQL: the share lock a worker takes on its jobs' rows
//! for the start holds a delete back until the processes are started, and a start check that
//! meets a job being changed waits for the change and reads its outcome. A start is recorded
//! only on a row still running without one.

mod common;

use chrono::{SubsecRound, Utc};
use common::{TestDb, claimant, tick};
use distcron_core::{JobOptions, JobStatus, RunStatus, UserName};
use distcron_store::{Outcome, RunEnd};
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
async fn a_start_check_meeting_a_job_being_changed_waits_for_it_and_reads_the_change() {
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
        let store = db.store.clone();
        let check = tokio::spawn(async move { store.check_for_start(&[a, b]).await });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !check.is_finished(),
            "the check did not wait for the change"
        );
        if commit {
            tx.commit().await.expect("commit");
        } else {
            tx.rollback().await.expect("rollback");
        }
        let check = tokio::time::timeout(Duration::from_secs(5), check)
            .await
            .expect("the check goes ahead once the change is done")
            .expect("join")
            .expect("check");
        assert!(check.may_start(&b), "the other job is not held up");
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
    let (running, ended) = (
        tick(job, base, 1),
        tick(job, base + chrono::Duration::seconds(1), 1),
    );
    let w = claimant("w");
    db.store
        .claim_runs(&[running.clone(), ended.clone()], &w)
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
                output: None,
            },
        }])
        .await
        .expect("record");
    db.store
        .mark_started(&[(running.id, t(3)), (ended.id, t(9999))])
        .await
        .expect("starts");
    db.store
        .mark_started(&[(running.id, t(777))])
        .await
        .expect("a second start");
    let (r, _) = db
        .store
        .get_run(&running.id)
        .await
        .expect("get")
        .expect("run");
    assert_eq!((r.status, r.started_at), (RunStatus::Running, Some(t(3))));
    let (e, _) = db
        .store
        .get_run(&ended.id)
        .await
        .expect("get")
        .expect("run");
    assert_eq!(
        (e.status, e.started_at),
        (RunStatus::Succeeded, Some(t(1002))),
        "the outcome's start stands"
    );
}

#[tokio::test]
async fn a_retry_nobody_took_can_be_pointed_at_another_worker() {
    let db = TestDb::new().await;
    let job = db.job(JobOptions::default()).await;
    let at = Utc::now().trunc_subsecs(0);
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
    let due = Utc::now() - chrono::Duration::seconds(10);
    let retry = db
        .store
        .queue_retry(&job, at, 2, due, "w")
        .await
        .expect("queue")
        .expect("queued");
    assert_eq!(retry.worker_id.as_deref(), Some("w"));
    assert_eq!(
        db.store
            .queue_retry(&job, at, 2, Utc::now(), "v")
            .await
            .expect("queue"),
        Some(retry.clone()),
        "queued once: asking again gives the retry already queued"
    );
    let overdue = db
        .store
        .overdue_retries(Duration::from_secs(5))
        .await
        .expect("overdue");
    assert_eq!(overdue.len(), 1);
    assert_eq!(overdue[0].id, retry.id);
    db.store.point_retry(&retry.id, "v").await.expect("point");
    assert!(db.store.own_pending("w").await.expect("w").is_empty());
    assert_eq!(db.store.own_pending("v").await.expect("v").len(), 1);
}
