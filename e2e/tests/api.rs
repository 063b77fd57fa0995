//! The public REST API end to end, through HAProxy: what a user sends, what they get back, and
//! what lands in MySQL, ZooKeeper and S3.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use distcron_core::layout;
use distcron_core::payload::{self, Assignment, JobTask};
use distcron_e2e::{ClusterOptions, TestCluster, eventually};
use reqwest::{Method, StatusCode};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::time::Duration;

#[tokio::test]
async fn the_seed_example_creates_a_job_that_is_listed_stored_and_published() {
    let cluster = TestCluster::start().await;
    let admin = cluster.admin();

    // The seed design's body, as is.
    let job = admin
        .create_job(&json!({"executable": "ls -la", "schedule": "5 * * * *", "type": "command"}))
        .await;
    let id = job["id"].as_str().expect("id is a string").to_string();
    assert_eq!(job["status"], "scheduled");
    assert_eq!(job["type"], "command");
    assert_eq!(job["executable"], "ls -la");
    assert_eq!(job["schedule"], "5 * * * *");
    assert_eq!(job["timezone"], "UTC");
    assert_eq!(job["owner"], "admin");
    assert_eq!(job["privileged"], false);
    let next: chrono::DateTime<chrono::Utc> = job["next_run_at"]
        .as_str()
        .expect("next_run_at")
        .parse()
        .expect("RFC 3339");
    assert_eq!(chrono::Timelike::minute(&next), 5);

    let listed = admin.get("/jobs").await;
    assert_eq!(listed.status, StatusCode::OK);
    assert!(
        listed
            .body
            .as_array()
            .expect("array")
            .iter()
            .any(|j| j["id"] == id.as_str())
    );
    let shown = admin.get(&format!("/jobs/{id}")).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert_eq!(shown.body["id"], id.as_str());

    // Its row in MySQL, with the audit trail.
    let db = cluster.db().await;
    let (status, executable, owner): (String, String, String) =
        sqlx::query_as("SELECT status, executable, owner FROM jobs WHERE id = ?")
            .bind(&id)
            .fetch_one(&db)
            .await
            .expect("job row");
    assert_eq!(
        (status.as_str(), executable.as_str(), owner.as_str()),
        ("scheduled", "ls -la", "admin")
    );
    let (audits,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM audit_log WHERE object_id = ? AND action = 'job.create'",
    )
    .bind(&id)
    .fetch_one(&db)
    .await
    .expect("audit");
    assert_eq!(audits, 1);

    // Its task znode, and exactly one live worker owning it.
    let zk = cluster.zk().await;
    let (data, _) = zk
        .get_data(&format!("{}/{id}", layout::JOBS))
        .await
        .expect("task znode");
    let task: JobTask = payload::decode(&data).expect("task payload");
    assert_eq!(task.id.to_string(), id);
    assert_eq!(task.spec.schedule.expression(), "5 * * * *");
    assert_eq!(task.version, 1);
    let owners = eventually("the job to be assigned", Duration::from_secs(10), || {
        let zk = zk.clone();
        let id = id.clone();
        async move {
            let mut owners = Vec::new();
            for w in distcron_e2e::zookeeper::children(&zk, layout::ASSIGNMENTS).await {
                if let Ok((d, _)) = zk
                    .get_data(&format!("{}/{w}/{id}", layout::ASSIGNMENTS))
                    .await
                {
                    let a: Assignment = payload::decode(&d).expect("assignment");
                    owners.push((w, a.version));
                }
            }
            (!owners.is_empty()).then_some(owners)
        }
    })
    .await;
    assert_eq!(owners.len(), 1, "exactly one owner: {owners:?}");
    assert!(owners[0].0.starts_with("worker-"));
    assert_eq!(owners[0].1, 1);
}

