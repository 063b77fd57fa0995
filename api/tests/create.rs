//! Creating jobs: what the API stores in S3 and what it asks the leader for.

mod support;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use distcron_core::internal::CreateJob;
use reqwest::StatusCode;
use serde_json::json;
use support::{Reply, TestApi};

#[tokio::test]
async fn a_script_is_uploaded_and_the_leader_gets_its_location_and_digest() {
    let api = TestApi::start().await;
    let stub = api.stub_leader(Reply::Accept).await;
    let alice = api.user("alice", false).await;
    let script = format!("#!/bin/sh\necho {}\n", api.url);
    let sha256 = distcron_blob::sha256_hex(script.as_bytes());
    // Wrapped as `base64` wraps it: whitespace is not data.
    let mut content = STANDARD.encode(&script);
    content.insert(8, '\n');
    let body =
        json!({"type": "script", "schedule": "*/10 * * * *", "content": content, "name": "hello"});

    let a = api.post("/jobs", &alice, &body).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let requests = stub.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let (path, sent) = &requests[0];
    assert_eq!(path, "/internal/jobs");
    // Only the id, the owner and the definition: the leader sets the rest.
    let mut keys: Vec<&str> = sent
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(keys, ["id", "owner", "spec"], "{sent}");
    let sent: CreateJob = serde_json::from_value(sent.clone()).expect("a CreateJob");
    assert_eq!(sent.owner.as_str(), "alice");
    assert_eq!(sent.spec.sha256.as_deref(), Some(sha256.as_str()));
    assert_eq!(
        sent.spec.executable,
        format!(
            "s3://{}/{}blobs/sha256/{sha256}",
            api.blobs.bucket(),
            api.prefix
        )
    );
    let stored = api
        .blobs
        .get(&sent.spec.executable)
        .await
        .expect("the upload is stored");
    assert_eq!(stored.as_ref(), script.as_bytes());

    assert_eq!(a.body["id"], sent.id.to_string());
    assert_eq!(a.body["sha256"], sha256);
    assert_eq!(a.body["executable"], sent.spec.executable);
    assert_eq!(a.body["status"], "scheduled");
    assert_eq!(a.body["version"], 1);
    assert_eq!(a.body["owner"], "alice");
}

#[tokio::test]
async fn a_command_is_sent_as_given_with_no_digest() {
    let api = TestApi::start().await;
    let stub = api.stub_leader(Reply::Accept).await;
    let body = json!({"type": "command", "schedule": "5 * * * *", "executable": "ls -la", "timezone": "Europe/Paris"});
    let a = api.post("/jobs", &api.admin_token, &body).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let (_, sent) = &stub.requests()[0];
    let sent: CreateJob = serde_json::from_value(sent.clone()).expect("a CreateJob");
    assert_eq!(sent.owner.as_str(), "admin");
    assert_eq!(sent.spec.executable, "ls -la");
    assert_eq!(sent.spec.sha256, None);
    assert_eq!(sent.spec.timezone.name(), "Europe/Paris");
    assert_eq!(a.body["timezone"], "Europe/Paris");
    assert_eq!(a.body["sha256"], serde_json::Value::Null);
}
