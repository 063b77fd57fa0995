//! The tick view through a pause and a worker's kill -9: every second of the window is there
//! once, with what became of it — the run and its outcome, skipped with the reason, paused, or
//! missed and caught up — and once the cluster has recovered, none is unaccounted. Its account
//! agrees with the witness file, which the runs themselves wrote.

use chrono::{DateTime, Duration as ChronoDuration, SecondsFormat, Utc};
use distcron_e2e::checks::{each_runs_after, every_second, id_of, settled_rows, stop_jobs};
use distcron_e2e::{ClusterOptions, TestCluster, epoch_now};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

fn time_of(v: &Value) -> DateTime<Utc> {
    v.as_str().expect("a time").parse().expect("RFC 3339")
}

fn param(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

#[tokio::test]
async fn every_tick_of_a_window_is_accounted_for_through_a_pause_and_a_worker_kill() {
    // Long enough that the dead worker's session is still there 3.5 s after the kill.
    let session = Duration::from_secs(6);
    let mut cluster = TestCluster::start_with(ClusterOptions {
        workers: 1,
        session_timeout_ms: session.as_millis() as u64,
        ..Default::default()
    })
    .await;
    let alice = cluster.user("alice", false).await;
    let bob = cluster.user("bob", false).await;
    let witness = cluster.witness("ticks");
    let job = alice.create_job(&every_second(&witness, "tick")).await;
    let id = id_of(&job);
    let created = time_of(&job["created_at"]);
    each_runs_after(
        &witness,
        std::slice::from_ref(&id),
        0.0,
        "a first run",
        Duration::from_secs(20),
    )
    .await;
    cluster.add_worker(2);
    cluster.wait_healthy("worker-2").await;

    // A pause of about three seconds.
    let paused = alice.post(&format!("/jobs/{id}/pause"), &json!({})).await;
    assert_eq!(paused.status, 200, "{}", paused.body);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let resumed = alice.post(&format!("/jobs/{id}/resume"), &json!({})).await;
    assert_eq!(resumed.status, 200, "{}", resumed.body);
    let (paused_at, resumed_at) = (
        time_of(&paused.body["paused_at"]),
        time_of(&resumed.body["resumed_at"]),
    );
    let resumed_epoch = epoch_now();
    each_runs_after(
        &witness,
        std::slice::from_ref(&id),
        resumed_epoch,
        "a run after the resume",
        Duration::from_secs(15),
    )
    .await;

    // The job's worker dies; its ticks wait, unaccounted, until the other adopts the job.
    let owner = witness.entries().last().expect("runs").worker.clone();
    cluster.kill(&owner);
    let killed = epoch_now();
    let killed_at = Utc::now();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let during = alice
        .get(&format!("/jobs/{id}/ticks?from={}", param(killed_at)))
        .await;
    assert_eq!(during.status, 200, "{}", during.body);
    println!("ticks while the worker is dead: {}", during.body["ticks"]);
    // The second tick after the kill is due, and nobody could have recorded it.
    let unaccounted = during.body["ticks"]
        .as_array()
        .expect("ticks")
        .iter()
        .filter(|t| t["state"] == "unaccounted")
        .count();
    assert!(
        unaccounted >= 1,
        "while the job's worker is dead: {}",
        during.body
    );
    each_runs_after(
        &witness,
        std::slice::from_ref(&id),
        killed + 1.0,
        "a run on the other worker",
        Duration::from_secs(30),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop_jobs(&cluster, std::slice::from_ref(&id), &witness).await;
    settled_rows(&cluster, &id).await;
    let finished_at = epoch_now();

    // The whole life, in pages of 2 (the Link header; each page reads at most 24 runs, so most are cut short by the store), each second once.
    let mut ticks: Vec<Value> = Vec::new();
    let mut path = format!("/jobs/{id}/ticks?from={}&limit=2", param(created));
    loop {
        let page = alice.get(&path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        assert_eq!(
            page.body["history_from"], job["created_at"],
            "{}",
            page.body
        );
        ticks.extend(
            page.body["ticks"]
                .as_array()
                .expect("ticks")
                .iter()
                .cloned(),
        );
        let Some(link) = page.headers.get("link").and_then(|v| v.to_str().ok()) else {
            break;
        };
        path = link
            .trim_start_matches('<')
            .split('>')
            .next()
            .expect("link")
            .to_string();
    }
    let by_second: BTreeMap<DateTime<Utc>, &Value> = ticks
        .iter()
        .map(|t| (time_of(&t["scheduled_at"]), t))
        .collect();
    assert_eq!(by_second.len(), ticks.len(), "a tick listed twice");
    // Lines of the witness per second, and per (second, attempt): an attempt cut short by the
    // kill may have written its line before its retry wrote another.
    let entries: Vec<_> = witness
        .entries()
        .into_iter()
        .filter(|e| e.job == id)
        .collect();
    let mut ran: BTreeMap<DateTime<Utc>, usize> = BTreeMap::new();
    let mut ran_attempt: BTreeMap<(DateTime<Utc>, u64), usize> = BTreeMap::new();
    for e in &entries {
        *ran.entry(e.scheduled_at).or_default() += 1;
        *ran_attempt
            .entry((e.scheduled_at, u64::from(e.attempt)))
            .or_default() += 1;
    }
    let first = *by_second.keys().next().expect("ticks");
    let last = *ran.keys().last().expect("runs");
    let mut t = first;
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    while t <= last {
        let tick = by_second
            .get(&t)
            .unwrap_or_else(|| panic!("{t}: missing from the tick view"));
        let state = tick["state"].as_str().expect("state");
        *seen.entry(state.to_string()).or_default() += 1;
        let runs_here = ran.get(&t).copied().unwrap_or(0);
        match state {
            "succeeded" => {
                let attempts = tick["attempts"].as_u64().expect("attempts");
                assert_eq!(ran_attempt.get(&(t, attempts)), Some(&1), "{t}: {tick}");
                assert!(
                    runs_here as u64 <= attempts,
                    "{t}: {tick}, {runs_here} lines"
                );
            }
            "interrupted" => assert!(runs_here <= 1, "{t}: {tick}"),
            "skipped" => {
                assert_eq!(runs_here, 0, "{t}: {tick}");
                assert!(tick["reason"].is_string(), "{t}: {tick}");
            }
            "paused" => {
                assert_eq!(runs_here, 0, "{t}: {tick}");
                assert!(
                    t > paused_at && t <= resumed_at,
                    "{t}: paused outside the pause"
                );
            }
            other => panic!("{t}: {other} once everything is over: {tick}"),
        }
        t += ChronoDuration::seconds(1);
    }
    println!("states of {} ticks: {seen:?}", ticks.len());
    assert!(seen.get("paused").copied().unwrap_or(0) >= 2, "{seen:?}");
    // The kill's ticks: retried or caught up once and the rest skipped as misfires.
    let recovered = ticks.iter().any(|t| {
        t["caught_up"] == true || t["state"] == "skipped" || t["attempts"].as_u64() > Some(1)
    });
    assert!(recovered, "nothing of the kill shows: {seen:?}");
    assert!(finished_at > killed);

    // Someone else's job is a 404; a window backwards or a bad time, a 400.
    assert_eq!(bob.get(&format!("/jobs/{id}/ticks")).await.status, 404);
    for bad in [
        "from=yesterday",
        "from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z",
        "limit=0",
        "what=1",
    ] {
        let a = alice.get(&format!("/jobs/{id}/ticks?{bad}")).await;
        assert_eq!(a.status, 400, "{bad}: {}", a.body);
    }
}