#[tokio::test]
async fn an_uploaded_script_is_stored_in_s3_under_its_sha256_and_the_job_points_to_it() {
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 1,
        ..Default::default()
    })
    .await;
    let admin = cluster.admin();
    let script = b"#!/bin/sh\necho hello from a script\n".to_vec();
    let digest = hex::encode(Sha256::digest(&script));
    // `base64` wraps lines; the API ignores the whitespace.
    let wrapped = STANDARD
        .encode(&script)
        .as_bytes()
        .chunks(20)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("\n");
    let job = admin
        .create_job(&json!({"type": "script", "schedule": "*/10 * * * *", "content": wrapped, "name": "hello"}))
        .await;
    assert_eq!(job["sha256"], digest.as_str());
    let executable = job["executable"].as_str().expect("executable").to_string();
    assert_eq!(
        executable,
        format!(
            "s3://{}/{}blobs/sha256/{digest}",
            distcron_e2e::cluster::TEST_BUCKET,
            cluster.s3_prefix
        )
    );
    let stored = cluster
        .blobs()
        .await
        .get(&executable)
        .await
        .expect("object in S3");
    assert_eq!(stored.as_ref(), script.as_slice());
    assert_eq!(hex::encode(Sha256::digest(&stored)), digest);

    // A binary goes the same way; the same content twice is stored once, under one key.
    let binary = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0];
    let a = admin
        .create_job(
            &json!({"type": "binary", "schedule": "@daily", "content": STANDARD.encode(&binary)}),
        )
        .await;
    let b = admin
        .create_job(
            &json!({"type": "binary", "schedule": "@hourly", "content": STANDARD.encode(&binary)}),
        )
        .await;
    assert_eq!(a["executable"], b["executable"]);
    assert_ne!(a["id"], b["id"]);
    let stored = cluster
        .blobs()
        .await
        .get(a["executable"].as_str().expect("url"))
        .await
        .expect("binary in S3");
    assert_eq!(stored.as_ref(), binary.as_slice());
}

