//! A partition of one worker from ZooKeeper (MySQL and S3 still reachable): the worker stops
//! launching within a third of its session timeout, another worker takes its jobs over only
//! once its registration has expired, and when the partition heals the old owner launches
//! nothing. The checker reads the witness file the jobs append to.

use distcron_core::layout;
use distcron_e2e::checks::{
    assert_every_second_accounted, assert_no_duplicates, each_runs_after, every_second_jobs,
    launches, rows_of, stop_jobs, until_mid_second,
};
use distcron_e2e::partition::Partition;
use distcron_e2e::{ClusterOptions, TestCluster, WitnessEntry, epoch_now, eventually};
use std::collections::HashSet;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_cut_off_from_zookeeper_stops_launching_and_its_jobs_move_only_after_expiry() {
    let session = Duration::from_secs(3);
    let mut cluster = TestCluster::start_with(ClusterOptions {
        workers: 0,
        session_timeout_ms: session.as_millis() as u64,
        ..Default::default()
    })
    .await;
    // worker-1 reaches ZooKeeper only through the relay the test can cut; worker-2 directly.
    let partition = Partition::relay_to(&cluster.zk_servers).await;
    cluster.add_worker_with(
        1,
        vec![("DISTCRON_ZOOKEEPER__SERVERS".into(), partition.address())],
    );
    cluster.wait_healthy("worker-1").await;
    let admin = cluster.admin();
    let witness = cluster.witness("partition");
    let jobs = every_second_jobs(&admin, &witness, "n", 10).await;
    eventually(
        "worker-1 to run all 10 jobs",
        Duration::from_secs(20),
        || {
            let n = witness
                .entries()
                .iter()
                .filter(|e| e.worker == "worker-1")
                .map(|e| e.job.clone())
                .collect::<HashSet<_>>()
                .len();
            async move { (n == 10).then_some(()) }
        },
    )
    .await;
    // worker-2 joins and takes its share (half, through handoffs); worker-1 keeps the rest.
    cluster.add_worker(2);
    cluster.wait_healthy("worker-2").await;
    eventually("the rebalance to settle", Duration::from_secs(30), || {
        let admin = admin.clone();
        async move {
            let workers = admin.get("/workers").await.body;
            let jobs: Vec<u64> = workers
                .as_array()?
                .iter()
                .filter_map(|w| w["jobs"].as_u64())
                .collect();
            (jobs == [5, 5]).then_some(())
        }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut last_on: std::collections::HashMap<String, (f64, String)> = Default::default();
    for e in witness.entries() {
        let last = last_on
            .entry(e.job.clone())
            .or_insert((e.started, e.worker.clone()));
        if e.started >= last.0 {
            *last = (e.started, e.worker);
        }
    }
    let owned: HashSet<String> = last_on
        .into_iter()
        .filter(|(_, (_, w))| w == "worker-1")
        .map(|(j, _)| j)
        .collect();
    assert_eq!(owned.len(), 5, "worker-1 kept half");

    // The fault: worker-1's traffic to ZooKeeper stops, for twice the session timeout.
    let zk = cluster.zk().await;
    let registration = layout::worker("worker-1");
    until_mid_second().await;
    let cut = epoch_now();
    partition.cut();
    // The last moment the registration was seen to exist (when that check was sent), and when
    // it was seen gone.
    let deadline = cut + 3.0 * session.as_secs_f64();
    let mut present_at = cut;
    let expired_at = loop {
        let asked = epoch_now();
        if zk.check_stat(&registration).await.expect("stat").is_none() {
            break epoch_now();
        }
        present_at = asked;
        assert!(asked < deadline, "worker-1's registration did not expire");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    tokio::time::sleep(Duration::from_secs_f64(
        (cut + 2.0 * session.as_secs_f64() - epoch_now()).max(0.0),
    ))
    .await;
    partition.heal();
    let healed = epoch_now();
    let worker_1 = cluster.url_of("worker-1");
    eventually(
        "worker-1 to launch again after the partition healed",
        Duration::from_secs(20),
        || {
            let url = worker_1.clone();
            async move { launches(url).await.then_some(()) }
        },
    )
    .await;
    // A few seconds with both workers up and the partition healed: still nothing twice.
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop_jobs(&cluster, &jobs, &witness).await;

    let entries = witness.entries();
    assert_no_duplicates(&entries);
    // worker-1 stopped launching within a third of the session timeout (plus the gate's
    // polling and a tick's start), and launched nothing stale after, healed or not.
    // (Healed, it rejoins as a new life of itself and takes a share back through handoffs,
    // timed 3 s ahead: those runs are not stale.)
    let bound = cut + session.as_secs_f64() / 3.0 + 0.5;
    let late: Vec<&WitnessEntry> = entries
        .iter()
        .filter(|e| e.worker == "worker-1" && e.started > bound && e.started < healed + 2.5)
        .collect();
    assert!(
        late.is_empty(),
        "worker-1 launched after the partition (cut at {cut:.3}): {late:?}"
    );
    // worker-2 ran none of worker-1's jobs while worker-1's registration still existed.
    let early: Vec<&WitnessEntry> = entries
        .iter()
        .filter(|e| e.worker == "worker-2" && e.started <= present_at && owned.contains(&e.job))
        .collect();
    assert!(
        early.is_empty(),
        "worker-2 ran jobs while worker-1 was still registered (seen at {present_at:.3}): {early:?}"
    );
    // And took every job over within the session timeout + 2 s of the cut.
    let first = each_runs_after(
        &witness,
        &jobs,
        present_at,
        "every job to run on worker-2",
        Duration::from_secs(1),
    )
    .await;
    for (job, e) in &first {
        assert_eq!(e.worker, "worker-2", "{job}: {e:?}");
        assert!(
            e.started - cut <= session.as_secs_f64() + 2.0,
            "{job} resumed {:.2} s after the cut: {e:?}",
            e.started - cut
        );
    }
    // Every second of every job ran once or is recorded with its reason.
    for job in &jobs {
        let rows = rows_of(&cluster, job).await;
        assert_every_second_accounted(job, &entries, &rows);
    }
    eprintln!(
        "partition: cut {cut:.3}, registration gone by {expired_at:.3} (+{:.2} s), healed {healed:.3}; \
         first runs on worker-2 +{:.2}..+{:.2} s after the cut",
        expired_at - cut,
        first
            .values()
            .map(|e| e.started - cut)
            .fold(f64::MAX, f64::min),
        first.values().map(|e| e.started - cut).fold(0.0, f64::max),
    );
}
