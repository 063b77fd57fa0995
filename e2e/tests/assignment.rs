//! The leader assigns every active job to exactly one live worker, balancing the count, and
//! moves a worker's jobs when its registration disappears. Workers are stood in for by
//! registrations this test creates itself, so it controls exactly when one "dies".

use chrono::Utc;
use distcron_core::layout;
use distcron_core::payload::{self, Assignment, WorkerRegistration};
use distcron_e2e::zookeeper::children;
use distcron_e2e::{ClusterOptions, TestCluster, eventually};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;
use zookeeper_client::Client;

async fn register(cluster: &TestCluster, id: &str) -> Client {
    let zk = distcron_e2e::zookeeper::connect(
        &cluster.zk_servers,
        &cluster.chroot,
        Some(&cluster.zk_digest),
        Duration::from_millis(2000),
    )
    .await;
    let reg = WorkerRegistration {
        id: id.into(),
        host: "test".into(),
        addr: None,
        capacity: 1000,
        ceilings: Default::default(),
        incarnation: uuid::Uuid::new_v4(),
        started_at: Utc::now(),
    };
    zk.create(
        &layout::worker(id),
        &payload::encode(&reg),
        &zookeeper_client::CreateMode::Ephemeral.with_acls(zookeeper_client::Acls::creator_all()),
    )
    .await
    .expect("register");
    zk
}

/// job id -> its owners, read from ZooKeeper.
/// Each job's owners: the workers holding it that are not handing it off (a rebalance moves
/// jobs to workers that join, and the old holder keeps an assignment with `until` for a while).
async fn owners(zk: &Client) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for w in children(zk, layout::ASSIGNMENTS).await {
        for j in children(zk, &layout::assignment_dir(&w)).await {
            let path = format!("{}/{j}", layout::assignment_dir(&w));
            let handing_off = match zk.get_data(&path).await {
                Ok((data, _)) => {
                    payload::decode::<Assignment>(&data).is_ok_and(|a| a.until.is_some())
                }
                Err(_) => continue,
            };
            if !handing_off {
                out.entry(j).or_default().push(w.clone());
            }
        }
    }
    out
}

fn load(owners: &BTreeMap<String, Vec<String>>) -> BTreeMap<String, usize> {
    let mut load = BTreeMap::new();
    for ws in owners.values() {
        for w in ws {
            *load.entry(w.clone()).or_default() += 1;
        }
    }
    load
}

