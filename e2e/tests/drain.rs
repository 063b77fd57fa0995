//! Moving jobs between live workers through the whole path: a drain (`POST
//! /workers/{id}/drain`) hands a worker's every-second jobs to the others, a worker that joins
//! takes its share, an undrain gives the drained worker its share back. Each handoff happens
//! between two ticks; the witness says every second ran once, none twice, throughout.

use distcron_e2e::checks::{
    assert_every_second_accounted, assert_no_duplicates, every_second_jobs, settled_rows, stop_jobs,
};
use distcron_e2e::{ApiClient, ClusterOptions, TestCluster, Witness, epoch_now, eventually};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

/// Jobs held by each live worker, as `GET /workers` says, and whether each is drained.
async fn holdings(admin: &ApiClient) -> BTreeMap<String, (u64, bool)> {
    let workers = admin.get("/workers").await.body;
    workers
        .as_array()
        .expect("workers")
        .iter()
        .map(|w| {
            (
                w["id"].as_str().expect("id").to_string(),
                (w["jobs"].as_u64().expect("jobs"), w["drained"] == true),
            )
        })
        .collect()
}

async fn until_held(
    admin: &ApiClient,
    what: &str,
    want: impl Fn(&BTreeMap<String, (u64, bool)>) -> bool,
) {
    eventually(what, Duration::from_secs(30), || {
        let admin = admin.clone();
        let want = &want;
        async move {
            let h = holdings(&admin).await;
            want(&h).then_some(())
        }
    })
    .await;
}

/// The jobs' every second from their first run to their last ran exactly once.
async fn assert_each_second_once(cluster: &TestCluster, jobs: &[String], witness: &Witness) {
    stop_jobs(cluster, jobs, witness).await;
    let entries = witness.entries();
    assert_no_duplicates(&entries);
    for job in jobs {
        let rows = settled_rows(cluster, job).await;
        let skipped = assert_every_second_accounted(job, &entries, &rows);
        assert!(
            skipped.is_empty(),
            "{job}: no tick skipped in a handoff: {skipped:?}"
        );
    }
}

/// Which workers ran the jobs' ticks started after `after`.
fn workers_since(witness: &Witness, after: f64) -> BTreeMap<String, usize> {
    let mut by = BTreeMap::new();
    for e in witness.entries().into_iter().filter(|e| e.started > after) {
        *by.entry(e.worker).or_default() += 1;
    }
    by
}

#[tokio::test]
async fn a_drained_workers_jobs_move_between_ticks_and_come_back_when_undrained() {
    let cluster = TestCluster::start().await;
    let admin = cluster.admin();
    let alice = cluster.user("alice", false).await;
    let witness = cluster.witness("drain");
    let jobs = every_second_jobs(&admin, &witness, "drain-", 9).await;
    until_held(&admin, "the jobs spread over the three workers", |h| {
        h.values().all(|(n, _)| *n == 3)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    let refused = alice.post("/workers/worker-1/drain", &json!({})).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    let unknown = admin
        .post("/workers/no-such-worker/drain", &json!({}))
        .await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);

    let drained = admin.post("/workers/worker-1/drain", &json!({})).await;
    assert_eq!(drained.status, 200, "{}", drained.body);
    assert_eq!(drained.body["drained"], true);
    let asked = epoch_now();
    until_held(&admin, "worker-1 to hold nothing", |h| {
        h["worker-1"] == (0, true) && h.values().map(|(n, _)| n).sum::<u64>() == 9
    })
    .await;
    // Again: nothing changes.
    let again = admin.post("/workers/worker-1/drain", &json!({})).await;
    assert_eq!(
        (again.status.as_u16(), &again.body["jobs"]),
        (200, &json!(0))
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let since = workers_since(&witness, asked + 5.0);
    assert!(
        !since.contains_key("worker-1"),
        "a drained worker runs nothing: {since:?}"
    );
    // New jobs go elsewhere too.
    let more = every_second_jobs(&admin, &witness, "drain-new-", 2).await;
    let h = holdings(&admin).await;
    assert_eq!(h["worker-1"], (0, true), "{h:?}");

    let undrained = admin.post("/workers/worker-1/undrain", &json!({})).await;
    assert_eq!(undrained.status, 200, "{}", undrained.body);
    assert_eq!(undrained.body["drained"], false);
    until_held(&admin, "worker-1 to take its share again", |h| {
        h.values()
            .all(|(n, drained)| (3..=4).contains(n) && !drained)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    let trail = admin
        .get("/audit?object_type=worker&object_id=worker-1")
        .await;
    let actions: Vec<&str> = trail
        .body
        .as_array()
        .expect("audit")
        .iter()
        .map(|r| r["action"].as_str().expect("action"))
        .collect();
    assert_eq!(
        actions,
        ["worker.undrain", "worker.drain"],
        "{}",
        trail.body
    );
    let all: Vec<String> = jobs.into_iter().chain(more).collect();
    assert_each_second_once(&cluster, &all, &witness).await;
}

#[tokio::test]
async fn workers_that_join_take_their_share_between_ticks() {
    let mut cluster = TestCluster::start_with(ClusterOptions {
        workers: 1,
        ..Default::default()
    })
    .await;
    let admin = cluster.admin();
    let witness = cluster.witness("rebalance");
    let jobs = every_second_jobs(&admin, &witness, "spread-", 6).await;
    until_held(&admin, "every job on worker-1", |h| h["worker-1"].0 == 6).await;
    let last = admin.post("/workers/worker-1/drain", &json!({})).await;
    assert_eq!(
        last.status, 409,
        "the last worker taking jobs: {}",
        last.body
    );
    tokio::time::sleep(Duration::from_secs(3)).await;

    cluster.add_worker(2);
    cluster.add_worker(3);
    cluster.wait_healthy("worker-2").await;
    cluster.wait_healthy("worker-3").await;
    let joined = epoch_now();
    until_held(&admin, "two jobs on each worker", |h| {
        h.len() == 3 && h.values().all(|(n, _)| *n == 2)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let since: BTreeMap<String, usize> = workers_since(&witness, joined + 6.0);
    assert_eq!(since.len(), 3, "every worker runs its share: {since:?}");
    assert_each_second_once(&cluster, &jobs, &witness).await;
}
