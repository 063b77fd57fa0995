//! Hostile paths and query strings, end to end through HAProxy: ids of jobs and runs, and every
//! query parameter of `GET /jobs` and `GET /jobs/{id}/runs`, with SQL metacharacters, NUL,
//! over-long values, invalid UTF-8 (percent-encoded), unicode and path traversal. Each gets a
//! 4xx in the API's JSON shape that names the problem, never a 500, a hang or a broken
//! connection, and shows nothing of another user's. `hostile_raw.rs` sends what no HTTP client
//! will.

mod hostile_common;

use distcron_e2e::{ClusterOptions, TestCluster, eventually};
use hostile_common::assert_refused;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;

/// The jobs a client lists, as (id, status, version).
async fn listed(client: &distcron_e2e::ApiClient) -> Vec<(Value, Value, Value)> {
    let a = client.get("/jobs").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let jobs = a.body.as_array().expect("array").iter();
    jobs.map(|j| (j["id"].clone(), j["status"].clone(), j["version"].clone()))
        .collect()
}

#[tokio::test]
async fn hostile_ids_and_query_parameters_get_a_4xx_and_show_nothing_of_other_users() {
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 1,
        ..Default::default()
    })
    .await;
    let admin = cluster.admin();
    let alice = cluster.user("alice", false).await;
    let bob = cluster.user("bob", false).await;
    let cmd =
        |schedule: &str| json!({"type": "command", "executable": "true", "schedule": schedule});
    let bobs = bob.create_job(&cmd("@yearly")).await["id"]
        .as_str()
        .expect("id")
        .to_string();
    let bobs_before = listed(&bob).await;
    let once = alice.create_job(&cmd("@once")).await["id"]
        .as_str()
        .expect("id")
        .to_string();
    let kept = alice.create_job(&cmd("@yearly")).await["id"]
        .as_str()
        .expect("id")
        .to_string();
    let run = eventually(
        "alice's one-shot job to run",
        Duration::from_secs(60),
        || {
            let alice = alice.clone();
            let path = format!("/jobs/{once}/runs");
            async move {
                let runs = alice.get(&path).await.body;
                let run = runs.get(0)?.clone();
                (!run["finished_at"].is_null()).then_some(run)
            }
        },
    )
    .await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let run = run["id"].as_str().expect("run id").to_string();

    // Query parameters.
    let long = "y".repeat(10_000);
    let runs = format!("/jobs/{once}/runs");
    let mut cases: Vec<(String, StatusCode, &str, &str)> = Vec::new();
    let mut bad = |path: String, needle: &'static str| {
        cases.push((path, StatusCode::BAD_REQUEST, "invalid_query", needle))
    };
    for v in [
        "'%20OR%201=1%20--",
        "%00",
        "scheduled%00",
        "%FF",
        "sch%25",
        "%22%3B%20DROP%20TABLE%20jobs%3B",
    ] {
        bad(format!("/jobs?status={v}"), "unknown status");
    }
    for v in [
        "'%20OR%201=1%20--",
        "alice%00",
        "alice'%20OR%20'1'='1",
        "%25",
        "al%25",
        "%FF",
        &long,
    ] {
        bad(format!("/jobs?owner={v}"), "owner: user name");
    }
    for v in [
        "'%20OR%201=1",
        "-1",
        "99999999999",
        "%00",
        "1%20OR%201=1",
        "1e3",
        &long,
    ] {
        bad(format!("/jobs?limit={v}"), "limit: ");
        bad(format!("{runs}?limit={v}"), "limit: ");
    }
    for v in ["0", "1001"] {
        bad(
            format!("/jobs?limit={v}"),
            "limit must be between 1 and 1000",
        );
    }
    for v in [
        "'%20OR%201=1%20--",
        "%00",
        "..%2F..%2Fetc%2Fpasswd",
        &format!("{kept}'%20OR%20'1'='1"),
        &long,
    ] {
        bad(format!("/jobs?cursor={v}"), "invalid cursor");
    }
    bad("/jobs?after=1".into(), "unknown field `after`");
    bad(
        "/jobs?status=scheduled&status=error".into(),
        "duplicate field `status`",
    );
    bad(format!("{runs}?status=succeeded"), "unknown field `status`");
    // Runs' cursors: `<µs>.<attempt>`, at most 2038-01-19T03:14:07.999999Z. Later ones gave a
    // silently empty page (the store sends times as TIMESTAMPs), past year 65535 a 500.
    for v in [
        "'%20OR%201=1%20--",
        "%00",
        "1.99999",
        "1e3.1",
        "1",
        ".",
        "1.-1",
        "..%2F..",
        "-1.0",
        "2147483648000000.0",
        "253402300799999999.0",
        "3000000000000000000.0",
        "-8000000000000000000.0",
        "-62135596800000001.0",
        "9223372036854775807.0",
        &long,
    ] {
        bad(format!("{runs}?cursor={v}"), "invalid cursor");
    }
    cases.push((
        "/jobs?owner=bob".into(),
        StatusCode::FORBIDDEN,
        "forbidden",
        "only admins",
    ));
    for (path, status, code, needle) in &cases {
        let a = alice.try_request(Method::GET, path, None).await;
        let a = a.unwrap_or_else(|e| panic!("GET {path}: no answer: {e}"));
        assert_refused(&a, *status, code, needle, &path[..path.len().min(120)]);
    }
    // The latest cursor still finds the run; LIKE's wildcards are no wildcards.
    let page = alice
        .get(&format!("{runs}?cursor=2147483647999999.0"))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(page.body[0]["id"], run.as_str(), "{}", page.body);
    let page = admin.get("/jobs?owner=al_ce").await;
    assert_eq!((page.status, page.body), (StatusCode::OK, json!([])));

    // Path ids, as sent and as the error must quote them once decoded.
    let pad = "x".repeat(20);
    let ids: Vec<(String, String)> = [
        ("'%20OR%201=1%20--".to_string(), "' OR 1=1 --".to_string()),
        (
            "%22%3B%20DROP%20TABLE%20jobs%3B%20--".into(),
            "\"; DROP TABLE jobs; --".into(),
        ),
        (
            format!("'%20OR%20'1'='1'%20--%20{pad}"),
            format!("' OR '1'='1' -- {pad}"),
        ),
        (format!("{}%00", &kept[..35]), format!("{}\0", &kept[..35])),
        ("%00".into(), "\0".into()),
        ("%25".into(), "%".into()),
        ("_".into(), "_".into()),
        ("%5C".into(), "\\".into()),
        (
            "%2e%2e%2f%2e%2e%2fetc%2fpasswd".into(),
            "../../etc/passwd".into(),
        ),
        ("..%2F..%2Fetc%2Fpasswd".into(), "../../etc/passwd".into()),
        (
            "..%5C..%5Cetc%5Cpasswd".into(),
            "..\\..\\etc\\passwd".into(),
        ),
        ("%F0%9F%A6%80%E2%80%AEabc".into(), "🦀\u{202E}abc".into()),
        (long.clone(), long.clone()),
    ]
    .into();
    for (sent, decoded) in &ids {
        for (method, path, kind) in [
            (Method::GET, format!("/jobs/{sent}"), "job"),
            (Method::DELETE, format!("/jobs/{sent}"), "job"),
            (Method::GET, format!("/jobs/{sent}/runs"), "job"),
            (Method::GET, format!("/runs/{sent}"), "run"),
        ] {
            let a = alice.try_request(method.clone(), &path, None).await;
            let a = a.unwrap_or_else(|e| panic!("{method} {path}: no answer: {e}"));
            let needle = format!("`{decoded}` is not a {kind} id");
            assert_refused(
                &a,
                StatusCode::BAD_REQUEST,
                "invalid_id",
                &needle,
                &path[..path.len().min(120)],
            );
        }
    }
    for path in [
        "/jobs/%FF",
        "/jobs/%C0%AE%C0%AE%2F",
        "/jobs/%FF/runs",
        "/runs/%FF%FE",
    ] {
        let a = alice.get(path).await;
        assert_refused(
            &a,
            StatusCode::BAD_REQUEST,
            "invalid_path",
            "Invalid UTF-8 in `id`",
            path,
        );
    }

    // Another user's job and run are a 404, however their ids are spelled.
    for (method, path) in [
        (Method::GET, format!("/jobs/{once}")),
        (Method::GET, format!("/jobs/{}", once.to_uppercase())),
        (Method::DELETE, format!("/jobs/{kept}")),
        (Method::DELETE, format!("/jobs/{}", kept.to_uppercase())),
        (Method::GET, format!("/jobs/{once}/runs")),
        (Method::GET, format!("/runs/{run}")),
        (Method::GET, format!("/runs/{}", run.to_uppercase())),
    ] {
        let a = bob.request(method.clone(), &path, None).await;
        assert_refused(
            &a,
            StatusCode::NOT_FOUND,
            "not_found",
            "no ",
            &format!("bob: {method} {path}"),
        );
    }
    let a = alice.get(&format!("/jobs/{bobs}")).await;
    assert_refused(
        &a,
        StatusCode::NOT_FOUND,
        "not_found",
        &bobs,
        "alice: GET bob's job",
    );
    let a = alice
        .get(&format!("/jobs?cursor={}", "0".repeat(8) + &bobs[8..]))
        .await;
    assert_eq!(
        a.body.as_array().map(Vec::len),
        Some(2),
        "a cursor shows alice only her own"
    );
    assert_eq!(
        alice
            .get(&format!("/runs/{}", run.to_uppercase()))
            .await
            .status,
        StatusCode::OK
    );

    // None of it changed anything: bob's jobs, alice's job that bob tried to delete.
    assert_eq!(listed(&bob).await, bobs_before);
    assert_eq!(
        alice.get(&format!("/jobs/{kept}")).await.body["status"],
        "scheduled"
    );
    let alices = listed(&alice).await;
    assert_eq!(
        alices.iter().map(|j| j.0.clone()).collect::<Vec<_>>(),
        [json!(once), json!(kept)]
    );
}
