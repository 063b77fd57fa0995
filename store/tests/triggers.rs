//! Runs asked for now (and pauses) against a real MySQL: a manual run is one pending row per
//! idempotency key, for the named worker; it never moves the job's tick cursor; its retry
//! stays manual; a paused or finished job takes none.

mod common;

use chrono::{SubsecRound, Utc};
use common::{TestDb, claimant, tick};
use distcron_core::{JobOptions, RunStatus, UserName};
use distcron_store::{Pause, PauseOutcome, StoreError, Trigger, Triggered};

fn admin() -> UserName {
    UserName::parse("admin").expect("name")
}

#[tokio::test]
async fn a_manual_run_is_queued_once_per_key_and_never_counts_as_a_tick() {
    let db = TestDb::new().await;
    let job = db.job(JobOptions::default()).await;
    let w = claimant("w");
    let t0 = Utc::now().trunc_subsecs(0);
    db.store
        .claim_runs(&[tick(job, t0, 1)], &w)
        .await
        .expect("claim");
    let trigger = |key: Option<&'static str>| Trigger {
        job: &job,
        actor: "alice",
        idempotency_key: key,
        worker: Some("w"),
    };
    let Triggered::Queued(first) = db
        .store
        .trigger_run(&trigger(Some("k1")))
        .await
        .expect("trigger")
    else {
        panic!("not queued");
    };
    assert_eq!(first.status, RunStatus::Pending);
    assert_eq!(first.triggered_by.as_deref(), Some("alice"));
    assert_eq!(first.worker_id.as_deref(), Some("w"));
    assert_ne!(
        first.scheduled_at.timestamp_subsec_micros() % 1000,
        0,
        "never a tick's key"
    );
    match db
        .store
        .trigger_run(&trigger(Some("k1")))
        .await
        .expect("again")
    {
        Triggered::Replayed(run) => assert_eq!(run.id, first.id),
        other => panic!("the same key queued another run: {other:?}"),
    }
    let Triggered::Queued(second) = db.store.trigger_run(&trigger(None)).await.expect("no key")
    else {
        panic!("not queued");
    };
    assert_ne!(second.id, first.id);

    // The worker's view: both pending for it, manual; the cursor is the scheduled tick still.
    let pending = db.store.own_pending("w").await.expect("pending");
    assert_eq!(pending.len(), 2);
    assert!(
        pending
            .iter()
            .all(|p| p.triggered_by.as_deref() == Some("alice"))
    );
    let last = db.store.last_accounted(&[job]).await.expect("last");
    assert_eq!(last.get(&job), Some(&t0), "a manual run is not a tick");

    // Paused, then finished: no more manual runs, and the pause skipped the waiting ones.
    let PauseOutcome::Changed(_, tx) = db
        .store
        .begin_pause(&job, Pause::Pause, &admin())
        .await
        .expect("pause")
    else {
        panic!("not paused");
    };
    tx.commit().await.expect("commit");
    assert!(db.store.own_pending("w").await.expect("pending").is_empty());
    match db.store.trigger_run(&trigger(None)).await {
        Err(StoreError::Conflict(m)) => assert!(m.contains("paused"), "{m}"),
        other => panic!("a paused job took a manual run: {other:?}"),
    }
    let (run, _) = db
        .store
        .get_run(&first.id)
        .await
        .expect("get")
        .expect("run");
    assert_eq!(run.status, RunStatus::Skipped);
    assert_eq!(
        run.reason.as_deref(),
        Some(distcron_core::run::skip::PAUSED)
    );
    let pauses = db.store.pauses(&job).await.expect("pauses");
    assert_eq!(pauses.len(), 1);
    assert_eq!(pauses[0].resumed_at, None);
    match db
        .store
        .begin_pause(&job, Pause::Pause, &admin())
        .await
        .expect("again")
    {
        PauseOutcome::Unchanged(_) => {}
        _ => panic!("a second pause changed something"),
    }
    let PauseOutcome::Changed(resumed, tx) = db
        .store
        .begin_pause(&job, Pause::Resume, &admin())
        .await
        .expect("resume")
    else {
        panic!("not resumed");
    };
    tx.commit().await.expect("commit");
    assert!(resumed.resumed_at.is_some());
    let pauses = db.store.pauses(&job).await.expect("pauses");
    assert_eq!(pauses[0].resumed_at, resumed.resumed_at);
    let job_now = db.store.get_job(&job).await.expect("get").expect("job");
    assert_eq!(job_now.resumed_at, resumed.resumed_at);
}
