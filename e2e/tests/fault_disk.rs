//! A full disk: an executable that cannot be cached fails clearly, and nothing truncated runs.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use distcron_e2e::checks::*;
use distcron_e2e::disk::SmallDisk;
use distcron_e2e::{ClusterOptions, TestCluster, WitnessEntry};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn a_script_too_big_for_the_full_disk_fails_clearly_and_nothing_truncated_runs() {
    let mut cluster = TestCluster::start_with(ClusterOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    // worker-1's work directory (its executable cache) is a 64 KiB filesystem.
    let disk = SmallDisk::mount(&cluster.dir.join("worker-1"), "64k");
    cluster.add_worker(1);
    cluster.wait_healthy("worker-1").await;
    let admin = cluster.admin();
    let witness = cluster.witness("disk");

    // A small script fits, and runs.
    let small = format!("#!/bin/sh\n{}\n", witness.command("small"));
    let small = id_of(
        &admin
            .create_job(
                &json!({"type": "script", "schedule": "@once", "content": STANDARD.encode(small)}),
            )
            .await,
    );
    let run = finished_run(&admin, &small, Duration::from_secs(30)).await;
    assert_eq!(run["status"], "succeeded", "{run}");

    // A 256 KiB script does not. Its first line would tell if any prefix of it were executed.
    let mut big = format!("#!/bin/sh\n{}\nexit 0\n", witness.command("TRUNCATED"));
    while big.len() < 256 * 1024 {
        big.push_str("# padding padding padding padding padding padding padding padding\n");
    }
    let big = id_of(
        &admin
            .create_job(
                &json!({"type": "script", "schedule": "@once", "content": STANDARD.encode(big)}),
            )
            .await,
    );
    let run = finished_run(&admin, &big, Duration::from_secs(30)).await;
    let reason = run["reason"].as_str().unwrap_or_default();
    eprintln!("the big script's run: {reason}");
    assert_eq!(run["status"], "failed", "{run}");
    assert!(
        reason.contains("cannot cache") && reason.contains("No space left on device"),
        "{run}"
    );
    assert!(run["started_at"].is_null(), "never started: {run}");
    let lines: Vec<WitnessEntry> = witness.entries();
    assert!(
        lines.iter().all(|e| e.extra != "TRUNCATED"),
        "a truncated script ran: {lines:?}"
    );
    assert_eq!(lines.len(), 1, "{lines:?}");
    // Nothing half-written is left behind to be mistaken for the script.
    let left: Vec<String> = std::fs::read_dir(disk.dir.join("cache"))
        .expect("cache dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        left,
        vec![
            admin.get(&format!("/jobs/{small}")).await.body["sha256"]
                .as_str()
                .expect("sha256")
                .to_string()
        ],
        "only the small script is cached"
    );
    drop(cluster);
}
