//! `distcron jobs`, `runs`, `ticks` and `preview` against a real cluster: each subcommand's
//! JSON is the API's, tables show it, and errors exit 1 with the API's message (2 for usage).

mod support;

use distcron_e2e::{ClusterOptions, TestCluster, eventually};
use serde_json::Value;
use std::time::Duration;
use support::{Cli, s};

/// Jobs without `next_run_at`, which moves on between two reads.
fn stable(v: &Value) -> Value {
    let mut v = v.clone();
    for job in v.as_array_mut().expect("a list") {
        job.as_object_mut().expect("a job").remove("next_run_at");
    }
    v
}

fn opts() -> ClusterOptions {
    ClusterOptions {
        workers: 1,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_made_from_flags_files_and_job_files_are_the_apis_own() {
    let cluster = TestCluster::start_with(opts()).await;
    let alice_api = cluster.user("alice", false).await;
    let alice = Cli::new(&alice_api);

    // From flags: the JSON printed is the API's job, as GET /jobs/{id} answers it.
    let job = alice.json(&[
        "jobs",
        "create",
        "--schedule",
        "0 0 1 1 *",
        "--command",
        "echo hi",
        "--name",
        "hi",
        "--timezone",
        "Europe/Berlin",
        "--timeout",
        "30",
        "--concurrency",
        "forbid",
        "--misfire",
        "skip",
        "--retries",
        "2",
        "--retry-backoff",
        "5",
        "--memory-mb",
        "256",
        "--max-processes",
        "50",
        "--retry-interrupted=false",
    ]);
    let id = s(&job, "id").to_string();
    let api = alice_api.get(&format!("/jobs/{id}")).await.body;
    assert_eq!(job, api);
    assert_eq!(job["type"], "command");
    assert_eq!(job["timezone"], "Europe/Berlin");
    assert_eq!(job["timeout_seconds"], 30);
    assert_eq!(job["concurrency"], "forbid");
    assert_eq!(job["misfire"], "skip");
    assert_eq!(job["retries"], 2);
    assert_eq!(job["retry_backoff_seconds"], 5);
    assert_eq!(job["memory_mb"], 256);
    assert_eq!(job["max_processes"], 50);
    assert_eq!(job["retry_interrupted"], false);

    // From a script file, base64-encoded by the CLI; `--binary` makes a binary job.
    let dir = tempfile::tempdir().expect("dir");
    let script = dir.path().join("hello.sh");
    std::fs::write(&script, "#!/bin/sh\necho hello from a script\n").expect("script");
    let sjob = alice.json(&[
        "jobs",
        "create",
        "--schedule",
        "@daily",
        "--file",
        script.to_str().unwrap(),
        "--idempotency-key",
        "script-1",
    ]);
    assert_eq!(sjob["type"], "script");
    assert_eq!(sjob["sha256"].as_str().map(str::len), Some(64), "{sjob}");
    // The same key and definition: the same job.
    let again = alice.json(&[
        "jobs",
        "create",
        "--schedule",
        "@daily",
        "--file",
        script.to_str().unwrap(),
        "--idempotency-key",
        "script-1",
    ]);
    assert_eq!(again["id"], sjob["id"]);
    let bjob = alice.json(&[
        "jobs",
        "create",
        "--schedule",
        "@daily",
        "--file",
        "/bin/true",
        "--binary",
    ]);
    assert_eq!(bjob["type"], "binary");
    // A large one (past the progress bar's threshold) is streamed up in pieces, whole.
    let big = dir.path().join("big.bin");
    let bytes: Vec<u8> = (0..6 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&big, &bytes).expect("big file");
    let sum = std::process::Command::new("sha256sum")
        .arg(&big)
        .output()
        .expect("sha256sum");
    let sum = String::from_utf8_lossy(&sum.stdout);
    let big_job = alice.json(&[
        "jobs",
        "create",
        "--schedule",
        "@daily",
        "--file",
        big.to_str().unwrap(),
        "--binary",
    ]);
    assert_eq!(
        big_job["sha256"].as_str(),
        sum.split_whitespace().next(),
        "{big_job}"
    );
    alice.json(&["jobs", "delete", s(&big_job, "id")]);

    // From a job file, YAML and JSON; a flag overrides a field of it.
    let yaml = dir.path().join("job.yaml");
    std::fs::write(
        &yaml,
        "type: command\nschedule: '*/5 * * * *'\nexecutable: date\nname: from-yaml\n",
    )
    .expect("yaml");
    let yjob = alice.json(&[
        "jobs",
        "create",
        "-f",
        yaml.to_str().unwrap(),
        "--name",
        "renamed",
    ]);
    assert_eq!(
        (yjob["schedule"].as_str(), yjob["name"].as_str()),
        (Some("*/5 * * * *"), Some("renamed"))
    );
    let jsonf = dir.path().join("job.json");
    std::fs::write(
        &jsonf,
        r#"{"type": "command", "schedule": "@hourly", "executable": "uptime"}"#,
    )
    .expect("json");
    let jjob = alice.json(&["jobs", "create", "-f", jsonf.to_str().unwrap()]);
    assert_eq!(jjob["executable"], "uptime");

    // list: a JSON array of what GET /jobs answers; --all follows the Link header's pages.
    let listed = alice.json(&["jobs", "list"]);
    assert_eq!(stable(&listed), stable(&alice_api.get("/jobs").await.body));
    assert_eq!(listed.as_array().map(Vec::len), Some(6));
    let first_page = alice.json(&["jobs", "list", "--limit", "2"]);
    assert_eq!(first_page.as_array().map(Vec::len), Some(2));
    let paged = alice.json(&["jobs", "list", "--limit", "2", "--all"]);
    assert_eq!(stable(&paged), stable(&listed), "every page, in order");
    let table = alice.table(&["jobs", "list"]);
    assert!(
        table.contains("SCHEDULE") && table.contains(&id) && table.contains("renamed"),
        "{table}"
    );
    assert_eq!(
        alice.json(&["jobs", "list", "--status", "paused"]),
        Value::Array(vec![])
    );

    // get, edit (PATCH: the fields given, --clear unsets), pause, resume.
    assert_eq!(alice.json(&["jobs", "get", &id]), api);
    let edited = alice.json(&[
        "jobs",
        "edit",
        &id,
        "--schedule",
        "0 12 * * *",
        "--clear",
        "name",
    ]);
    assert_eq!(edited["schedule"], "0 12 * * *");
    assert_eq!(edited["name"], Value::Null);
    assert_eq!(edited["version"], 2);
    assert_eq!(edited["timeout_seconds"], 30, "untouched fields stay");
    assert_eq!(alice.json(&["jobs", "pause", &id])["status"], "paused");
    assert_eq!(
        alice
            .json(&["jobs", "list", "--status", "paused"])
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(alice.json(&["jobs", "resume", &id])["status"], "scheduled");
    let shown = alice.table(&["jobs", "get", &id, "--utc"]);
    assert!(
        shown.contains("0 12 * * *") && shown.contains(" UTC"),
        "{shown}"
    );

    // trigger: a run now; runs get/list; kill; the job's runs.
    let sleeper = alice.json(&[
        "jobs",
        "create",
        "--schedule",
        "0 0 1 1 *",
        "--command",
        "echo started; sleep 300",
    ]);
    let sid = s(&sleeper, "id").to_string();
    let run = alice.json(&["jobs", "trigger", &sid, "--idempotency-key", "t-1"]);
    assert_eq!(
        (run["trigger"].as_str(), run["status"].as_str()),
        (Some("manual"), Some("pending"))
    );
    let rid = s(&run, "id").to_string();
    assert_eq!(
        alice.json(&["jobs", "trigger", &sid, "--idempotency-key", "t-1"])["id"],
        run["id"]
    );
    eventually("the run to start", Duration::from_secs(30), || async {
        let r = alice.json(&["runs", "get", &rid]);
        (r["status"] == "running" && r["output"]["stdout"] == "started\n").then_some(())
    })
    .await;
    let under_way = alice.json(&["runs", "list"]);
    assert_eq!(under_way, alice_api.get("/runs").await.body);
    assert!(
        under_way.as_array().unwrap().iter().any(|r| r["id"] == rid),
        "{under_way}"
    );
    assert_eq!(
        alice.json(&["runs", "list", "--status", "pending"]),
        Value::Array(vec![])
    );
    let shown = alice.table(&["runs", "get", &rid]);
    assert!(
        shown.contains("--- stdout ---") && shown.contains("started"),
        "{shown}"
    );
    let killed = alice.json(&["runs", "kill", &rid]);
    assert_eq!(killed["asked"][0], rid.as_str(), "{killed}");
    eventually("the run to end killed", Duration::from_secs(30), || async {
        (alice.json(&["runs", "get", &rid])["status"] == "killed").then_some(())
    })
    .await;
    let of_job = alice.json(&["runs", "list", "--job", &sid]);
    assert_eq!(
        of_job,
        alice_api.get(&format!("/jobs/{sid}/runs")).await.body
    );
    assert!(
        alice
            .table(&["runs", "list", "--job", &sid])
            .contains("killed")
    );
    // jobs kill: nothing under way now.
    let none = alice.json(&["jobs", "kill", &sid]);
    assert_eq!(none["asked"], Value::Array(vec![]), "{none}");

    // ticks: the window's ticks; preview: the next fire times.
    let ticks = alice.json(&[
        "ticks",
        &id,
        "--from",
        "2026-01-01T00:00:00Z",
        "--to",
        "2026-01-03T00:00:00Z",
    ]);
    assert_eq!(ticks["job_id"], id.as_str());
    assert!(ticks["ticks"].is_array(), "{ticks}");
    let preview = alice.json(&[
        "preview",
        "0 9 * * mon-fri",
        "--tz",
        "Europe/Berlin",
        "--count",
        "3",
    ]);
    assert_eq!(
        preview["fire_times"].as_array().map(Vec::len),
        Some(3),
        "{preview}"
    );
    let times = alice.table(&["preview", "@daily", "--count", "2", "--utc"]);
    assert_eq!(times.lines().count(), 2, "{times}");
    assert!(
        times.lines().all(|l| l.ends_with("00:00:00 UTC")),
        "{times}"
    );

    // delete: off the schedule, finished.
    assert_eq!(alice.json(&["jobs", "delete", &sid])["status"], "finished");
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_exit_1_with_the_apis_message_and_usage_errors_exit_2() {
    let cluster = TestCluster::start_with(opts()).await;
    let alice = Cli::new(&cluster.user("alice", false).await);
    let bob = Cli::new(&cluster.user("bob", false).await);
    let job = alice.json(&[
        "jobs",
        "create",
        "--schedule",
        "@daily",
        "--command",
        "true",
    ]);
    let id = s(&job, "id");

    // Another user's job is a 404, told as the API tells it.
    for verb in ["get", "pause", "delete", "trigger"] {
        let err = bob.fails(&["jobs", verb, id], 1);
        assert!(
            err.contains("not_found") && err.contains("404"),
            "{verb}: {err}"
        );
    }
    let err = bob.fails(&["jobs", "edit", id, "--name", "x"], 1);
    assert!(err.contains("not_found"), "{err}");
    // A bad schedule names the field.
    let err = alice.fails(
        &[
            "jobs",
            "create",
            "--schedule",
            "61 * * * *",
            "--command",
            "true",
        ],
        1,
    );
    assert!(err.contains("minute") && err.contains("400"), "{err}");
    let err = alice.fails(&["preview", "* * * * * * * *"], 1);
    assert!(err.contains("error:"), "{err}");
    // Admins only.
    let err = alice.fails(
        &[
            "jobs",
            "create",
            "--schedule",
            "@daily",
            "--command",
            "id",
            "--privileged",
        ],
        1,
    );
    assert!(err.contains("403"), "{err}");
    let err = alice.fails(&["workers", "drain", "worker-1"], 1);
    assert!(err.contains("403"), "{err}");
    // A token the API refuses, and no API at all: exit 1, the token never shown.
    let mut bad = alice.cmd();
    let out = bad
        .env("DISTCRON_TOKEN", "dct_not-a-real-token")
        .args(["jobs", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("401") && !stderr.contains("dct_not-a-real-token"),
        "{stderr}"
    );
    let mut down = alice.cmd();
    let out = down
        .env("DISTCRON_URL", "http://127.0.0.1:9")
        .args(["jobs", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("could not reach http://127.0.0.1:9"),
        "{stderr}"
    );
    alice.assert_no_token(&stderr);
    // HTTPS through HAProxy: its self-signed certificate trusted with --cacert, refused without.
    let tls = cluster.tls_url();
    let cert = distcron_e2e::haproxy::tls().cert.display().to_string();
    let got = alice.json(&["--url", &tls, "--cacert", &cert, "jobs", "get", id]);
    assert_eq!(s(&got, "id"), id);
    let err = alice.fails(&["--url", &tls, "jobs", "get", id], 1);
    assert!(err.contains("certificate"), "{err}");
    alice.assert_no_token(&err);

    // Usage errors: clap's exit code 2, nothing sent.
    alice.fails(&["jobs", "create", "--command", "true"], 2);
    alice.fails(&["jobs", "create", "--schedule", "@daily"], 2);
    alice.fails(
        &[
            "jobs",
            "create",
            "--schedule",
            "@daily",
            "--command",
            "a",
            "--file",
            "b",
        ],
        2,
    );
    alice.fails(&["jobs", "list", "--status", "sleeping"], 2);
    alice.fails(&["jobs", "edit", id], 2);
    alice.fails(&["jobs", "frobnicate"], 2);
    alice.fails(&["--output", "xml", "jobs", "list"], 2);
    // Nothing of it was created.
    assert_eq!(
        alice.json(&["jobs", "list"]).as_array().map(Vec::len),
        Some(1)
    );
}
