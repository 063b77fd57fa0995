//! A worker whose clock is wrong (libfaketime): it refuses to fire and gives up its jobs, and
//! nothing runs early or twice.

use distcron_e2e::checks::*;
use distcron_e2e::clock::skewed_clock_env;
use distcron_e2e::{ClusterOptions, TestCluster, WitnessEntry, eventually};
use std::collections::HashSet;
use std::time::Duration;

#[tokio::test]
async fn a_worker_whose_clock_is_10_s_ahead_refuses_to_fire_and_nothing_runs_early_or_twice() {
    let mut cluster = TestCluster::start_with(ClusterOptions {
        workers: 1,
        ..Default::default()
    })
    .await;
    cluster.add_worker_with(2, skewed_clock_env(10));
    cluster.wait_healthy("worker-2").await;
    let reason = eventually(
        "worker-2 to refuse to fire because of its clock",
        Duration::from_secs(20),
        || {
            let url = cluster.url_of("worker-2");
            async move {
                paused_reason(url)
                    .await
                    .filter(|r| r.contains("clock skew"))
            }
        },
    )
    .await;
    eprintln!("worker-2: {reason}");
    assert!(reason.contains("ahead"), "{reason}");
    let url = cluster.url_of("worker-1");
    eventually("worker-1 to launch", Duration::from_secs(10), || {
        let url = url.clone();
        async move { launches(url).await.then_some(()) }
    })
    .await;

    let admin = cluster.admin();
    let witness = cluster.witness("skew");
    let jobs = every_second_jobs(&admin, &witness, "s", 8).await;
    // The skewed worker does not register while its clock is wrong: it is given no job.
    let zk = cluster.zk().await;
    let on_skewed: HashSet<String> =
        eventually("jobs to be assigned", Duration::from_secs(20), || {
            let zk = &zk;
            async move {
                let one = distcron_e2e::zookeeper::children(zk, "/assignments/worker-1").await;
                let two = distcron_e2e::zookeeper::children(zk, "/assignments/worker-2").await;
                (one.len() + two.len() == 8).then(|| two.into_iter().collect())
            }
        })
        .await;
    assert!(
        on_skewed.is_empty(),
        "the skewed worker holds {on_skewed:?}"
    );
    let on_good: Vec<String> = jobs
        .iter()
        .filter(|j| !on_skewed.contains(*j))
        .cloned()
        .collect();
    each_runs_after(
        &witness,
        &on_good,
        0.0,
        "worker-1's jobs to run",
        Duration::from_secs(20),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(8)).await;
    // Still refusing, for the same reason.
    let still = paused_reason(cluster.url_of("worker-2")).await;
    assert!(
        still.as_deref().is_some_and(|r| r.contains("clock skew")),
        "{still:?}"
    );
    stop_jobs(&cluster, &jobs, &witness).await;

    let entries = witness.entries();
    assert_no_duplicates(&entries);
    let from_skewed: Vec<&WitnessEntry> =
        entries.iter().filter(|e| e.worker == "worker-2").collect();
    assert!(
        from_skewed.is_empty(),
        "the skewed worker fired: {from_skewed:?}"
    );
    let early: Vec<&WitnessEntry> = entries.iter().filter(|e| e.lag() < 0.0).collect();
    assert!(
        early.is_empty(),
        "runs started before their time: {early:?}"
    );
    for job in &jobs {
        let rows = rows_of(&cluster, job).await;
        assert!(
            rows.values()
                .all(|r| r.worker.as_deref() != Some("worker-2")),
            "{job}: the skewed worker claimed a tick: {rows:?}"
        );
        if on_skewed.contains(job) {
            assert!(
                entries.iter().all(|e| e.job != *job),
                "{job} ran, though its worker refuses to fire"
            );
        } else {
            assert_every_second_accounted(job, &entries, &rows);
        }
    }
}

#[tokio::test]
async fn the_jobs_of_a_worker_whose_clock_is_wrong_run_on_a_worker_whose_clock_is_right() {
    let mut cluster = TestCluster::start_with(ClusterOptions {
        workers: 1,
        ..Default::default()
    })
    .await;
    cluster.add_worker_with(2, skewed_clock_env(10));
    cluster.wait_healthy("worker-2").await;
    let url = cluster.url_of("worker-2");
    eventually(
        "worker-2 to refuse to fire because of its clock",
        Duration::from_secs(20),
        || {
            let url = url.clone();
            async move {
                paused_reason(url)
                    .await
                    .filter(|r| r.contains("clock skew"))
            }
        },
    )
    .await;
    let admin = cluster.admin();
    let witness = cluster.witness("skew");
    let jobs = every_second_jobs(&admin, &witness, "s", 6).await;
    // worker-1 can fire them all.
    each_runs_after(
        &witness,
        &jobs,
        0.0,
        "every job to run, on the worker whose clock is right",
        Duration::from_secs(20),
    )
    .await;
    stop_jobs(&cluster, &jobs, &witness).await;
    assert!(witness.entries().iter().all(|e| e.worker == "worker-1"));
}
