//! Jobs run end to end: command, script and binary jobs go from the API through the manager
//! and ZooKeeper to a worker, which runs them as the right user and records the outcome and the
//! output.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use distcron_e2e::checks::finished_run;
use distcron_e2e::process::processes_with;
use distcron_e2e::{ClusterOptions, TestCluster, epoch_now, epoch_of_json, eventually};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn a_command_job_runs_as_an_unprivileged_user_and_its_output_is_kept() {
    let cluster = TestCluster::start().await;
    let admin = cluster.admin();
    let job = admin
        .create_job(&json!({
            "type": "command",
            "schedule": "* * * * * *",
            "executable": "id -u; id -G; echo \"job=$DISTCRON_JOB_ID attempt=$DISTCRON_ATTEMPT\"; env | sort; echo oops >&2",
        }))
        .await;
    let id = job["id"].as_str().expect("id");
    let run = finished_run(&admin, id, Duration::from_secs(15)).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["exit_code"], 0);
    assert_eq!(run["attempt"], 1);
    assert!(
        run["worker"]
            .as_str()
            .expect("worker")
            .starts_with("worker-")
    );
    let stdout = run["output"]["stdout"].as_str().expect("stdout");
    let uid: u32 = stdout
        .lines()
        .next()
        .expect("a line")
        .trim()
        .parse()
        .expect("a uid");
    assert_ne!(uid, 0, "a non-privileged job never runs as root");
    let groups: Vec<&str> = stdout
        .lines()
        .nth(1)
        .expect("groups")
        .split_whitespace()
        .collect();
    assert_eq!(
        groups.len(),
        1,
        "supplementary groups are dropped: {groups:?}"
    );
    assert_ne!(groups[0], "0");
    // A cleared environment: the documented variables, nothing of the worker's own.
    let names: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, _)| k)
        .collect();
    for expected in [
        "PATH",
        "HOME",
        "USER",
        "TZ",
        "DISTCRON_JOB_ID",
        "DISTCRON_RUN_ID",
        "DISTCRON_SCHEDULED_AT",
        "DISTCRON_ATTEMPT",
        "DISTCRON_WORKER_ID",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    for leaked in names.iter().filter(|n| n.starts_with("DISTCRON_")) {
        assert!(
            [
                "DISTCRON_JOB_ID",
                "DISTCRON_RUN_ID",
                "DISTCRON_SCHEDULED_AT",
                "DISTCRON_ATTEMPT",
                "DISTCRON_WORKER_ID",
                "DISTCRON_JOB_NAME"
            ]
            .contains(leaked),
            "the worker's own setting {leaked} leaked into the job"
        );
    }
    assert!(stdout.contains(&format!("job={id} attempt=1")), "{stdout}");
    assert!(
        run["output"]["stderr"]
            .as_str()
            .expect("stderr")
            .starts_with("oops\n")
    );
    assert_eq!(run["output"]["stdout_truncated"], false);
    // A tick is claimed shortly before its time: shown `claimed` until its process started,
    // never `running` without a start time.
    let claimed = eventually("a claimed run", Duration::from_secs(10), || {
        let admin = admin.clone();
        async move {
            let runs = admin.get(&format!("/jobs/{id}/runs")).await.body;
            let runs = runs.as_array().expect("runs").clone();
            for r in &runs {
                assert!(
                    r["status"] != "running" || r["started_at"].is_string(),
                    "running without a start: {r}"
                );
            }
            runs.into_iter().find(|r| r["status"] == "claimed")
        }
    })
    .await;
    assert!(claimed["started_at"].is_null(), "{claimed}");
    assert!(
        claimed["created_at"].as_str() < claimed["scheduled_at"].as_str(),
        "claimed ahead of its time: {claimed}"
    );
    // The job stays scheduled after a successful run.
    assert_eq!(
        admin.get(&format!("/jobs/{id}")).await.body["status"],
        "scheduled"
    );
    admin.delete(&format!("/jobs/{id}")).await;
}

