//! Hostile user names for `POST /users` and request bodies that are not the JSON they claim to
//! be (invalid UTF-8, lone surrogates, raw control characters, duplicate keys, wrong types, deep
//! nesting, a cut-off 1 MB body), end to end through HAProxy: each gets a 400 in the API's JSON
//! shape naming the problem, and creates nothing.

mod hostile_common;

use distcron_e2e::{ClusterOptions, TestCluster};
use hostile_common::{SQL, UNICODE, assert_refused};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn hostile_user_names_and_unreadable_bodies_get_a_400_in_the_json_shape() {
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let admin = cluster.admin();
    let alice = cluster.user("alice", false).await;

    let mb = "a".repeat(1024 * 1024);
    let names = SQL.into_iter().chain([
        "bob\0",
        "\0",
        "bob\u{7}",
        UNICODE,
        "ａｌｉｃｅ",
        "../../etc/passwd",
        "bob/../admin",
        "Alice",
        "al%ce",
        "_bob",
        "",
        &mb,
    ]);
    let too_long = "a".repeat(65);
    for name in names.chain([too_long.as_str()]) {
        let a = admin.post("/users", &json!({"name": name})).await;
        assert_refused(
            &a,
            StatusCode::BAD_REQUEST,
            "invalid_user",
            "user name",
            &name[..name.floor_char_boundary(80)],
        );
    }
    let a = admin.post("/users", &json!({"name": "alice"})).await;
    assert_refused(
        &a,
        StatusCode::CONFLICT,
        "conflict",
        "alice",
        "a second alice",
    );
    let a = alice
        .post("/users", &json!({"name": "' OR 1=1 --", "admin": true}))
        .await;
    assert_refused(
        &a,
        StatusCode::FORBIDDEN,
        "forbidden",
        "admins",
        "alice creating users",
    );
    let a = admin
        .post("/users", &json!({"name": "carol", "admin": "' OR 1=1 --"}))
        .await;
    assert_refused(
        &a,
        StatusCode::BAD_REQUEST,
        "invalid_json",
        "admin",
        "admin as a string",
    );
    let db = cluster.db().await;
    let users: Vec<(String,)> = sqlx::query_as("SELECT name FROM users ORDER BY name")
        .fetch_all(&db)
        .await
        .expect("users");
    assert_eq!(users, [("admin".to_string(),), ("alice".to_string(),)]);

    // Bodies that are not the JSON they claim to be, byte for byte as sent.
    let job = |rest: &[u8]| {
        let mut b = br#"{"type": "command", "schedule": "@daily", "#.to_vec();
        b.extend_from_slice(rest);
        b
    };
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            job(b"\"executable\": \"\xff\xfe\"}"),
            "executable: invalid unicode code point",
        ),
        (
            job(b"\"executable\": \"true\", \"name\": \"\\ud800\"}"),
            "name:",
        ),
        (
            job(b"\"executable\": \"true\", \"name\": \"a\x01b\"}"),
            "name: control character",
        ),
        (
            job(b"\"executable\": \"true\", \"name\": \"a\x00b\"}"),
            "name: control character",
        ),
        (
            job(b"\"executable\": \"a\", \"executable\": \"b\"}"),
            "duplicate field `executable`",
        ),
        (
            job(b"\"executable\": \"true\", \"timeout_seconds\": \"' OR 1=1 --\"}"),
            "timeout_seconds: invalid type",
        ),
        (
            job(b"\"executable\": \"true\", \"retries\": 1e400}"),
            "retries:",
        ),
        (
            job(b"\"executable\": \"true\", \"privileged\": \"true\"}"),
            "privileged: invalid type",
        ),
        (
            job(b"\"executable\": \"true\", \"name\": \"x\"} ' OR 1=1 --"),
            "trailing characters",
        ),
        (
            job(b"\"executable\": \"true\", \"name\": [[[[[[[[[[[[]]]]]]]]]]]]}"),
            "name: invalid type",
        ),
        (b"\0\0\0\0".to_vec(), "invalid request body"),
        (b"\xef\xbb\xbf{}".to_vec(), "invalid request body"),
        ("[".repeat(100_000).into_bytes(), "invalid request body"),
        (
            job(format!("\"executable\": \"{}\"", "x".repeat(1024 * 1024)).as_bytes()),
            "EOF",
        ),
    ];
    for (body, needle) in cases {
        let what = String::from_utf8_lossy(&body[..body.len().min(120)]).into_owned();
        let a = alice
            .try_request_raw(Method::POST, "/jobs", Some(body))
            .await
            .unwrap_or_else(|e| panic!("{what}: no answer: {e}"));
        assert_refused(&a, StatusCode::BAD_REQUEST, "invalid_json", needle, &what);
    }
    let (jobs,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM jobs")
        .fetch_one(&db)
        .await
        .expect("count");
    assert_eq!(jobs, 0, "none of it made a job");
}
