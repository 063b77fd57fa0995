//! Live output through the whole path: the worker writes what a run prints to MySQL while it
//! runs, and `GET /runs/{id}/log?follow=true` (through HAProxy) streams it as Server-Sent
//! Events, each line within a second of its printing, ending with the run's outcome; the
//! output of a run whose worker died is still there.

use distcron_e2e::follow::Followed;
use distcron_e2e::{ApiClient, ClusterOptions, TestCluster, epoch_now};
use serde_json::{Value, json};
use std::time::Duration;

/// Creates a job that never fires by itself and runs it now; returns the run's id.
async fn run_now(client: &ApiClient, body: Value) -> String {
    let job = client.create_job(&body).await;
    let id = job["id"].as_str().expect("job id");
    let run = client
        .post(&format!("/jobs/{id}/trigger"), &json!({}))
        .await;
    assert_eq!(run.status, 202, "{}", run.body);
    run.body["id"].as_str().expect("run id").to_string()
}

fn outputs(events: &[Followed]) -> Vec<&Followed> {
    events.iter().filter(|e| e.event == "output").collect()
}

fn text_of(events: &[&Followed], stream: &str) -> String {
    events
        .iter()
        .filter(|e| e.data["stream"] == stream)
        .map(|e| e.data["text"].as_str().expect("text"))
        .collect()
}

/// Each event is one the OpenAPI document describes, as schemathesis checks it.
fn assert_described(doc: &Value, events: &[Followed]) {
    let problems = distcron_e2e::follow::undescribed(doc, events);
    assert!(
        problems.is_empty(),
        "events the document does not describe: {problems:#?}"
    );
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::test]
async fn a_follower_sees_each_line_within_a_second_then_the_outcome() {
    let cluster = TestCluster::start().await;
    let alice = cluster.user("alice", false).await;
    let bob = cluster.user("bob", false).await;
    // Twelve lines, each its own printing time, a third of a second apart; one line on stderr.
    let printer = "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do date +%s.%N; sleep 0.33; done; \
                   echo 'done é' >&2; exit 3";
    let run = run_now(
        &alice,
        json!({"type": "command", "schedule": "0 0 1 1 *", "executable": printer}),
    )
    .await;
    let path = format!("/runs/{run}/log?follow=true");

    let refused = bob.follow(&path, &[]).await.err().expect("a 404");
    assert_eq!(
        refused.status, 404,
        "another user's run: {:?}",
        refused.body
    );
    let refused = bob.get(&format!("/runs/{run}/log")).await;
    assert_eq!(refused.status, 404, "{}", refused.body);

    let mut follower = alice.follow(&path, &[]).await.expect("a stream");
    let events = follower.all(Duration::from_secs(30)).await;
    let doc = alice.get("/openapi.json").await.body;
    assert_described(&doc, &events);
    let end = events.last().expect("events");
    assert_eq!(
        end.event, "end",
        "the stream ends with the outcome: {events:?}"
    );
    assert_eq!(end.data["status"], "failed", "{:?}", end.data);
    assert_eq!(end.data["exit_code"], 3, "{:?}", end.data);
    let output = outputs(&events);

    // Each line's lag: from its printing to its arrival at the follower.
    let mut lags = Vec::new();
    for e in output.iter().filter(|e| e.data["stream"] == "stdout") {
        for line in e.data["text"].as_str().expect("text").lines() {
            let printed: f64 = line.parse().unwrap_or_else(|_| panic!("a time: {line:?}"));
            lags.push(e.at - printed);
        }
    }
    assert_eq!(lags.len(), 12, "every line once: {output:?}");
    lags.sort_by(f64::total_cmp);
    eprintln!(
        "live output: a line printed -> seen by a follower: p50 {:.0} ms, max {:.0} ms ({} lines)",
        percentile(&lags, 0.5) * 1e3,
        percentile(&lags, 1.0) * 1e3,
        lags.len()
    );
    // Within a second (250 ms of shipping and 200 ms of polling, nominally); the bound on
    // the slowest leaves room for a loaded machine.
    assert!(
        percentile(&lags, 0.9) <= 1.0 && percentile(&lags, 1.0) <= 2.0,
        "lines reach the follower within a second: {lags:?}"
    );
    assert_eq!(text_of(&output, "stderr"), "done é\n");

    // The same chunks, read afterwards; with the same ids, a follower that reconnects with
    // Last-Event-ID gets only what came after.
    let page = alice.get(&format!("/runs/{run}/log")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.body["complete"], true, "{}", page.body);
    let seqs: Vec<u64> = page.body["chunks"]
        .as_array()
        .expect("chunks")
        .iter()
        .map(|c| c["seq"].as_u64().expect("seq"))
        .collect();
    let ids: Vec<u64> = output.iter().map(|e| e.id.parse().expect("id")).collect();
    assert_eq!(seqs, ids, "{}", page.body);
    let whole = alice.get(&format!("/runs/{run}")).await.body;
    assert_eq!(whole["output"]["stdout"], text_of(&output, "stdout"));
    let resume_after = ids[ids.len() / 2].to_string();
    let mut resumed = alice
        .follow(&path, &[("Last-Event-ID", &resume_after)])
        .await
        .expect("a stream");
    let rest = resumed.all(Duration::from_secs(10)).await;
    let rest_ids: Vec<u64> = outputs(&rest)
        .iter()
        .map(|e| e.id.parse().expect("id"))
        .collect();
    assert_eq!(rest_ids, ids[ids.len() / 2 + 1..], "{rest:?}");
    assert_eq!(rest.last().map(|e| e.event.as_str()), Some("end"));

    // Beyond the per-run cap: the follower is told where the output stops, and so is the run.
    let flood = run_now(
        &alice,
        json!({"type": "command", "schedule": "0 0 1 1 *", "executable": "head -c 300000 /dev/zero | tr '\\0' x"}),
    )
    .await;
    let mut follower = alice
        .follow(&format!("/runs/{flood}/log?follow=true"), &[])
        .await
        .expect("a stream");
    let events = follower.all(Duration::from_secs(30)).await;
    assert_described(&doc, &events);
    let output = outputs(&events);
    assert_eq!(
        text_of(&output, "stdout").len(),
        64 * 1024,
        "the default cap"
    );
    assert_eq!(
        output.last().map(|e| e.data["truncated"].clone()),
        Some(json!(true))
    );
    let whole = alice.get(&format!("/runs/{flood}")).await.body;
    assert_eq!(whole["output"]["stdout_truncated"], true, "{whole}");

    // A follower whose user is disabled is cut off, though the run goes on.
    let carol = cluster.user("carol", true).await;
    let long = run_now(
        &alice,
        json!({"type": "command", "schedule": "0 0 1 1 *", "executable": "echo started; sleep 60"}),
    )
    .await;
    let mut follower = carol
        .follow(&format!("/runs/{long}/log?follow=true"), &[])
        .await
        .expect("a stream");
    let first = follower
        .next(Duration::from_secs(20))
        .await
        .expect("an event");
    assert_eq!(first.event, "output", "{first:?}");
    let disabled = cluster.admin().delete("/users/carol").await;
    assert_eq!(disabled.status, 200, "{}", disabled.body);
    let cut = follower
        .next(Duration::from_secs(10))
        .await
        .expect("an event");
    assert_eq!(
        (cut.event.as_str(), &cut.data["code"]),
        ("error", &json!("unauthorized")),
        "{cut:?}"
    );
    assert_described(&doc, &[first, cut]);
    assert!(
        follower.next(Duration::from_secs(2)).await.is_none(),
        "the stream ends"
    );
    let run = alice.get(&format!("/runs/{long}")).await.body;
    assert_eq!(run["status"], "running", "{run}");
    // Reconnecting after the end: 204, so an EventSource stops.
    let ended = alice
        .follow(
            &format!("/runs/{run_id}/log?follow=true", run_id = flood),
            &[("Last-Event-ID", "100000")],
        )
        .await
        .err()
        .expect("no stream");
    assert_eq!(ended.status, 204);
}

