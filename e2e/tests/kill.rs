//! Kills through the whole path: API → leader (the stop recorded in MySQL, the worker nudged
//! through ZooKeeper) → the worker that holds the run, which kills its process group and
//! cgroup and records the outcome.

use distcron_e2e::process::processes_with;
use distcron_e2e::{ClusterOptions, TestCluster, epoch_now, eventually};
use serde_json::{Value, json};
use std::time::Duration;

/// Live processes whose command line is exactly `sleep <n>`, for each n.
fn sleepers(markers: &[u64]) -> Vec<String> {
    let wanted: Vec<String> = markers.iter().map(|n| format!("sleep {n}")).collect();
    processes_with("sleep ")
        .into_iter()
        .map(|c| c.trim().to_string())
        .filter(|c| wanted.contains(c))
        .collect()
}

/// Three `sleep` durations no other test uses: one in the job's own process, one in the
/// background, one in a session of its own (`setsid`, out of the process group).
fn markers() -> [u64; 3] {
    let base = 1_000_000 + u64::from(rand::random::<u16>()) * 10;
    [base + 1, base + 2, base + 3]
}

async fn runs_of(client: &distcron_e2e::ApiClient, job: &str) -> Vec<Value> {
    client
        .get(&format!("/jobs/{job}/runs"))
        .await
        .body
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn audit(cluster: &TestCluster, object_type: &str, id: &str) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT action, actor FROM audit_log WHERE object_type = ? AND object_id = ? ORDER BY id",
    )
    .bind(object_type)
    .bind(id)
    .fetch_all(&cluster.db().await)
    .await
    .expect("audit rows")
}

#[tokio::test]
async fn a_kill_stops_the_run_and_all_it_started_at_once_and_only_its_owner_may_ask() {
    // A one-minute lease: workers renew it (and read kills) every 15 s, so a kill seen within
    // the bound below was seen through the leader's nudge, not at a renewal.
    let lease = ("DISTCRON_RUN_LEASE_MS".to_string(), "60000".to_string());
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 2,
        worker_env: vec![lease.clone()],
        manager_env: vec![lease],
        ..Default::default()
    })
    .await;
    let alice = cluster.user("alice", false).await;
    let bob = cluster.user("bob", false).await;
    let witness = cluster.witness("kill");
    let [own, background, detached] = markers();
    let job = alice
        .create_job(&json!({
            "type": "command", "schedule": "*/30 * * * * *", "concurrency": "forbid",
            "executable": format!(
                "{}; sleep {background} & setsid sleep {detached} & sleep {own}",
                witness.command("kill")
            ),
        }))
        .await;
    let job_id = job["id"].as_str().expect("id").to_string();
    eventually("the run's three processes", Duration::from_secs(45), || {
        let n = sleepers(&[own, background, detached]).len();
        async move { (n == 3).then_some(()) }
    })
    .await;
    let run = eventually("the run to show running", Duration::from_secs(5), || {
        let alice = alice.clone();
        let job_id = job_id.clone();
        async move {
            runs_of(&alice, &job_id)
                .await
                .into_iter()
                .find(|r| r["status"] == "running")
        }
    })
    .await;
    let run_id = run["id"].as_str().expect("run id").to_string();

    // Somebody else's run and job are a 404, and nothing is killed.
    for path in [
        format!("/runs/{run_id}/kill"),
        format!("/jobs/{job_id}/kill"),
    ] {
        let refused = bob.post(&path, &json!({})).await;
        assert_eq!(refused.status, 404, "{path}: {}", refused.body);
    }
    assert_eq!(sleepers(&[own, background, detached]).len(), 3);

    let asked = epoch_now();
    let killed = alice
        .post(&format!("/runs/{run_id}/kill"), &json!({}))
        .await;
    assert_eq!(killed.status, 202, "{}", killed.body);
    assert_eq!(killed.body["asked"], json!([run_id]), "{}", killed.body);
    eventually(
        "no process of the run left",
        Duration::from_secs(10),
        || {
            let left = sleepers(&[own, background, detached]);
            async move { left.is_empty().then_some(()) }
        },
    )
    .await;
    let took = epoch_now() - asked;
    println!(
        "kill: request to no process left in {:.0} ms",
        took * 1000.0
    );
    // The goal is 1 s (the benchmark measures it); the bound leaves room for a loaded machine.
    assert!(
        took < 3.0,
        "the run's processes outlived the kill by {took:.3} s"
    );

    let ended = eventually(
        "the run to be recorded killed",
        Duration::from_secs(10),
        || {
            let alice = alice.clone();
            let path = format!("/runs/{run_id}");
            async move {
                let r = alice.get(&path).await.body;
                (r["status"] != "running").then_some(r)
            }
        },
    )
    .await;
    assert_eq!(ended["status"], "killed", "{ended}");
    assert_eq!(ended["reason"], "killed by alice", "{ended}");

    // Again: nothing changes, and the answer says how the run ended.
    let again = alice
        .post(&format!("/runs/{run_id}/kill"), &json!({}))
        .await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert!(
        again
            .error()
            .contains("already ended: killed (killed by alice)"),
        "{}",
        again.body
    );
    assert_eq!(
        audit(&cluster, "run", &run_id).await,
        vec![("run.kill".to_string(), "alice".to_string())]
    );
    let unknown = alice
        .post(
            "/runs/01930000-0000-7000-8000-000000000000/kill",
            &json!({}),
        )
        .await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    let malformed = alice.post("/runs/nope/kill", &json!({})).await;
    assert_eq!(malformed.status, 400, "{}", malformed.body);
    alice.delete(&format!("/jobs/{job_id}")).await;
}