#[tokio::test]
async fn a_privileged_job_runs_as_root_and_a_failing_job_sets_the_job_in_error() {
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 1,
        ..Default::default()
    })
    .await;
    let admin = cluster.admin();
    let root = admin
        .create_job(&json!({"type": "command", "schedule": "@once", "executable": "id -u", "privileged": true}))
        .await;
    let run = finished_run(
        &admin,
        root["id"].as_str().expect("id"),
        Duration::from_secs(15),
    )
    .await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["output"]["stdout"], "0\n");
    // A one-shot job is finished after its run.
    let id = root["id"].as_str().expect("id").to_string();
    eventually(
        "the one-shot job to be finished",
        Duration::from_secs(10),
        || {
            let admin = admin.clone();
            let id = id.clone();
            async move {
                (admin.get(&format!("/jobs/{id}")).await.body["status"] == "finished").then_some(())
            }
        },
    )
    .await;

    let failing = admin
        .create_job(&json!({"type": "command", "schedule": "* * * * * *", "executable": "exit 3"}))
        .await;
    let fid = failing["id"].as_str().expect("id").to_string();
    let run = finished_run(&admin, &fid, Duration::from_secs(15)).await;
    assert_eq!(run["status"], "failed");
    assert_eq!(run["exit_code"], 3);
    assert_eq!(run["reason"], "exit code 3");
    eventually("the job to be in error", Duration::from_secs(10), || {
        let admin = admin.clone();
        let fid = fid.clone();
        async move { (admin.get(&format!("/jobs/{fid}")).await.body["status"] == "error").then_some(()) }
    })
    .await;
    admin.delete(&format!("/jobs/{fid}")).await;
}

#[tokio::test]
async fn a_script_runs_from_s3_and_a_tampered_object_is_not_executed() {
    let mut cluster = TestCluster::start_with(ClusterOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let admin = cluster.admin();
    let witness = cluster.witness("script");
    let script = format!(
        "#!/bin/sh\necho script ran\n{}\n",
        witness.command("script")
    );
    let good = admin
        .create_job(
            &json!({"type": "script", "schedule": "@once", "content": STANDARD.encode(&script)}),
        )
        .await;
    let evil = format!("#!/bin/sh\n{}\n", witness.command("TAMPERED"));
    let other = format!("#!/bin/sh\necho {}\n", "another script");
    let tampered = admin
        .create_job(
            &json!({"type": "script", "schedule": "@once", "content": STANDARD.encode(&other)}),
        )
        .await;
    // Behind the job's back: the object now holds something else.
    cluster
        .blobs()
        .await
        .overwrite(
            tampered["executable"].as_str().expect("url"),
            bytes::Bytes::from(evil),
        )
        .await
        .expect("overwrite");
    cluster.add_worker(1);
    cluster.wait_healthy("worker-1").await;

    let run = finished_run(
        &admin,
        good["id"].as_str().expect("id"),
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["output"]["stdout"], "script ran\n");

    let run = finished_run(
        &admin,
        tampered["id"].as_str().expect("id"),
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(run["status"], "failed", "{run}");
    assert!(
        run["reason"]
            .as_str()
            .expect("reason")
            .contains("sha256 mismatch"),
        "{run}"
    );
    assert!(run["started_at"].is_null(), "never started: {run}");
    assert!(
        witness
            .lines()
            .iter()
            .all(|l| !l.contains(&"TAMPERED".to_string())),
        "the tampered object ran"
    );
    assert_eq!(witness.lines().len(), 1);
}

#[tokio::test]
async fn a_static_binary_built_here_runs_from_s3() {
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 1,
        ..Default::default()
    })
    .await;
    let admin = cluster.admin();
    // A freestanding x86-64 program: write(1, "hello from a binary\n") and exit(7), no libc.
    let src = cluster.dir.join("hello.c");
    std::fs::write(
        &src,
        r#"
static const char msg[] = "hello from a binary\n";
void _start(void) {
    long ret;
    __asm__ volatile ("syscall" : "=a"(ret) : "a"(1), "D"(1), "S"(msg), "d"(sizeof msg - 1) : "rcx", "r11", "memory");
    __asm__ volatile ("syscall" : : "a"(60), "D"(7) : "rcx", "r11", "memory");
    for (;;) {}
}
"#,
    )
    .expect("source");
    let bin = cluster.dir.join("hello");
    let out = std::process::Command::new("gcc")
        .args(["-static", "-nostdlib", "-O2", "-o"])
        .arg(&bin)
        .arg(&src)
        .output()
        .expect("gcc");
    assert!(
        out.status.success(),
        "gcc failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let binary = std::fs::read(&bin).expect("binary");
    let job = admin
        .create_job(
            &json!({"type": "binary", "schedule": "@once", "content": STANDARD.encode(&binary)}),
        )
        .await;
    let run = finished_run(
        &admin,
        job["id"].as_str().expect("id"),
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(run["status"], "failed", "exit code 7 is a failure: {run}");
    assert_eq!(run["exit_code"], 7);
    assert_eq!(run["output"]["stdout"], "hello from a binary\n");
}

#[tokio::test]
async fn a_timeout_ends_the_whole_process_tree_including_setsid_children() {
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 1,
        ..Default::default()
    })
    .await;
    let admin = cluster.admin();
    let marker = format!("{}", 1000 + rand_suffix());
    // A background child, a setsid child and the main process all sleep far past the timeout.
    let command = format!("sleep {marker}.1 & setsid sleep {marker}.2 & sleep {marker}.3");
    let job = admin
        .create_job(&json!({"type": "command", "schedule": "@once", "executable": command, "timeout_seconds": 1}))
        .await;
    let run = finished_run(
        &admin,
        job["id"].as_str().expect("id"),
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(run["status"], "timed_out", "{run}");
    assert!(
        run["reason"]
            .as_str()
            .expect("reason")
            .contains("timed out after 1 s")
    );
    let survivors = eventually(
        "every process of the run to be gone",
        Duration::from_secs(5),
        || {
            let marker = marker.clone();
            async move {
                let left = processes_with(&format!("sleep {marker}"));
                left.is_empty().then_some(left)
            }
        },
    )
    .await;
    assert!(survivors.is_empty());
}

fn rand_suffix() -> u32 {
    std::process::id() % 50_000
        + (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_micros())
            .unwrap_or(0)
            % 1000)
}