#[tokio::test]
async fn what_a_run_printed_before_its_worker_died_is_kept() {
    let mut cluster = TestCluster::start_with(ClusterOptions {
        workers: 1,
        ..Default::default()
    })
    .await;
    let alice = cluster.user("alice", false).await;
    let run = run_now(
        &alice,
        json!({"type": "command", "schedule": "0 0 1 1 *", "retry_interrupted": false,
               "executable": "echo before the crash; sleep 120"}),
    )
    .await;
    let mut follower = alice
        .follow(&format!("/runs/{run}/log?follow=true"), &[])
        .await
        .expect("a stream");
    let first = follower
        .next(Duration::from_secs(20))
        .await
        .expect("an event");
    assert_eq!(first.event, "output", "{first:?}");
    assert_eq!(first.data["text"], "before the crash\n");

    cluster.kill("worker-1");
    let killed = epoch_now();
    // The run is declared interrupted once its lease is stale and the worker's session gone;
    // the follower hears of it.
    let end = follower
        .next(Duration::from_secs(40))
        .await
        .expect("the end");
    assert_eq!(end.event, "end", "{end:?}");
    assert_eq!(end.data["status"], "interrupted", "{:?}", end.data);
    eprintln!("interrupted {:.1} s after the kill", end.at - killed);
    let whole = alice.get(&format!("/runs/{run}")).await.body;
    assert_eq!(whole["output"]["stdout"], "before the crash\n", "{whole}");
}
