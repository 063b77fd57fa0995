//! An S3 outage: cached executables still run, others fail saying why, commands are unaffected, and
//! uploads answer 503.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use distcron_e2e::checks::*;
use distcron_e2e::s3::PrivateS3;
use distcron_e2e::{ClusterOptions, TestCluster, epoch_now, unique_name};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test]
async fn with_s3_down_cached_scripts_and_commands_run_and_uncached_scripts_fail_naming_s3() {
    let mut s3 = PrivateS3::start(&unique_name()).await;
    let mut cluster = TestCluster::start_with(ClusterOptions {
        workers: 1,
        s3: Some(s3.endpoint()),
        ..Default::default()
    })
    .await;
    let admin = cluster.admin();
    let witness = cluster.witness("s3");
    let script = |extra: &str| STANDARD.encode(format!("#!/bin/sh\n{}\n", witness.command(extra)));

    // A script that worker-1 runs, and so has in its cache.
    let cached = admin
        .create_job(
            &json!({"type": "script", "schedule": "* * * * * *", "content": script("cached")}),
        )
        .await;
    let cached_id = id_of(&cached);
    each_runs_after(
        &witness,
        std::slice::from_ref(&cached_id),
        0.0,
        "the script to run",
        Duration::from_secs(30),
    )
    .await;
    let sha = cached["sha256"].as_str().expect("sha256");
    assert!(
        cluster.dir.join("worker-1/cache").join(sha).is_file(),
        "the script is in worker-1's cache"
    );
    // A script that no worker has fetched: created while worker-1 is down.
    cluster.kill("worker-1");
    let uncached = id_of(
        &admin
            .create_job(
                &json!({"type": "script", "schedule": "@once", "content": script("uncached")}),
            )
            .await,
    );

    s3.stop();
    let stopped = epoch_now();
    // Uploads fail with 503, promptly.
    let started = Instant::now();
    let a = admin
        .try_request(
            Method::POST,
            "/jobs",
            Some(&json!({"type": "script", "schedule": "@hourly", "content": script("lost")})),
        )
        .await
        .expect("an answer, not a hang");
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE, "{}", a.body);
    assert!(a.error().contains("S3"), "{}", a.body);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "503 took {:?}",
        started.elapsed()
    );
    // Command jobs need no S3 at all.
    let command = id_of(&admin.create_job(&every_second(&witness, "command")).await);
    cluster.restart("worker-1").await;

    // The cached script runs from the verified cache, and the command runs.
    each_runs_after(
        &witness,
        &[cached_id.clone(), command.clone()],
        stopped,
        "the cached script and the command to run with S3 down",
        Duration::from_secs(30),
    )
    .await;
    // The script never fetched fails, and says S3 is why.
    let run = finished_run(&admin, &uncached, Duration::from_secs(30)).await;
    assert_eq!(run["status"], "failed", "{run}");
    let reason = run["reason"].as_str().expect("reason");
    eprintln!("the uncached script's run: {reason}");
    assert!(reason.contains("S3"), "{run}");
    assert!(run["started_at"].is_null(), "never started: {run}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop_jobs(&cluster, &[cached_id.clone(), command.clone()], &witness).await;

    let entries = witness.entries();
    assert_no_duplicates(&entries);
    assert!(
        entries.iter().all(|e| e.job != uncached),
        "the uncached script ran"
    );
    for job in [&cached_id, &command] {
        let rows = rows_of(&cluster, job).await;
        assert_every_second_accounted(job, &entries, &rows);
        let during = entries
            .iter()
            .filter(|e| e.job == *job && e.started > stopped)
            .count();
        assert!(during >= 2, "{job} ran {during} times with S3 down");
    }
}
