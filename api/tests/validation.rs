//! Bodies refused at the boundary, with a 400 or 413 that names the problem, before anything
//! is stored or the manager is asked.

mod support;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{Reply, TestApi};

fn command(field: &str, value: Value) -> Value {
    let mut body = json!({"type": "command", "schedule": "@hourly", "executable": "true"});
    body[field] = value;
    body
}

#[tokio::test]
async fn malformed_definitions_are_refused_naming_the_problem() {
    let api = TestApi::start().await;
    let stub = api.stub_leader(Reply::Accept).await;
    let alice = api.user("alice", false).await;
    let cases = [
        (
            command("schedule", json!("61 * * * *")),
            "invalid_schedule",
            "minute",
        ),
        (
            command("schedule", json!("* * *")),
            "invalid_schedule",
            "found 3",
        ),
        (
            command("timezone", json!("Mars/Olympus")),
            "invalid_timezone",
            "unknown time zone",
        ),
        (
            command("owner", json!("bob")),
            "invalid_json",
            "unknown field `owner`",
        ),
        (
            command("memory_mb", json!("lots")),
            "invalid_json",
            "memory_mb",
        ),
        (
            command("type", json!("daemon")),
            "invalid_type",
            "unknown job type",
        ),
        (
            command("timeout_seconds", json!(0)),
            "invalid_job",
            "timeout_seconds",
        ),
        (command("executable", json!("true\0")), "invalid_job", "NUL"),
        (
            command("content", json!("IyEvYmluL3NoCg==")),
            "unexpected_field",
            "`content`",
        ),
        (
            json!({"type": "script", "schedule": "@hourly", "content": STANDARD.encode("echo hi")}),
            "invalid_content",
            "interpreter line",
        ),
        (
            json!({"type": "binary", "schedule": "@hourly", "content": "AAAA", "retries": 99}),
            "invalid_job",
            "retries must be at most",
        ),
    ];
    for (body, code, needle) in cases {
        let a = api.post("/jobs", &alice, &body).await;
        a.assert_refused(StatusCode::BAD_REQUEST, code, needle);
    }
    assert!(
        stub.requests().is_empty(),
        "the manager was asked: {:?}",
        stub.requests()
    );
}

#[tokio::test]
async fn an_upload_over_the_limit_is_a_413_naming_the_limit() {
    // The support's API takes uploads of at most 4096 bytes.
    let api = TestApi::start().await;
    let stub = api.stub_leader(Reply::Accept).await;
    let alice = api.user("alice", false).await;
    let file = [b"#!/bin/sh\n".as_slice(), &[b'#'; 4096]].concat();
    let body = json!({"type": "script", "schedule": "@hourly", "content": STANDARD.encode(&file)});
    let a = api.post("/jobs", &alice, &body).await;
    a.assert_refused(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        &format!(
            "the uploaded file is {} bytes; the limit is 4096 bytes",
            file.len()
        ),
    );
    // A body larger than any upload could make is refused before it is parsed.
    let body = command("name", json!("n".repeat(200 * 1024)));
    let a = api.post("/jobs", &alice, &body).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", a.body);
    assert_eq!(a.body["code"], "too_large");
    assert!(stub.requests().is_empty(), "the manager was asked");
}