/// A local account the test creates, removed again when dropped.
struct Account(String);

impl Account {
    fn create(name: &str) -> Account {
        let out = std::process::Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                name,
            ])
            .output()
            .expect("useradd");
        assert!(
            out.status.success(),
            "useradd: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Account(name.to_string())
    }
}

impl Drop for Account {
    fn drop(&mut self) {
        let _ = std::process::Command::new("userdel").arg(&self.0).output();
    }
}

#[tokio::test]
async fn a_run_as_account_created_after_a_failed_run_is_used_from_the_next_run_on() {
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 1,
        ..Default::default()
    })
    .await;
    let admin = cluster.admin();
    let name = format!("dc{}", cluster.name);
    let job = admin
        .create_job(&json!({"type": "command", "schedule": "* * * * * *", "executable": "id -un", "run_as": name}))
        .await;
    let id = job["id"].as_str().expect("id");
    let run = finished_run(&admin, id, Duration::from_secs(15)).await;
    assert_eq!(run["status"], "failed", "{run}");
    assert!(
        run["reason"]
            .as_str()
            .expect("reason")
            .contains(&format!("no user `{name}`")),
        "{run}"
    );
    assert!(
        run["started_at"].is_null(),
        "a run whose process could not start shows no start: {run}"
    );
    let _account = Account::create(&name);
    let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let ran = eventually("a run as the new account", Duration::from_secs(15), || {
        let admin = admin.clone();
        let created = created.clone();
        async move {
            let runs = admin.get(&format!("/jobs/{id}/runs")).await.body;
            runs.as_array()?
                .iter()
                .find(|r| {
                    r["status"] == "succeeded"
                        && r["scheduled_at"]
                            .as_str()
                            .is_some_and(|t| t > created.as_str())
                })
                .map(|r| r["id"].as_str().unwrap_or_default().to_string())
        }
    })
    .await;
    let run = admin.get(&format!("/runs/{ran}")).await.body;
    assert_eq!(run["output"]["stdout"], format!("{name}\n"), "{run}");
    admin.delete(&format!("/jobs/{id}")).await;
}

