//! Uploaded executables no job needs any more are deleted from S3 after the grace period; one a
//! job on the schedule names is never deleted, nor one uploaded again within the grace.

use bytes::Bytes;
use distcron_e2e::{ClusterOptions, TestCluster, eventually};
use serde_json::json;
use std::time::Duration;

fn script(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("#!/bin/sh\necho {text}\n"))
}

#[tokio::test]
async fn blobs_no_job_needs_are_swept_after_the_grace_and_needed_ones_stay() {
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 1,
        manager_env: vec![
            ("DISTCRON_BLOB_SWEEP_INTERVAL_MS".into(), "300".into()),
            ("DISTCRON_BLOB_GRACE_MS".into(), "2000".into()),
        ],
        ..Default::default()
    })
    .await;
    let admin = cluster.admin();
    let alice = cluster.user("alice", false).await;
    let blobs = cluster.blobs().await;
    // Two jobs share one file: deleting one of them must not take the file from the other.
    let shared_a = alice
        .create_job(&json!({"type": "script", "schedule": "@hourly", "content": script("shared")}))
        .await;
    let shared_b = admin
        .create_job(&json!({"type": "script", "schedule": "@hourly", "content": script("shared")}))
        .await;
    let alone = alice
        .create_job(&json!({"type": "script", "schedule": "@hourly", "content": script("alone")}))
        .await;
    let url = |j: &serde_json::Value| j["executable"].as_str().expect("url").to_string();
    assert_eq!(url(&shared_a), url(&shared_b));
    // An upload no job was ever created with (its POST failed after the upload, say).
    let orphan = blobs
        .put(Bytes::from_static(b"#!/bin/sh\necho orphan\n"))
        .await
        .expect("put");
    for job in [&shared_a, &alone] {
        let id = job["id"].as_str().expect("id");
        let a = alice.delete(&format!("/jobs/{id}")).await;
        assert!(a.status.is_success(), "{}", a.body);
    }

    let gone = |u: String| {
        let blobs = blobs.clone();
        async move { matches!(blobs.last_modified(&u).await, Ok(None)).then_some(()) }
    };
    eventually(
        "the finished job's file to be swept",
        Duration::from_secs(30),
        || gone(url(&alone)),
    )
    .await;
    eventually(
        "the orphan upload to be swept",
        Duration::from_secs(30),
        || gone(orphan.url.clone()),
    )
    .await;
    // Sweeps ran after the grace: the file a scheduled job still names is there.
    assert!(
        matches!(blobs.last_modified(&url(&shared_b)).await, Ok(Some(_))),
        "the file of a scheduled job was deleted"
    );
    // Submitting the swept file again stores it again, and the job runs it.
    let again = alice
        .create_job(&json!({"type": "script", "schedule": "@once", "content": script("alone")}))
        .await;
    assert_eq!(url(&again), url(&alone));
    let run = distcron_e2e::checks::finished_run(
        &alice,
        again["id"].as_str().expect("id"),
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["output"]["stdout"], "alone\n", "{run}");
}