#[tokio::test]
async fn jobs_are_spread_over_live_workers_and_a_dead_workers_jobs_move_to_the_others() {
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let admin = cluster.admin();
    let zk = cluster.zk().await;

    // Jobs created while no worker lives are published, and assigned once one registers.
    let mut ids = Vec::new();
    for i in 0..3 {
        let job = admin.create_job(&json!({"type": "command", "executable": format!("echo {i}"), "schedule": "* * * * *"})).await;
        ids.push(job["id"].as_str().expect("id").to_string());
    }
    assert!(owners(&zk).await.is_empty());
    let w1 = register(&cluster, "w1").await;
    let w2 = register(&cluster, "w2").await;
    let w3 = register(&cluster, "w3").await;
    eventually(
        "the first jobs to be assigned",
        Duration::from_secs(10),
        || {
            let zk = zk.clone();
            async move { (owners(&zk).await.len() == 3).then_some(()) }
        },
    )
    .await;
    for i in 3..12 {
        let job = admin.create_job(&json!({"type": "command", "executable": format!("echo {i}"), "schedule": "* * * * *"})).await;
        ids.push(job["id"].as_str().expect("id").to_string());
    }
    // Placed on the least loaded, and evened out by the rebalance once the handoffs of the
    // first jobs (made as w2 and w3 joined) have settled.
    let before = eventually(
        "12 jobs balanced over 3 workers",
        Duration::from_secs(20),
        || {
            let zk = zk.clone();
            async move {
                let before = owners(&zk).await;
                let counts = load(&before);
                (before.len() == 12 && counts.len() == 3 && counts.values().all(|n| *n == 4))
                    .then_some(before)
            }
        },
    )
    .await;
    assert!(
        before.values().all(|o| o.len() == 1),
        "exactly one owner each: {before:?}"
    );

    // w2's session ends: its registration goes, and its jobs move to w1 and w3.
    let orphans: Vec<String> = before
        .iter()
        .filter(|(_, o)| o[0] == "w2")
        .map(|(j, _)| j.clone())
        .collect();
    drop(w2);
    let after = eventually("w2's jobs to move", Duration::from_secs(10), || {
        let zk = zk.clone();
        async move {
            let o = owners(&zk).await;
            (o.len() == 12 && o.values().all(|ws| ws.len() == 1 && ws[0] != "w2")).then_some(o)
        }
    })
    .await;
    for job in &orphans {
        assert!(["w1", "w3"].contains(&after[job][0].as_str()));
    }
    for (job, o) in &before {
        if o[0] != "w2" {
            assert_eq!(after[job], *o, "jobs of live workers stay where they are");
        }
    }
    let counts = load(&after);
    assert_eq!(counts.values().sum::<usize>(), 12);
    assert!(
        counts.values().all(|n| *n == 6),
        "balanced over the survivors: {counts:?}"
    );
    assert!(
        !children(&zk, layout::ASSIGNMENTS)
            .await
            .contains(&"w2".to_string())
    );

    // A new worker takes its share of the jobs.
    let _w4 = register(&cluster, "w4").await;
    eventually("w4's directory", Duration::from_secs(10), || {
        let zk = zk.clone();
        async move {
            children(&zk, layout::ASSIGNMENTS)
                .await
                .contains(&"w4".to_string())
                .then_some(())
        }
    })
    .await;
    for i in 12..15 {
        admin.create_job(&json!({"type": "command", "executable": format!("echo {i}"), "schedule": "* * * * *"})).await;
    }
    // It took its share as it joined (a rebalance), and the new jobs evened out the rest.
    eventually(
        "15 jobs even over w1, w3 and w4",
        Duration::from_secs(20),
        || {
            let zk = zk.clone();
            async move {
                let counts = load(&owners(&zk).await);
                (counts.len() == 3 && counts.values().all(|n| *n == 5)).then_some(())
            }
        },
    )
    .await;
    drop((w1, w3));
}

#[tokio::test]
async fn a_new_leader_resyncs_zookeeper_from_mysql() {
    let mut cluster = TestCluster::start_with(ClusterOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let admin = cluster.admin();
    let _w = register(&cluster, "w1").await;
    let zk = cluster.zk().await;
    let mut ids = Vec::new();
    for i in 0..4 {
        let job = admin.create_job(&json!({"type": "command", "executable": format!("echo {i}"), "schedule": "@hourly"})).await;
        ids.push(job["id"].as_str().expect("id").to_string());
    }
    // Drift: someone deletes a task and an assignment behind distcron's back, and plants a
    // task for a job that does not exist.
    zk.delete(&format!("/assignments/w1/{}", ids[0]), None)
        .await
        .expect("delete assignment");
    zk.delete(&format!("/jobs/{}", ids[0]), None)
        .await
        .expect("delete task");
    zk.create(
        "/jobs/0191e7a0-0000-7000-8000-000000000001",
        b"{}",
        &zookeeper_client::CreateMode::Persistent.with_acls(zookeeper_client::Acls::creator_all()),
    )
    .await
    .expect("plant");
    let old = cluster.leader().await;
    cluster.kill(&old);
    cluster.wait_leader_other_than(&old).await;
    let mut want = ids.clone();
    want.sort();
    eventually(
        "the new leader to repair ZooKeeper",
        Duration::from_secs(15),
        || {
            let zk = zk.clone();
            let want = want.clone();
            async move {
                let tasks = children(&zk, "/jobs").await;
                let assigned = children(&zk, "/assignments/w1").await;
                let mut tasks_sorted = tasks.clone();
                tasks_sorted.sort();
                let mut assigned_sorted = assigned.clone();
                assigned_sorted.sort();
                (tasks_sorted == want && assigned_sorted == want).then_some(())
            }
        },
    )
    .await;
}
