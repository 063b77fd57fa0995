//! Hostile job bodies, end to end through HAProxy: every string field of a job, with SQL
//! metacharacters, NUL and control characters, over-long values, unicode and path traversal.
//! Each is either stored and shown back byte for byte (through the API and in MySQL) or refused
//! with a 4xx in the API's JSON shape that names the problem; and none of it changes what
//! another user has. `hostile_users.rs` does users and unreadable bodies, `hostile_paths.rs`
//! and `hostile_raw.rs` ids and queries.

mod hostile_common;

use distcron_e2e::{ApiClient, ClusterOptions, TestCluster};
use hostile_common::{SQL, UNICODE, assert_refused};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A command job with `field` set to `value`.
fn job_with(field: &str, value: Value) -> Value {
    let mut body = json!({"type": "command", "executable": "true", "schedule": "@yearly"});
    body[field] = value;
    body
}

/// `owner`'s jobs as (id, name, executable, status, version), as that owner lists them.
async fn listed(client: &ApiClient) -> Vec<(Value, Value, Value, Value, Value)> {
    let a = client.get("/jobs").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    a.body
        .as_array()
        .expect("array")
        .iter()
        .map(|j| {
            (
                j["id"].clone(),
                j["name"].clone(),
                j["executable"].clone(),
                j["status"].clone(),
                j["version"].clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn hostile_job_fields_are_stored_byte_for_byte_or_refused_naming_the_field() {
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let admin = cluster.admin();
    let alice = cluster.user("alice", false).await;
    let bob = cluster.user("bob", false).await;
    bob.create_job(&job_with("name", json!("bob's"))).await;
    let bobs_before = listed(&bob).await;
    let db = cluster.db().await;

    // Accepted: stored and shown back exactly, by the answer, by GET and by MySQL itself.
    let minutes = (0..60).map(|m| m.to_string()).collect::<Vec<_>>().join(",");
    let longest_schedule = format!("{minutes}{} 0 * * *", " ".repeat(255 - minutes.len() - 8));
    assert_eq!(longest_schedule.len(), 255);
    let mut accepted: Vec<(&str, String)> = Vec::new();
    for s in SQL {
        accepted.push(("name", s.to_string()));
        accepted.push(("executable", format!("echo {s}")));
    }
    accepted.extend([
        ("name", UNICODE.to_string()),
        ("name", "🦀".repeat(255)),
        ("name", "../../etc/passwd  ".to_string()),
        (
            "executable",
            format!("printf '%s\\t\\r\\n\\u{{1b}}[31m' {UNICODE}"),
        ),
        ("executable", "echo \t\r\n\u{1b}[31m red".to_string()),
        (
            "executable",
            format!("cat ../../etc/passwd # {}", "x".repeat(16 * 1024 - 23)),
        ),
        ("schedule", longest_schedule),
        ("schedule", "0\u{A0}0 * * *".to_string()),
    ]);
    let mut alices = Vec::new();
    for (field, value) in &accepted {
        let job = alice.create_job(&job_with(field, json!(value))).await;
        let id = job["id"].as_str().expect("id").to_string();
        let shown = alice.get(&format!("/jobs/{id}")).await;
        for answer in [&job, &shown.body] {
            assert_eq!(answer[*field].as_str(), Some(value.as_str()), "{field}");
        }
        let (name, executable, schedule): (Option<Vec<u8>>, Vec<u8>, Vec<u8>) = sqlx::query_as(
            "SELECT CAST(name AS BINARY), CAST(executable AS BINARY), CAST(schedule AS BINARY) \
             FROM jobs WHERE id = ?",
        )
        .bind(&id)
        .fetch_one(&db)
        .await
        .expect("job row");
        let stored = match *field {
            "name" => name.expect("a name"),
            "executable" => executable,
            _ => schedule,
        };
        assert_eq!(stored, value.as_bytes(), "{field} in MySQL");
        alices.push(id);
    }
    let alices_list = listed(&alice).await;
    assert_eq!(
        alices_list.iter().map(|j| j.0.clone()).collect::<Vec<_>>(),
        alices.iter().map(|id| json!(id)).collect::<Vec<_>>(),
        "alice lists exactly her jobs"
    );

    // Refused, by a 400 that says which field is wrong and why.
    let mb = "x".repeat(1024 * 1024);
    let kb = "x".repeat(100 * 1024);
    let mut refused: Vec<(Value, StatusCode, &str, &str)> = Vec::new();
    let bad = |f: &str, v: &str, code: &'static str, needle: &'static str| {
        (job_with(f, json!(v)), StatusCode::BAD_REQUEST, code, needle)
    };
    for v in [
        "a\0b",
        "bell\u{7}",
        "\u{1b}[2J",
        "\u{9f}",
        &"n".repeat(256),
        &kb,
        &mb,
    ] {
        refused.push(bad(
            "name",
            v,
            "invalid_job",
            "name must be 1 to 255 characters",
        ));
    }
    refused.push(bad("name", "", "invalid_job", "name must be"));
    refused.push(bad("executable", "true\0rm -rf /", "invalid_job", "NUL"));
    for v in [&"x".repeat(16 * 1024 + 1), &kb, &mb] {
        refused.push(bad(
            "executable",
            v,
            "invalid_job",
            "longer than 16384 bytes",
        ));
    }
    for v in SQL
        .into_iter()
        .chain(["../../etc/passwd", "UTC\0", "Etc/../UTC", UNICODE, &mb])
    {
        refused.push(bad("timezone", v, "invalid_timezone", "unknown time zone"));
    }
    for s in SQL {
        refused.push(bad("schedule", s, "invalid_schedule", "field"));
        refused.push(bad("type", s, "invalid_type", "unknown job type"));
        refused.push(bad(
            "concurrency",
            s,
            "invalid_option",
            "unknown concurrency",
        ));
        refused.push(bad(
            "misfire",
            s,
            "invalid_option",
            "unknown misfire policy",
        ));
    }
    let too_long = "longer than 255 bytes";
    refused.extend([
        bad(
            "schedule",
            "@daily\0",
            "invalid_schedule",
            "unknown schedule macro",
        ),
        bad("schedule", "0 0 * * *\0", "invalid_schedule", "day-of-week"),
        bad("schedule", "🦀 * * * *", "invalid_schedule", "minute"),
        bad(
            "schedule",
            "../../etc/passwd",
            "invalid_schedule",
            "found 1",
        ),
        bad(
            "schedule",
            &format!("{minutes} {minutes} * * * *"),
            "invalid_schedule",
            too_long,
        ),
        bad(
            "schedule",
            &format!("0 {} 0 * * *", " ".repeat(300)),
            "invalid_schedule",
            too_long,
        ),
        bad(
            "schedule",
            &vec!["1"; 200_000].join(","),
            "invalid_schedule",
            too_long,
        ),
        bad("schedule", &mb, "invalid_schedule", too_long),
        bad("type", "command\0", "invalid_type", "unknown job type"),
        bad("type", &mb, "invalid_type", "unknown job type"),
        bad("misfire", "\0", "invalid_option", "unknown misfire policy"),
    ]);
    for v in SQL
        .into_iter()
        .chain(["../../etc/passwd", "root\0", UNICODE, &mb])
    {
        // A non-admin may not name one at all; an admin must name a valid one.
        refused.push((
            job_with("run_as", json!(v)),
            StatusCode::FORBIDDEN,
            "forbidden",
            "run_as",
        ));
    }
    for (body, status, code, needle) in &refused {
        let a = alice.try_request(Method::POST, "/jobs", Some(body)).await;
        let a = a.unwrap_or_else(|e| panic!("POST /jobs: no answer: {e}"));
        let what = body.to_string();
        assert_refused(
            &a,
            *status,
            code,
            needle,
            &what[..what.floor_char_boundary(200)],
        );
    }
    for v in SQL
        .into_iter()
        .chain(["../../etc/passwd", "root\0", UNICODE, &mb])
    {
        let a = admin.post("/jobs", &job_with("run_as", json!(v))).await;
        assert_refused(
            &a,
            StatusCode::BAD_REQUEST,
            "invalid_job",
            "is not a valid user name",
            "run_as",
        );
    }

    // The preview reads schedules as POST does, and refuses an over-long one the same way.
    let a = admin
        .get(&format!(
            "/schedule/preview?schedule={}",
            "1,".repeat(200) + "1+*+*+*+*"
        ))
        .await;
    assert_refused(
        &a,
        StatusCode::BAD_REQUEST,
        "invalid_schedule",
        too_long,
        "preview",
    );

    // Nothing leaked across users, nothing was dropped or added.
    assert_eq!(
        listed(&bob).await,
        bobs_before,
        "bob's jobs are as they were"
    );
    assert_eq!(
        listed(&alice).await,
        alices_list,
        "alice's jobs are as they were"
    );
    for id in &alices {
        let a = bob.get(&format!("/jobs/{id}")).await;
        assert_refused(
            &a,
            StatusCode::NOT_FOUND,
            "not_found",
            id,
            "bob reading alice's job",
        );
    }
    let (jobs, users): (i64, i64) =
        sqlx::query_as("SELECT (SELECT COUNT(*) FROM jobs), (SELECT COUNT(*) FROM users)")
            .fetch_one(&db)
            .await
            .expect("both tables are still there");
    assert_eq!((jobs, users), (alices.len() as i64 + 1, 3));
}
