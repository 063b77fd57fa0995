//! Failures of distcron's own processes: the leader manager and an API server die (kill -9) and
//! the cluster keeps answering.

use distcron_e2e::{ClusterOptions, TestCluster};
use nix::sys::signal::Signal;
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::{Duration, Instant};

fn command(i: usize) -> serde_json::Value {
    json!({"type": "command", "executable": format!("echo {i}"), "schedule": "*/5 * * * *"})
}

#[tokio::test]
async fn killing_the_leader_manager_lets_a_standby_lead_within_the_session_timeout() {
    let session_timeout = Duration::from_millis(4000);
    let mut cluster = TestCluster::start_with(ClusterOptions {
        workers: 1,
        session_timeout_ms: session_timeout.as_millis() as u64,
        ..Default::default()
    })
    .await;
    let admin = cluster.admin();
    admin.create_job(&command(0)).await;
    let old = cluster.leader().await;

    cluster.kill(&old);
    let killed_at = Instant::now();
    // Keep trying until a POST succeeds, as a client would.
    let mut i = 1;
    let created = loop {
        let a = admin
            .try_request(Method::POST, "/jobs", Some(&command(i)))
            .await;
        if let Ok(a) = &a
            && a.status == StatusCode::CREATED
        {
            break a.body.clone();
        }
        if let Ok(a) = &a {
            assert_eq!(
                a.status,
                StatusCode::SERVICE_UNAVAILABLE,
                "only 503 while there is no leader: {}",
                a.body
            );
        }
        assert!(
            killed_at.elapsed() < Duration::from_secs(30),
            "no POST succeeded after the leader died"
        );
        i += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let took = killed_at.elapsed();
    let new = cluster.leader().await;
    assert_ne!(new, old);
    assert!(
        took <= session_timeout + Duration::from_secs(2),
        "the next POST succeeded {took:?} after the kill; allowed: session timeout {session_timeout:?} + 2 s"
    );
    eprintln!("leader {old} killed; {new} leads; first successful POST after {took:?}");
    // Every job created before and after is there.
    let jobs = admin.get("/jobs").await.body;
    assert!(
        jobs.as_array()
            .expect("array")
            .iter()
            .any(|j| j["id"] == created["id"])
    );
}

#[tokio::test]
async fn a_paused_leader_cannot_write_after_a_standby_took_over() {
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 1,
        session_timeout_ms: 2000,
        ..Default::default()
    })
    .await;
    let admin = cluster.admin();
    let old = cluster.leader().await;
    cluster.signal(&old, Signal::SIGSTOP);
    let new = cluster.wait_leader_other_than(&old).await;
    admin.create_job(&command(1)).await;
    cluster.signal(&old, Signal::SIGCONT);
    // The old leader wakes up, finds its session gone, and does not claim leadership again
    // while the new one holds it.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(cluster.leader().await, new);
    let a = admin.create_job(&command(2)).await;
    assert_eq!(a["status"], "scheduled");
    let jobs = admin.get("/jobs").await.body;
    assert_eq!(jobs.as_array().expect("array").len(), 2);
}

#[tokio::test]
async fn killing_one_api_server_does_not_fail_requests_through_haproxy() {
    let mut cluster = TestCluster::start_with(ClusterOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let admin = cluster.admin();
    admin.create_job(&command(0)).await;
    cluster.kill("api-1");
    // Straight after the kill (before any health check noticed), and for a while after.
    let mut ok = 0;
    for i in 0..60 {
        let a = if i % 3 == 0 {
            admin
                .try_request(Method::POST, "/jobs", Some(&command(i)))
                .await
        } else {
            admin.try_request(Method::GET, "/jobs", None).await
        };
        let a = a.unwrap_or_else(|e| panic!("request {i} failed after api-1 died: {e}"));
        assert!(
            a.status.is_success(),
            "request {i} answered {}: {}",
            a.status,
            a.body
        );
        ok += 1;
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(ok, 60);
    // And it comes back into rotation when restarted.
    cluster.restart("api-1").await;
    for _ in 0..10 {
        assert!(admin.get("/jobs").await.status.is_success());
    }
}
