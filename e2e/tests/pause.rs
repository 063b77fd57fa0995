//! Pause and resume through the whole path: API → leader (the job's row, its pause interval,
//! the task withdrawn from and published to ZooKeeper) → the workers, which stop claiming its
//! ticks and, on resume, count them from the resume, so nothing of the pause is caught up.

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use distcron_e2e::checks::{assert_no_duplicates, each_runs_after, every_second, id_of, rows_of};
use distcron_e2e::{ClusterOptions, TestCluster, epoch_now, eventually};
use serde_json::{Value, json};
use std::time::Duration;

fn time_of(v: &Value) -> DateTime<Utc> {
    v.as_str().expect("a time").parse().expect("RFC 3339")
}

async fn listed(client: &distcron_e2e::ApiClient, status: &str) -> Vec<String> {
    let page = client.get(&format!("/jobs?status={status}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    page.body
        .as_array()
        .expect("a list")
        .iter()
        .map(id_of)
        .collect()
}

#[tokio::test]
async fn a_paused_job_runs_no_tick_until_resumed_and_catches_none_of_the_pause_up() {
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 2,
        ..Default::default()
    })
    .await;
    let alice = cluster.user("alice", false).await;
    let bob = cluster.user("bob", false).await;
    let witness = cluster.witness("pause");
    // `run_once`, the default misfire policy: a worker that counted the pause's ticks as
    // missed would run one of them on resume, which this test would see.
    let job = alice.create_job(&every_second(&witness, "pause")).await;
    let id = id_of(&job);
    each_runs_after(
        &witness,
        std::slice::from_ref(&id),
        0.0,
        "a first run",
        Duration::from_secs(20),
    )
    .await;

    for verb in ["pause", "resume"] {
        let refused = bob.post(&format!("/jobs/{id}/{verb}"), &json!({})).await;
        assert_eq!(
            refused.status, 404,
            "{verb} by another user: {}",
            refused.body
        );
    }
    let paused = alice.post(&format!("/jobs/{id}/pause"), &json!({})).await;
    assert_eq!(paused.status, 200, "{}", paused.body);
    assert_eq!(paused.body["status"], "paused", "{}", paused.body);
    assert_eq!(paused.body["next_run_at"], Value::Null, "{}", paused.body);
    let paused_at = time_of(&paused.body["paused_at"]);
    let again = alice.post(&format!("/jobs/{id}/pause"), &json!({})).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(
        again.body["paused_at"], paused.body["paused_at"],
        "pausing again changes nothing"
    );
    assert_eq!(listed(&alice, "paused").await, vec![id.clone()]);
    assert!(listed(&alice, "scheduled").await.is_empty());

    // The pause lasts a few ticks: none of them may run.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let before_resume = witness.entries().len();
    let resumed = alice.post(&format!("/jobs/{id}/resume"), &json!({})).await;
    assert_eq!(resumed.status, 200, "{}", resumed.body);
    assert_eq!(resumed.body["status"], "scheduled", "{}", resumed.body);
    assert!(resumed.body["next_run_at"].is_string(), "{}", resumed.body);
    let resumed_at = time_of(&resumed.body["resumed_at"]);
    assert!(resumed_at - paused_at >= ChronoDuration::seconds(4));
    let asked = epoch_now();
    each_runs_after(
        &witness,
        std::slice::from_ref(&id),
        asked,
        "a run after the resume",
        Duration::from_secs(20),
    )
    .await;
    let running_again = witness.entries().len();
    eventually("a few more runs", Duration::from_secs(20), || {
        let n = witness.entries().len();
        async move { (n >= running_again + 2).then_some(()) }
    })
    .await;
    alice.delete(&format!("/jobs/{id}")).await;

    let entries = witness.entries();
    assert_no_duplicates(&entries);
    assert!(before_resume > 0);
    for e in &entries {
        assert!(
            e.scheduled_at <= paused_at || e.scheduled_at > resumed_at,
            "a tick of the pause ran: {e:?} (paused {paused_at} .. resumed {resumed_at})"
        );
    }
    // Every second outside the pause has its row; inside it, only a tick claimed just before
    // the pause (claims lead their tick by half a second) has one, skipped because of it.
    let rows = rows_of(&cluster, &id).await;
    let first = rows.keys().next().expect("rows").0;
    let last = entries.iter().map(|e| e.scheduled_at).max().expect("runs");
    let mut in_pause = Vec::new();
    let mut t = first;
    while t <= last {
        match rows.get(&(t, 1)) {
            Some(r) if t > paused_at && t <= resumed_at => in_pause.push((t, r.clone())),
            Some(r) => assert!(
                ["succeeded", "running"].contains(&r.status.as_str()),
                "{t}: {r:?}"
            ),
            None if t > paused_at && t <= resumed_at => {}
            None => panic!("{t}: no row, outside the pause"),
        }
        t += ChronoDuration::seconds(1);
    }
    // Claims lead their tick by half a second, and the withdrawal takes a moment to reach the
    // worker: under load two ticks may be claimed just before it, and both are skipped.
    assert!(in_pause.len() <= 2, "rows in the pause: {in_pause:?}");
    for (t, r) in &in_pause {
        assert_eq!(r.status, "skipped", "{t}: {r:?}");
        assert_eq!(r.reason.as_deref(), Some("the job is paused"), "{t}: {r:?}");
    }

    let db = cluster.db().await;
    type PauseRow = (DateTime<Utc>, String, Option<DateTime<Utc>>, Option<String>);
    let pauses: Vec<PauseRow> = sqlx::query_as(
        "SELECT paused_at, paused_by, resumed_at, resumed_by FROM job_pauses WHERE job_id = ?",
    )
    .bind(&id)
    .fetch_all(&db)
    .await
    .expect("pauses");
    assert_eq!(
        pauses.len(),
        1,
        "one interval for the whole pause: {pauses:?}"
    );
    assert_eq!(pauses[0].1, "alice");
    assert_eq!(pauses[0].3.as_deref(), Some("alice"));
    let audit: Vec<(String, String)> = sqlx::query_as(
        "SELECT action, actor FROM audit_log WHERE object_type = 'job' AND object_id = ? \
         AND action IN ('job.pause', 'job.resume') ORDER BY id",
    )
    .bind(&id)
    .fetch_all(&db)
    .await
    .expect("audit");
    assert_eq!(
        audit,
        vec![
            ("job.pause".to_string(), "alice".to_string()),
            ("job.resume".to_string(), "alice".to_string())
        ]
    );

    // A finished job can be neither paused nor resumed; a one-shot job cannot be paused.
    for verb in ["pause", "resume"] {
        let finished = alice.post(&format!("/jobs/{id}/{verb}"), &json!({})).await;
        assert_eq!(finished.status, 409, "{}", finished.body);
        assert!(finished.error().contains("finished"), "{}", finished.body);
    }
    let once = alice
        .create_job(&json!({"type": "command", "schedule": "@once", "executable": "true"}))
        .await;
    let refused = alice
        .post(&format!("/jobs/{}/pause", id_of(&once)), &json!({}))
        .await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(refused.error().contains("runs once"), "{}", refused.body);
}