#[tokio::test]
async fn a_non_admin_cannot_submit_privileged_jobs_nor_see_other_users_jobs() {
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 1,
        ..Default::default()
    })
    .await;
    let alice = cluster.user("alice", false).await;
    let bob = cluster.user("bob", false).await;

    let refused = alice.post("/jobs", &json!({"type": "command", "executable": "id", "schedule": "@hourly", "privileged": true})).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(refused.error().contains("privileged"), "{}", refused.body);
    let refused = alice.post("/jobs", &json!({"type": "command", "executable": "id", "schedule": "@hourly", "run_as": "root"})).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    // Asking not to be privileged asks for nothing: accepted, as README says.
    let plain = alice.create_job(&json!({"type": "command", "executable": "id", "schedule": "@hourly", "privileged": false})).await;
    assert_eq!(plain["privileged"], false);
    alice
        .delete(&format!("/jobs/{}", plain["id"].as_str().expect("id")))
        .await;
    // Nobody can choose the owner or the status: unknown fields are refused.
    let refused = alice
        .post(
            "/jobs",
            &json!({"type": "command", "executable": "id", "schedule": "@hourly", "owner": "bob"}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused.error().contains("unknown field `owner`"),
        "{}",
        refused.body
    );

    let job = alice
        .create_job(&json!({"type": "command", "executable": "true", "schedule": "@hourly"}))
        .await;
    let id = job["id"].as_str().expect("id");
    assert_eq!(job["owner"], "alice");
    assert_eq!(
        bob.get(&format!("/jobs/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        bob.delete(&format!("/jobs/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert!(
        bob.get("/jobs")
            .await
            .body
            .as_array()
            .expect("array")
            .is_empty()
    );
    assert_eq!(
        alice.get(&format!("/jobs/{id}")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        bob.get("/jobs?owner=alice").await.status,
        StatusCode::FORBIDDEN
    );
    // Admins see everything; only admins create users.
    assert_eq!(
        cluster.admin().get(&format!("/jobs/{id}")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        alice.post("/users", &json!({"name": "carol"})).await.status,
        StatusCode::FORBIDDEN
    );
    // An admin may submit a privileged job.
    let privileged = cluster.admin().create_job(&json!({"type": "command", "executable": "id -u", "schedule": "@hourly", "privileged": true})).await;
    assert_eq!(privileged["privileged"], true);
}

#[tokio::test]
async fn every_kind_of_bad_input_gets_a_4xx_that_names_the_problem() {
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 0,
        api_env: vec![("DISTCRON_MAX_UPLOAD_BYTES".into(), "1024".into())],
        ..Default::default()
    })
    .await;
    let admin = cluster.admin();
    let cmd =
        |schedule: &str| json!({"type": "command", "executable": "true", "schedule": schedule});
    let cases: Vec<(serde_json::Value, StatusCode, &str)> = vec![
        (
            cmd("61 * * * *"),
            StatusCode::BAD_REQUEST,
            "invalid minute field `61`",
        ),
        (cmd("* * * * 8"), StatusCode::BAD_REQUEST, "day-of-week"),
        (cmd("* * 0 * *"), StatusCode::BAD_REQUEST, "day-of-month"),
        (cmd("* * * foo *"), StatusCode::BAD_REQUEST, "month"),
        (cmd("* * *"), StatusCode::BAD_REQUEST, "found 3"),
        (cmd("@reboot"), StatusCode::BAD_REQUEST, "@reboot"),
        (
            json!({"type": "cron", "executable": "true", "schedule": "@daily"}),
            StatusCode::BAD_REQUEST,
            "unknown job type `cron`",
        ),
        (
            json!({"type": "script", "schedule": "@daily", "content": "not base64!"}),
            StatusCode::BAD_REQUEST,
            "not valid base64",
        ),
        (
            json!({"type": "script", "schedule": "@daily", "content": STANDARD.encode("echo no shebang")}),
            StatusCode::BAD_REQUEST,
            "#!",
        ),
        (
            json!({"type": "binary", "schedule": "@daily", "content": STANDARD.encode(vec![1u8; 2048])}),
            StatusCode::PAYLOAD_TOO_LARGE,
            "limit is 1024 bytes",
        ),
        (
            json!({"type": "script", "schedule": "@daily"}),
            StatusCode::BAD_REQUEST,
            "needs `content`",
        ),
        (
            json!({"type": "command", "schedule": "@daily"}),
            StatusCode::BAD_REQUEST,
            "needs `executable`",
        ),
        (
            json!({"executable": "true", "schedule": "@daily"}),
            StatusCode::BAD_REQUEST,
            "missing field `type`",
        ),
        (
            json!({"type": "command", "executable": "true"}),
            StatusCode::BAD_REQUEST,
            "missing field `schedule`",
        ),
        (
            json!({"type": "command", "executable": "true", "schedule": "@daily", "status": "finished"}),
            StatusCode::BAD_REQUEST,
            "unknown field `status`",
        ),
        (
            json!({"type": "command", "executable": "true", "schedule": "@daily", "timezone": "Mars/Olympus"}),
            StatusCode::BAD_REQUEST,
            "unknown time zone `Mars/Olympus`",
        ),
        (
            json!({"type": "command", "executable": "true", "schedule": "@daily", "timeout_seconds": 0}),
            StatusCode::BAD_REQUEST,
            "timeout_seconds",
        ),
        (
            json!({"type": "command", "executable": "   ", "schedule": "@daily"}),
            StatusCode::BAD_REQUEST,
            "executable",
        ),
    ];
    for (body, status, needle) in cases {
        let a = admin.post("/jobs", &body).await;
        assert_eq!(a.status, status, "{body} answered {}: {}", a.status, a.body);
        assert!(
            a.error().contains(needle),
            "{body}: error `{}` should mention `{needle}`",
            a.error()
        );
        assert!(
            a.body["code"].is_string(),
            "error bodies carry a code: {}",
            a.body
        );
    }
    // A body larger than any allowed upload is refused with a 413 that reaches the client
    // through HAProxy, not a reset connection: far larger than the socket buffers, so the API
    // must take in the rest of the body before it answers.
    let huge = vec![b'a'; 8 * 1024 * 1024];
    let a = admin
        .try_request_raw(reqwest::Method::POST, "/jobs", Some(huge))
        .await
        .expect("answer");
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(a.error().contains("larger than"), "{}", a.body);
    // Not JSON at all.
    let a = admin
        .try_request_raw(reqwest::Method::POST, "/jobs", Some(b"{oops".to_vec()))
        .await
        .expect("answer");
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.error().contains("invalid request body"), "{}", a.body);
    // No token, or a wrong one.
    assert_eq!(
        cluster.anonymous().get("/jobs").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        admin.with_token("dct_wrong").get("/jobs").await.status,
        StatusCode::UNAUTHORIZED
    );
    // Bad queries and ids.
    assert_eq!(
        admin.get("/jobs?status=sleeping").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        admin.get("/jobs?limit=0").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        admin.get("/jobs?colour=red").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        admin.get("/jobs/not-an-id").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        admin
            .get("/jobs/0191e7a0-0000-7000-8000-000000000001")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // Nothing of the above created a job.
    assert!(
        admin
            .get("/jobs")
            .await
            .body
            .as_array()
            .expect("array")
            .is_empty()
    );
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM jobs")
        .fetch_one(&cluster.db().await)
        .await
        .expect("count");
    assert_eq!(n, 0);
}

#[tokio::test]
async fn deleting_a_job_finishes_it_and_withdraws_its_task() {
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 1,
        ..Default::default()
    })
    .await;
    let admin = cluster.admin();
    let job = admin
        .create_job(&json!({"type": "command", "executable": "true", "schedule": "* * * * *"}))
        .await;
    let id = job["id"].as_str().expect("id").to_string();
    let zk = cluster.zk().await;
    assert!(
        zk.check_stat(&format!("/jobs/{id}"))
            .await
            .expect("stat")
            .is_some()
    );

    let deleted = admin.delete(&format!("/jobs/{id}")).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    assert_eq!(deleted.body["status"], "finished");
    assert!(deleted.body["next_run_at"].is_null());
    assert!(
        zk.check_stat(&format!("/jobs/{id}"))
            .await
            .expect("stat")
            .is_none()
    );
    for w in distcron_e2e::zookeeper::children(&zk, layout::ASSIGNMENTS).await {
        assert!(
            zk.check_stat(&format!("/assignments/{w}/{id}"))
                .await
                .expect("stat")
                .is_none()
        );
    }
    // Still readable, and deleting again is harmless.
    assert_eq!(
        admin.get(&format!("/jobs/{id}")).await.body["status"],
        "finished"
    );
    assert_eq!(
        admin.delete(&format!("/jobs/{id}")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        admin
            .get("/jobs?status=finished")
            .await
            .body
            .as_array()
            .expect("array")
            .len(),
        1
    );
    assert!(
        admin
            .get("/jobs?status=scheduled")
            .await
            .body
            .as_array()
            .expect("array")
            .is_empty()
    );
}

#[tokio::test]
async fn jobs_are_listed_in_pages_with_a_next_link() {
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let admin = cluster.admin();
    let mut ids = Vec::new();
    for i in 0..5 {
        let job = admin.create_job(&json!({"type": "command", "executable": format!("echo {i}"), "schedule": "@daily"})).await;
        ids.push(job["id"].as_str().expect("id").to_string());
    }
    let mut seen = Vec::new();
    let mut path = "/jobs?limit=2".to_string();
    loop {
        let page = admin.get(&path).await;
        assert_eq!(page.status, StatusCode::OK);
        seen.extend(
            page.body
                .as_array()
                .expect("array")
                .iter()
                .map(|j| j["id"].as_str().expect("id").to_string()),
        );
        match page.headers.get("link").and_then(|v| v.to_str().ok()) {
            Some(link) => {
                path = link
                    .trim_start_matches('<')
                    .split('>')
                    .next()
                    .expect("link target")
                    .to_string()
            }
            None => break,
        }
    }
    assert_eq!(seen, ids, "every job once, in creation order");
}

#[tokio::test]
async fn the_schedule_preview_uses_crontab_rules_and_refuses_what_post_refuses() {
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let admin = cluster.admin();
    let a = admin
        .get("/schedule/preview?schedule=0%200%2013%20*%205&count=3&after=2026-01-01T00:00:00Z")
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    // The 13th OR a Friday: Fri 2 Jan, Fri 9 Jan, Tue 13 Jan 2026.
    assert_eq!(
        a.body["fire_times"],
        json!([
            "2026-01-02T00:00:00.000Z",
            "2026-01-09T00:00:00.000Z",
            "2026-01-13T00:00:00.000Z"
        ])
    );
    let a = admin.get("/schedule/preview?schedule=30%202%20*%20*%20*&timezone=America/New_York&count=2&after=2025-03-08T12:00:00Z").await;
    // 02:30 does not exist on 9 March 2025 in New York: it fires at the end of the gap.
    assert_eq!(
        a.body["fire_times"],
        json!(["2025-03-09T07:00:00.000Z", "2025-03-10T06:30:00.000Z"])
    );
    let bad = admin
        .get("/schedule/preview?schedule=61%20*%20*%20*%20*")
        .await;
    let post = admin
        .post(
            "/jobs",
            &json!({"type": "command", "executable": "true", "schedule": "61 * * * *"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        bad.body, post.body,
        "the preview refuses exactly as POST does"
    );
    assert_eq!(
        admin
            .get("/schedule/preview?schedule=@daily&timezone=Nowhere/Land")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_the_json_error_shape() {
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let admin = cluster.admin();
    let anonymous = cluster.anonymous();
    for (client, method, path, status, code) in [
        (
            &admin,
            Method::GET,
            "/nope",
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            &admin,
            Method::GET,
            "/jobs/x/y/z",
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            &admin,
            Method::PUT,
            "/jobs",
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            &admin,
            Method::PATCH,
            "/runs/x",
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            &admin,
            Method::DELETE,
            "/healthz",
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            &admin,
            Method::GET,
            "/jobs/%FF",
            StatusCode::BAD_REQUEST,
            "invalid_path",
        ),
        // Without a token, every route but GET /healthz is a 401, unknown ones too.
        (
            &anonymous,
            Method::GET,
            "/nope",
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            &anonymous,
            Method::PUT,
            "/jobs",
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
    ] {
        let a = client
            .try_request(method.clone(), path, None)
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        assert_eq!(a.status, status, "{method} {path}: {:?}", a.body);
        assert_eq!(
            a.headers
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
            Some("application/json"),
            "{method} {path}"
        );
        assert_eq!(a.body["code"], code, "{method} {path}: {}", a.body);
        if matches!(code, "not_found" | "method_not_allowed") {
            assert!(
                a.error().contains(path),
                "{method} {path}: the error names the path: {}",
                a.body
            );
        }
    }
}

#[tokio::test]
async fn haproxys_own_errors_have_the_json_error_shape_too() {
    let mut cluster = TestCluster::start_with(ClusterOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    // With both API servers down, HAProxy answers by itself.
    cluster.kill("api-1");
    cluster.kill("api-2");
    let admin = cluster.admin();
    let a = eventually(
        "HAProxy to answer 503 itself",
        Duration::from_secs(15),
        || {
            let admin = admin.clone();
            async move {
                let a = admin.try_request(Method::GET, "/jobs", None).await.ok()?;
                (a.status == StatusCode::SERVICE_UNAVAILABLE).then_some(a)
            }
        },
    )
    .await;
    assert_eq!(a.body["code"], "unavailable", "{:?}", a.body);
    assert!(a.error().contains("no API server"), "{:?}", a.body);
    assert_eq!(
        a.headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
}

#[tokio::test]
async fn creates_far_beyond_the_managers_connection_pool_all_succeed_at_once() {
    // 40 creates at once against a leader whose MySQL pool holds 10 connections: each create
    // must hold at most one connection at a time, or they wait on each other until they time
    // out (503s).
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 1,
        ..Default::default()
    })
    .await;
    let admin = cluster.admin();
    let started = std::time::Instant::now();
    let mut creates = tokio::task::JoinSet::new();
    for i in 0..40 {
        let admin = admin.clone();
        creates.spawn(async move {
            let body = json!({"type": "command", "schedule": "0 0 1 1 *", "executable": format!("true {i}")});
            admin.post("/jobs", &body).await
        });
    }
    let mut refused = Vec::new();
    while let Some(answer) = creates.join_next().await {
        let answer = answer.expect("create task");
        if answer.status != StatusCode::CREATED {
            refused.push(format!("{}: {}", answer.status, answer.body));
        }
    }
    assert!(
        refused.is_empty(),
        "{} of 40 creates refused: {refused:?}",
        refused.len()
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "40 creates took {:?}",
        started.elapsed()
    );
}
