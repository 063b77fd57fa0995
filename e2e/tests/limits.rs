//! A job is bounded: its runs' memory, CPU and processes are limited by their cgroup, with the
//! workers' defaults for jobs that name nothing; a run killed by a bound says so; a job goes
//! only to a worker whose ceilings cover what it names.

use distcron_e2e::checks::{finished_run, stdout_report};
use distcron_e2e::{ClusterOptions, TestCluster, eventually};
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

/// A cluster of one worker whose runs get at most 64 processes unless their job says more.
async fn bounded_cluster() -> TestCluster {
    TestCluster::start_with(ClusterOptions {
        workers: 1,
        worker_env: vec![("DISTCRON_RUN_DEFAULTS__MAX_PROCESSES".into(), "64".into())],
        ..Default::default()
    })
    .await
}

#[tokio::test]
async fn a_run_over_its_memory_limit_fails_with_the_reason_and_one_within_it_succeeds() {
    let cluster = bounded_cluster().await;
    let alice = cluster.user("alice", false).await;
    let hog = |mb: u32| format!("python3 -c 'b = bytearray({mb} << 20); print(\"held\", len(b))'");
    let over = alice
        .create_job(&json!({"type": "command", "schedule": "@once", "memory_mb": 64, "executable": hog(256)}))
        .await;
    assert_eq!(over["memory_mb"], 64, "{over}");
    let within = alice
        .create_job(&json!({"type": "command", "schedule": "@once", "memory_mb": 128, "executable": hog(16)}))
        .await;
    let run = finished_run(
        &alice,
        over["id"].as_str().expect("id"),
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(run["status"], "failed", "{run}");
    let reason = run["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("killed by its memory limit") && reason.contains("64 MiB"),
        "{run}"
    );
    let run = finished_run(
        &alice,
        within["id"].as_str().expect("id"),
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(run["status"], "succeeded", "{run}");
}

#[tokio::test]
async fn a_fork_bomb_in_a_job_without_options_stops_at_the_default_process_limit() {
    let cluster = bounded_cluster().await;
    let alice = cluster.user("alice", false).await;
    let witness = cluster.witness("beside");
    let beside = cluster
        .admin()
        .create_job(&json!({"type": "command", "schedule": "* * * * * *", "executable": witness.command("tick")}))
        .await;
    let bomb = alice
        .create_job(&json!({
            "type": "command", "schedule": "@once", "timeout_seconds": 6,
            // The classic bomb, then a loop that keeps the run alive until its timeout.
            "executable": "bomb() { bomb & bomb & wait; }; bomb; while :; do sleep 1; done",
        }))
        .await;
    // While it runs, the worker answers and another owner's every-second job keeps running.
    let worker = reqwest::Client::new();
    let health = cluster.url_of("worker-1") + "/healthz";
    let ticks_before = witness.entries().len();
    for _ in 0..5 {
        let r = worker
            .get(&health)
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .expect("the worker answers during the fork bomb");
        assert_eq!(r.status(), StatusCode::OK);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let run = finished_run(
        &alice,
        bomb["id"].as_str().expect("id"),
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(run["status"], "timed_out", "{run}");
    let reason = run["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("forks were refused at its process limit of 64 (max_processes)"),
        "{run}"
    );
    eventually(
        "the other job to keep running",
        Duration::from_secs(10),
        || {
            let n = witness.entries().len();
            async move { (n >= ticks_before + 3).then_some(()) }
        },
    )
    .await;
    let _ = cluster
        .admin()
        .delete(&format!("/jobs/{}", beside["id"].as_str().expect("id")))
        .await;
}

#[tokio::test]
async fn cpu_millis_throttles_a_busy_run() {
    let cluster = bounded_cluster().await;
    let alice = cluster.user("alice", false).await;
    // Spins for 2 s of wall time and reports its CPU time and its cgroup's throttling, read
    // from the cpu controller's cpu.stat (v1 or v2, whichever the host bounds CPU with).
    let probe = r#"python3 - <<'EOF'
import time
start = time.time()
while time.time() - start < 2:
    pass
print("cpu=%.3f" % time.process_time())
for line in open("/proc/self/cgroup"):
    _, controllers, path = line.strip().split(":", 2)
    if "cpu" in controllers.split(","):
        base = "/sys/fs/cgroup/" + controllers.split(",")[0] + path
        break
else:
    base = "/sys/fs/cgroup" + [l for l in open("/proc/self/cgroup") if l.startswith("0::")][0].strip()[3:]
stat = dict(l.split() for l in open(base + "/cpu.stat"))
print("nr_throttled=%s" % stat["nr_throttled"])
EOF"#;
    let job = alice
        .create_job(&json!({"type": "command", "schedule": "@once", "cpu_millis": 200, "executable": probe}))
        .await;
    let run = finished_run(
        &alice,
        job["id"].as_str().expect("id"),
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let r = stdout_report(&run);
    let cpu: f64 = r["cpu"].parse().expect("cpu seconds");
    let throttled: u64 = r["nr_throttled"].parse().expect("nr_throttled");
    eprintln!("2 s of spinning at cpu_millis 200: {cpu:.3} s of CPU, throttled {throttled} times");
    assert!(throttled > 0, "{run}");
    // A fifth of a core over 2 s is 0.4 s; unthrottled it would be close to 2 s.
    assert!(cpu < 0.8, "{run}");
}

#[tokio::test]
async fn a_job_goes_only_to_a_worker_whose_ceilings_cover_it_and_bad_values_are_refused() {
    let mut cluster = TestCluster::start_with(ClusterOptions {
        workers: 0,
        worker_env: vec![("DISTCRON_RUN_CEILINGS__MEMORY_MB".into(), "256".into())],
        ..Default::default()
    })
    .await;
    cluster.add_worker(1);
    cluster.add_worker(2);
    cluster.add_worker_with(
        3,
        vec![("DISTCRON_RUN_CEILINGS__MEMORY_MB".into(), "4096".into())],
    );
    for w in ["worker-1", "worker-2", "worker-3"] {
        cluster.wait_healthy(w).await;
    }
    let admin = cluster.admin();
    let workers = eventually("three registered workers", Duration::from_secs(15), || {
        let admin = admin.clone();
        async move {
            let w = admin.get("/workers").await.body;
            (w.as_array().map_or(0, Vec::len) == 3).then_some(w)
        }
    })
    .await;
    for w in workers.as_array().expect("workers") {
        let want = if w["id"] == "worker-3" { 4096 } else { 256 };
        assert_eq!(w["ceilings"]["memory_mb"], want, "{workers}");
        assert!(
            w["ceilings"]["max_processes"].as_u64().unwrap_or(0) > 0,
            "{workers}"
        );
    }
    let mut ids = Vec::new();
    for _ in 0..4 {
        let job = admin
            .create_job(&json!({"type": "command", "schedule": "@once", "memory_mb": 1024, "executable": "true"}))
            .await;
        ids.push(job["id"].as_str().expect("id").to_string());
    }
    for id in &ids {
        let run = finished_run(&admin, id, Duration::from_secs(20)).await;
        assert_eq!(run["status"], "succeeded", "{run}");
        assert_eq!(run["worker"], "worker-3", "{run}");
    }
    // A job no live worker could ever bound is refused, naming why, not left unplaced.
    let huge = admin
        .post(
            "/jobs",
            &json!({"type": "command", "schedule": "@once", "memory_mb": 100_000, "executable": "true"}),
        )
        .await;
    assert_eq!(huge.status, StatusCode::CONFLICT, "{}", huge.body);
    let why = huge.body["error"].as_str().unwrap_or_default();
    assert!(
        why.contains("worker-3: memory_mb 100000 is above the ceiling of 4096"),
        "{}",
        huge.body
    );
    for (body, needle) in [
        (json!({"memory_mb": 0}), "memory_mb must be between"),
        (json!({"cpu_millis": 5}), "cpu_millis must be between"),
        (json!({"max_processes": 0}), "max_processes must be between"),
        (json!({"memory_mb": "lots"}), "memory_mb"),
    ] {
        let mut job = json!({"type": "command", "schedule": "@once", "executable": "true"});
        for (k, v) in body.as_object().expect("object") {
            job[k] = v.clone();
        }
        let a = admin.post("/jobs", &job).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{job}: {}", a.body);
        assert!(
            a.body["error"]
                .as_str()
                .unwrap_or_default()
                .contains(needle),
            "{}",
            a.body
        );
    }
}
