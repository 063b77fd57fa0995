//! Requests written by hand on a raw connection, for what no HTTP client sends: dot segments
//! and encoded slashes as they are, raw bytes that are not allowed in a request line (invalid
//! UTF-8, control characters, NUL, raw UTF-8) and a 100 KB path. Each is answered in full, never
//! a hang or a reset, and none reaches a route, a file or a job it does not name.

mod hostile_common;

use distcron_e2e::{ClusterOptions, TestCluster};
use hostile_common::raw_get;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn raw_paths_with_traversal_and_invalid_bytes_are_answered_and_reach_nothing() {
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let alice = cluster.user("alice", false).await;
    let bob = cluster.user("bob", false).await;
    let cmd = json!({"type": "command", "executable": "true", "schedule": "@yearly"});
    let kept = alice.create_job(&cmd).await["id"]
        .as_str()
        .expect("id")
        .to_string();
    let bobs = bob.create_job(&cmd).await["id"]
        .as_str()
        .expect("id")
        .to_string();
    let bobs_before = bob.get("/jobs").await.body;

    // Through HAProxy, as bob: path traversal reaches no other route, file, or alice's job.
    let haproxy = cluster.url().trim_start_matches("http://").to_string();
    let token = bob.token.clone().expect("bob's token");
    let token = token.as_str();
    let raw_cases: Vec<(Vec<u8>, u16, &str, String)> = vec![
        (
            b"/jobs/../../etc/passwd".to_vec(),
            404,
            "not_found",
            "no such route: /jobs/../../etc/passwd".into(),
        ),
        (
            b"/jobs/%2e%2e/%2e%2e/etc/passwd".to_vec(),
            404,
            "not_found",
            "no such route".into(),
        ),
        (
            format!("/jobs/{kept}/../../users").into_bytes(),
            404,
            "not_found",
            "no such route".into(),
        ),
        (
            b"/jobs/%2e%2e%2f%2e%2e%2fetc%2fpasswd".to_vec(),
            400,
            "invalid_id",
            "`../../etc/passwd` is not a job id".into(),
        ),
        (
            b"/jobs/%2e%2e/runs".to_vec(),
            400,
            "invalid_id",
            "`..` is not a job id".into(),
        ),
        (
            b"/runs/..%2f..%2fetc%2fpasswd".to_vec(),
            400,
            "invalid_id",
            "`../../etc/passwd` is not a run id".into(),
        ),
        (
            format!("/jobs/{bobs}/../{kept}").into_bytes(),
            404,
            "not_found",
            "no such route".into(),
        ),
        (
            format!("/jobs/{kept}").into_bytes(),
            404,
            "not_found",
            format!("no job {kept}"),
        ),
        (
            format!("/jobs/..%2f{bobs}").into_bytes(),
            400,
            "invalid_id",
            "is not a job id".into(),
        ),
    ];
    for (target, status, code, needle) in raw_cases {
        let a = raw_get(&haproxy, &target, token).await;
        let what = String::from_utf8_lossy(&target).into_owned();
        assert_eq!(a.status, status, "{what}: {a:?}");
        assert_eq!(
            a.content_type.as_deref(),
            Some("application/json"),
            "{what}"
        );
        assert_eq!(a.json()["code"], code, "{what}: {a:?}");
        let error = a.json()["error"].as_str().unwrap_or("").to_string();
        assert!(
            error.contains(&needle),
            "{what}: `{error}` should mention `{needle}`"
        );
    }
    // Bytes an HTTP request line may not carry (raw UTF-8 too): HAProxy refuses them itself,
    // with its own 400 (HTML: HAProxy 2.6 uses neither `http-error` nor `errorfile` for a
    // request it cannot parse), answered in full and not passed on.
    let huge = format!("/jobs/{}", "y".repeat(100 * 1024)).into_bytes();
    for target in [
        b"/jobs/\xff\xfe".to_vec(),
        b"/jobs?status=\xff".to_vec(),
        b"/jobs/a\x01b".to_vec(),
        b"/jobs/\x00".to_vec(),
        b"/jobs/\xf0\x9f\xa6\x80".to_vec(),
        huge,
    ] {
        let a = raw_get(&haproxy, &target, token).await;
        assert_eq!(
            a.status,
            400,
            "{:?}: {a:?}",
            String::from_utf8_lossy(&target[..20.min(target.len())])
        );
    }
    // Straight to an API server: raw UTF-8 is read as the id it spells; invalid UTF-8 gets
    // hyper's own empty 400 (the request never reaches the router).
    let api = cluster
        .url_of("api-1")
        .trim_start_matches("http://")
        .to_string();
    let a = raw_get(&api, b"/jobs/\xf0\x9f\xa6\x80", token).await;
    assert_eq!(
        (a.status, a.json()["code"].clone()),
        (400, json!("invalid_id")),
        "{a:?}"
    );
    assert_eq!(a.json()["error"], "`🦀` is not a job id");
    assert_eq!(raw_get(&api, b"/jobs/\xff\xfe", token).await.status, 400);

    // Nothing changed: bob's jobs, alice's.
    assert_eq!(bob.get("/jobs").await.body, bobs_before);
    let a = alice.get(&format!("/jobs/{kept}")).await;
    assert_eq!(
        (a.status, &a.body["status"]),
        (StatusCode::OK, &json!("scheduled"))
    );
}