#[tokio::test]
async fn killing_a_job_kills_its_running_run_and_skips_a_run_claimed_but_not_started() {
    // Runs are claimed 15 s ahead of their tick: a kill lands on a claimed run that has not
    // started its process yet.
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 1,
        worker_env: vec![("DISTCRON_CLAIM_LEAD_MS".into(), "15000".into())],
        ..Default::default()
    })
    .await;
    let alice = cluster.user("alice", false).await;
    let witness = cluster.witness("claimed");
    let [own, ..] = markers();
    let job = alice
        .create_job(&json!({
            "type": "command", "schedule": "*/20 * * * * *",
            "executable": format!("{}; sleep {own}", witness.command("claimed")),
        }))
        .await;
    let job_id = job["id"].as_str().expect("id").to_string();
    // A claimed run with time to spare before its tick: the first tick after the creation may
    // be claimed less than a second ahead (the job was created just before it); then the next.
    let claimed = eventually("a claimed run", Duration::from_secs(40), || {
        let alice = alice.clone();
        let job_id = job_id.clone();
        async move {
            let ahead = chrono::Utc::now() + chrono::Duration::seconds(3);
            runs_of(&alice, &job_id).await.into_iter().find(|r| {
                r["status"] == "claimed"
                    && r["scheduled_at"]
                        .as_str()
                        .and_then(|t| t.parse::<chrono::DateTime<chrono::Utc>>().ok())
                        .is_some_and(|t| t > ahead)
            })
        }
    })
    .await;
    let claimed_id = claimed["id"].as_str().expect("run id").to_string();
    let tick: chrono::DateTime<chrono::Utc> = claimed["scheduled_at"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .expect("scheduled_at");
    assert!(
        tick > chrono::Utc::now() + chrono::Duration::seconds(1),
        "the claimed run's tick {tick} is too close to kill it before it starts"
    );
    let killed = alice
        .post(&format!("/jobs/{job_id}/kill"), &json!({}))
        .await;
    assert_eq!(killed.status, 202, "{}", killed.body);
    assert!(
        killed.body["asked"]
            .as_array()
            .is_some_and(|a| a.contains(&json!(claimed_id))),
        "{}",
        killed.body
    );
    let ended = eventually(
        "the claimed run to be recorded",
        Duration::from_secs(30),
        || {
            let alice = alice.clone();
            let path = format!("/runs/{claimed_id}");
            async move {
                let r = alice.get(&path).await.body;
                (r["status"] != "running" && r["status"] != "claimed").then_some(r)
            }
        },
    )
    .await;
    assert_eq!(ended["status"], "skipped", "{ended}");
    assert_eq!(ended["reason"], "not started: killed by alice", "{ended}");
    assert!(
        witness.entries().iter().all(|e| e.scheduled_at != tick),
        "the killed claimed run started its process anyway"
    );
    assert_eq!(
        audit(&cluster, "job", &job_id).await.last(),
        Some(&("job.kill".to_string(), "alice".to_string()))
    );
    alice.delete(&format!("/jobs/{job_id}")).await;
    alice
        .post(&format!("/jobs/{job_id}/kill"), &json!({}))
        .await;
    eventually(
        "no process of the job left",
        Duration::from_secs(10),
        || {
            let left = sleepers(&[own]);
            async move { left.is_empty().then_some(()) }
        },
    )
    .await;
}
