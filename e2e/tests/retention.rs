//! History that does not grow for ever, on a live cluster: the leader prunes an every-second
//! job down to its `history_limit` while it runs, the tick view says where the kept history
//! starts, and the schedule runs on untouched: every second once, none lost. (That the
//! newest scheduled run, an adopting worker's cursor, is never pruned is the store's test.)

use distcron_e2e::checks::{assert_no_duplicates, each_runs_after, id_of, stop_jobs};
use distcron_e2e::{ClusterOptions, TestCluster, epoch_now, eventually};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn a_running_job_is_pruned_to_its_history_limit_and_runs_every_second_once() {
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 1,
        manager_env: vec![
            ("DISTCRON_PRUNE_INTERVAL_MS".into(), "500".into()),
            ("DISTCRON_PRUNE_GRACE_MS".into(), "1000".into()),
        ],
        ..Default::default()
    })
    .await;
    let alice = cluster.user("alice", false).await;
    let witness = cluster.witness("retention");
    let job = alice
        .create_job(&json!({
            "type": "command", "schedule": "* * * * * *", "history_limit": 3,
            "executable": witness.command("kept"),
        }))
        .await;
    assert_eq!(job["history_limit"], 3, "{job}");
    assert!(job["history_from"].is_null(), "{job}");
    let id = id_of(&job);
    for (body, what) in [
        (json!({"history_limit": 0}), "zero"),
        (json!({"history_limit": 2_000_000}), "too many"),
    ] {
        let refused = alice.patch(&format!("/jobs/{id}"), &body).await;
        assert_eq!(refused.status, 400, "{what}: {}", refused.body);
        assert!(
            refused.error().contains("history_limit"),
            "{}",
            refused.body
        );
    }

    // Eight seconds of runs: pruned as they go.
    let start = epoch_now();
    each_runs_after(
        &witness,
        std::slice::from_ref(&id),
        start + 8.0,
        "eight seconds of runs",
        Duration::from_secs(20),
    )
    .await;
    let pruned = eventually(
        "the history to be pruned to the limit",
        Duration::from_secs(10),
        || {
            let alice = alice.clone();
            let id = id.clone();
            async move {
                let runs = alice.get(&format!("/jobs/{id}/runs")).await.body;
                let job = alice.get(&format!("/jobs/{id}")).await.body;
                let n = runs.as_array()?.len();
                // At most the limit, the ticks claimed since the last pass and those that
                // ended within the grace.
                (n <= 7 && job["history_from"].is_string()).then_some(job)
            }
        },
    )
    .await;
    let history_from = pruned["history_from"]
        .as_str()
        .expect("history_from")
        .to_string();
    let ticks = alice.get(&format!("/jobs/{id}/ticks")).await;
    assert_eq!(ticks.status, 200, "{}", ticks.body);
    assert_eq!(ticks.body["history_from"], history_from, "{}", ticks.body);
    let first_tick = ticks.body["ticks"][0]["scheduled_at"]
        .as_str()
        .expect("a tick")
        .to_string();
    assert!(
        first_tick > history_from,
        "the view starts after the kept history: {first_tick} vs {history_from}"
    );

    // The schedule went on as if nothing was pruned: each second once, none missed since the
    // first run (the worker's cursor, its newest run, is never pruned).
    stop_jobs(&cluster, std::slice::from_ref(&id), &witness).await;
    let entries = witness.entries();
    assert_no_duplicates(&entries);
    let mut seconds: Vec<i64> = entries.iter().map(|e| e.scheduled_at.timestamp()).collect();
    seconds.sort();
    assert!(seconds.len() >= 8, "{seconds:?}");
    for w in seconds.windows(2) {
        assert_eq!(w[1] - w[0], 1, "a second missed or run twice: {seconds:?}");
    }
}
