//! Run now through the whole path: API → leader (a pending run for the job's owner worker, the
//! worker nudged) → the worker, which claims it, applies the job's concurrency policy and runs
//! it, recorded `manual` with who asked. The schedule's own ticks are not disturbed.

use chrono::{DateTime, Utc};
use distcron_e2e::checks::{
    assert_every_second_accounted, assert_no_duplicates, every_second, id_of, settled_rows,
    stop_jobs,
};
use distcron_e2e::{ApiClient, TestCluster, epoch_now, eventually};
use serde_json::{Value, json};
use std::time::Duration;

async fn trigger(client: &ApiClient, job: &str, key: Option<&str>) -> (u16, Value) {
    let headers: Vec<(&str, &str)> = key.map(|k| ("Idempotency-Key", k)).into_iter().collect();
    let answer = client
        .post_with(&format!("/jobs/{job}/trigger"), &json!({}), &headers)
        .await;
    (answer.status.as_u16(), answer.body)
}

async fn run_until_ended(client: &ApiClient, run: &str, timeout: Duration) -> Value {
    eventually("the run to end", timeout, || {
        let client = client.clone();
        let path = format!("/runs/{run}");
        async move {
            let r = client.get(&path).await.body;
            let status = r["status"].as_str().unwrap_or("").to_string();
            (!["pending", "claimed", "running", ""].contains(&status.as_str())).then_some(r)
        }
    })
    .await
}

#[tokio::test]
async fn a_run_asked_for_now_runs_once_per_key_on_the_owner_and_leaves_the_ticks_alone() {
    let cluster = TestCluster::start().await;
    let alice = cluster.user("alice", false).await;
    let bob = cluster.user("bob", false).await;
    let witness = cluster.witness("trigger");
    let job = alice.create_job(&every_second(&witness, "now")).await;
    let id = id_of(&job);
    eventually("a scheduled run", Duration::from_secs(20), || {
        let n = witness.entries().len();
        async move { (n >= 2).then_some(()) }
    })
    .await;

    let (refused, body) = trigger(&bob, &id, None).await;
    assert_eq!(refused, 404, "another user's job: {body}");
    let (bad, body) = trigger(&alice, &id, Some(&"k".repeat(300))).await;
    assert_eq!(bad, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or("")
            .contains("Idempotency-Key"),
        "{body}"
    );

    let asked = epoch_now();
    let (status, run) = trigger(&alice, &id, Some("first-click")).await;
    assert_eq!(status, 202, "{run}");
    assert_eq!(run["trigger"], "manual", "{run}");
    assert_eq!(run["triggered_by"], "alice", "{run}");
    let run_id = run["id"].as_str().expect("run id").to_string();
    let (again, replay) = trigger(&alice, &id, Some("first-click")).await;
    assert_eq!(again, 202, "{replay}");
    assert_eq!(replay["id"], run["id"], "the same key gives the same run");
    let ended = run_until_ended(&alice, &run_id, Duration::from_secs(15)).await;
    assert_eq!(ended["status"], "succeeded", "{ended}");
    let scheduled_at: DateTime<Utc> = ended["scheduled_at"]
        .as_str()
        .expect("time")
        .parse()
        .expect("time");
    let manual: Vec<_> = witness
        .entries()
        .into_iter()
        .filter(|e| e.scheduled_at.timestamp_subsec_nanos() != 0)
        .collect();
    assert_eq!(manual.len(), 1, "one manual run: {manual:?}");
    let took = manual[0].started - asked;
    println!(
        "trigger: request to the process's start in {:.0} ms",
        took * 1000.0
    );
    assert!(
        took < 3.0,
        "the manual run started {took:.3} s after it was asked for"
    );
    assert_eq!(
        manual[0].scheduled_at.timestamp_millis(),
        scheduled_at.timestamp_millis()
    );

    // The schedule went on around it: every second from the first run to the last is
    // accounted for, none twice.
    eventually("two more scheduled runs", Duration::from_secs(20), || {
        let n = witness.entries().len();
        let before = manual.len();
        async move { (n >= before + 4).then_some(()) }
    })
    .await;
    stop_jobs(&cluster, std::slice::from_ref(&id), &witness).await;
    let rows = settled_rows(&cluster, &id).await;
    let entries = witness.entries();
    assert_no_duplicates(&entries);
    let ticks: Vec<_> = entries
        .iter()
        .filter(|e| e.scheduled_at.timestamp_subsec_nanos() == 0)
        .cloned()
        .collect();
    assert_every_second_accounted(&id, &ticks, &rows);

    let db = cluster.db().await;
    let audit: Vec<(String, String)> = sqlx::query_as(
        "SELECT action, actor FROM audit_log WHERE object_id = ? AND action = 'job.trigger'",
    )
    .bind(&id)
    .fetch_all(&db)
    .await
    .expect("audit");
    assert_eq!(
        audit,
        vec![("job.trigger".to_string(), "alice".to_string())]
    );
    let (finished, body) = trigger(&alice, &id, None).await;
    assert_eq!(finished, 409, "a finished job: {body}");
}

#[tokio::test]
async fn a_run_asked_for_now_obeys_forbid_and_a_paused_job_takes_none() {
    let cluster = TestCluster::start().await;
    let alice = cluster.user("alice", false).await;
    let witness = cluster.witness("forbid");
    // Its schedule never fires during the test: every run is a manual one.
    let job = alice
        .create_job(&json!({
            "type": "command", "schedule": "0 0 1 1 *", "concurrency": "forbid",
            "executable": format!("{}; sleep 600", witness.command("forbid")),
        }))
        .await;
    let id = id_of(&job);
    let (status, first) = trigger(&alice, &id, None).await;
    assert_eq!(status, 202, "{first}");
    eventually(
        "the first manual run to start",
        Duration::from_secs(15),
        || {
            let n = witness.entries().len();
            async move { (n == 1).then_some(()) }
        },
    )
    .await;
    let (status, second) = trigger(&alice, &id, None).await;
    assert_eq!(status, 202, "{second}");
    let skipped = run_until_ended(
        &alice,
        second["id"].as_str().expect("id"),
        Duration::from_secs(15),
    )
    .await;
    assert_eq!(skipped["status"], "skipped", "{skipped}");
    assert_eq!(
        skipped["reason"],
        distcron_core::run::skip::OVERLAP,
        "{skipped}"
    );
    assert_eq!(witness.entries().len(), 1, "the second never started");
    let killed = alice.post(&format!("/jobs/{id}/kill"), &json!({})).await;
    assert_eq!(killed.status, 202, "{}", killed.body);

    let paused = alice.post(&format!("/jobs/{id}/pause"), &json!({})).await;
    assert_eq!(paused.status, 200, "{}", paused.body);
    let (refused, body) = trigger(&alice, &id, None).await;
    assert_eq!(refused, 409, "{body}");
    assert!(
        body["error"].as_str().unwrap_or("").contains("paused"),
        "{body}"
    );
    alice.delete(&format!("/jobs/{id}")).await;

    // A one-shot job's run ends it: it takes no run now.
    let once = alice
        .create_job(&json!({"type": "command", "schedule": "@once", "executable": "sleep 30"}))
        .await;
    let (refused, body) = trigger(&alice, &id_of(&once), None).await;
    assert_eq!(refused, 409, "{body}");
    assert!(
        body["error"].as_str().unwrap_or("").contains("runs once"),
        "{body}"
    );
    alice.delete(&format!("/jobs/{}", id_of(&once))).await;
}