#[tokio::test]
async fn a_run_shows_running_with_the_moment_its_process_started_while_it_runs() {
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 1,
        ..Default::default()
    })
    .await;
    let admin = cluster.admin();
    let witness = cluster.witness("long");
    // Every 10 s, claimed half a second ahead of its tick: the claim, the tick and the process's
    // start are three different moments, and started_at must be the last.
    let job = admin
        .create_job(&json!({
            "type": "command", "schedule": "*/10 * * * * *", "concurrency": "forbid",
            "executable": format!("{}; sleep 6", witness.command("long")),
        }))
        .await;
    let id = job["id"].as_str().expect("id").to_string();
    let entry = eventually("the process to start", Duration::from_secs(25), || {
        let e = witness.entries().into_iter().next();
        async move { e }
    })
    .await;
    // Within a second of its process's own start, the API shows the run running, started.
    let run = eventually("the run to show running", Duration::from_secs(5), || {
        let admin = admin.clone();
        let id = id.clone();
        async move {
            let runs = admin.get(&format!("/jobs/{id}/runs")).await.body;
            runs.as_array()?
                .iter()
                .find(|r| r["status"] == "running")
                .cloned()
        }
    })
    .await;
    let seen = epoch_now();
    assert!(
        seen - entry.started < 1.0,
        "shown running {:.3} s after its process started",
        seen - entry.started
    );
    let started = epoch_of_json(&run["started_at"]);
    let scheduled = epoch_of_json(&run["scheduled_at"]);
    assert!(
        started >= scheduled && started <= entry.started + 0.005 && entry.started - started < 0.2,
        "started_at {started:.3} is not the spawn: tick {scheduled:.3}, the process's own start {:.3}",
        entry.started
    );
    let run_id = run["id"].as_str().expect("run id");
    let one = admin.get(&format!("/runs/{run_id}")).await.body;
    assert_eq!(one["status"], "running", "{one}");
    assert_eq!(one["started_at"], run["started_at"]);
    assert!(one["finished_at"].is_null());
    // The run is still going: the start was recorded on its own, not with the outcome.
    assert!(
        epoch_now() - entry.started < 5.0,
        "the checks above took too long to show the run while it runs"
    );
    admin.delete(&format!("/jobs/{id}")).await;
    let done = eventually("the run to end", Duration::from_secs(20), || {
        let admin = admin.clone();
        let path = format!("/runs/{run_id}");
        async move {
            let r = admin.get(&path).await.body;
            (r["status"] != "running").then_some(r)
        }
    })
    .await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(
        done["started_at"], run["started_at"],
        "the outcome keeps the start"
    );
}

#[tokio::test]
async fn a_run_starts_in_its_users_home_or_else_in_tmp() {
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 1,
        ..Default::default()
    })
    .await;
    let admin = cluster.admin();
    // root's home exists, as does daemon's (/usr/sbin); nobody's (/nonexistent) does not.
    for (options, home) in [
        (json!({"privileged": true}), "/root"),
        (json!({"run_as": "daemon"}), "/usr/sbin"),
        (json!({}), "/tmp"),
    ] {
        let mut body =
            json!({"type": "command", "schedule": "@once", "executable": "pwd; echo $HOME"});
        for (k, v) in options.as_object().expect("options") {
            body[k] = v.clone();
        }
        let job = admin.create_job(&body).await;
        let run = finished_run(
            &admin,
            job["id"].as_str().expect("id"),
            Duration::from_secs(15),
        )
        .await;
        assert_eq!(run["status"], "succeeded", "{run}");
        let stdout = run["output"]["stdout"].as_str().expect("stdout");
        assert_eq!(
            stdout.lines().next(),
            Some(home),
            "{options}: started in {stdout:?}"
        );
    }
}
