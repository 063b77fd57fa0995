//! ZooKeeper restarts and outages: workers start nothing while they cannot be sure of their
//! session, and afterwards the missed ticks follow the misfire policy, nothing twice.

use chrono::Duration as ChronoDuration;
use distcron_e2e::checks::*;
use distcron_e2e::zookeeper::PrivateZk;
use distcron_e2e::{ClusterOptions, TestCluster, WitnessEntry, epoch_now, eventually, unique_name};
use std::time::Duration;

/// Six every-second jobs on two workers; the private ZooKeeper is killed for `outage`, then
/// started again on the same data.
async fn zookeeper_outage(session: Duration, outage: Duration) {
    let mut zk = PrivateZk::start(&unique_name()).await;
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 2,
        session_timeout_ms: session.as_millis() as u64,
        zookeeper: Some(zk.servers()),
        ..Default::default()
    })
    .await;
    let admin = cluster.admin();
    let witness = cluster.witness("zk");
    let jobs = every_second_jobs(&admin, &witness, "z", 6).await;
    each_runs_after(
        &witness,
        &jobs,
        0.0,
        "every job to run",
        Duration::from_secs(20),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    until_mid_second().await;
    zk.stop();
    let stopped = epoch_now();
    // The workers know at once, and say so.
    for w in ["worker-1", "worker-2"] {
        let url = cluster.url_of(w);
        let reason = eventually(
            &format!("{w} to stop launching"),
            Duration::from_secs(3),
            || paused_reason(url.clone()),
        )
        .await;
        assert!(reason.contains("ZooKeeper"), "{w}: {reason}");
    }
    let so_far = Duration::from_secs_f64(epoch_now() - stopped);
    tokio::time::sleep(outage.saturating_sub(so_far)).await;
    let restarting = epoch_now();
    zk.start_again().await;
    eprintln!(
        "ZooKeeper down {:.1} s, answering again {:.1} s after its restart (session timeout {session:?})",
        restarting - stopped,
        epoch_now() - restarting
    );

    let resumed = each_runs_after(
        &witness,
        &jobs,
        restarting,
        "every job to run after the outage",
        Duration::from_secs(30) + session * 2,
    )
    .await;
    let slowest = resumed
        .values()
        .map(|e| e.started - restarting)
        .fold(0.0, f64::max);
    eprintln!("every job ran again within {slowest:.1} s of ZooKeeper's restart");
    // The workers follow their assignments again: a job created now runs...
    let late = id_of(&admin.create_job(&every_second(&witness, "late")).await);
    each_runs_after(
        &witness,
        std::slice::from_ref(&late),
        restarting,
        "a job created after ZooKeeper's restart to run",
        Duration::from_secs(15),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    // ...and deleted jobs stop.
    let mut all = jobs.clone();
    all.push(late.clone());
    stop_jobs(&cluster, &all, &witness).await;

    let entries = witness.entries();
    assert_no_duplicates(&entries);

    // Nothing started while disconnected. The server's death closes its connections, so the
    // workers hear of it at once; allow the launch gate's staleness bound (a third of the
    // session timeout, at most 1 s) and 300 ms for a process to start.
    let allowance = (session.as_secs_f64() / 3.0).min(1.0) + 0.3;
    let quiet_from = stopped + allowance;
    let latest = entries
        .iter()
        .filter(|e| e.started >= stopped && e.started < restarting)
        .map(|e| e.started - stopped)
        .reduce(f64::max);
    eprintln!(
        "latest start after ZooKeeper died: {} (allowed: {allowance:.1} s after)",
        latest.map_or("none".into(), |l| format!("{l:.3} s after"))
    );
    let during: Vec<&WitnessEntry> = entries
        .iter()
        .filter(|e| e.started > quiet_from && e.started < restarting)
        .collect();
    assert!(
        during.is_empty(),
        "runs started while ZooKeeper was down: {during:?}"
    );

    // Afterwards: the missed seconds are misfires, with one catch-up run per job, and every
    // second from the first run to the last is accounted for.
    let outage_from = second(quiet_from) + ChronoDuration::seconds(1);
    let outage_to = second(restarting) - ChronoDuration::seconds(1);
    let mut misfires = 0;
    for job in &jobs {
        let rows = rows_of(&cluster, job).await;
        misfires +=
            assert_outage_caught_up_once(job, &entries, &rows, outage_from, outage_to, restarting);
    }
    assert_every_second_accounted(&late, &entries, &rows_of(&cluster, &late).await);
    eprintln!(
        "{misfires} missed seconds recorded as misfires over {} jobs",
        jobs.len()
    );
}

#[tokio::test]
async fn a_zookeeper_restart_shorter_than_the_session_stops_launches_and_catches_up_once() {
    // The sessions outlive the 10 s outage: the workers reconnect to the same session.
    zookeeper_outage(Duration::from_secs(12), Duration::from_secs(10)).await;
}

#[tokio::test]
async fn a_zookeeper_outage_of_twice_the_session_timeout_stops_launches_and_catches_up_once() {
    // The sessions expire: the workers register anew and adopt their jobs from MySQL.
    let session = Duration::from_secs(4);
    zookeeper_outage(session, session * 2).await;
}
