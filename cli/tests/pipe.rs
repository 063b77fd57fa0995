//! A reader that goes away early (`distcron jobs list | head -1`): a quiet end, not a panic.

mod support;

use distcron_e2e::{ClusterOptions, TestCluster};
use serde_json::json;
use std::process::Command;
use support::Cli;

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_pipe_ends_the_listing_quietly() {
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 1,
        ..Default::default()
    })
    .await;
    let alice_api = cluster.user("alice", false).await;
    let alice = Cli::new(&alice_api);
    // Far more than a pipe holds (64 KiB), so that the write meets the closed end.
    let name = "x".repeat(200);
    for i in 0..300 {
        alice_api
            .create_job(&json!({"type": "command", "schedule": "0 0 1 1 *",
                                "executable": format!("echo {i}"), "name": name}))
            .await;
    }
    let bin = assert_cmd::cargo_bin!("distcron");
    for format in ["json", "table"] {
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "'{}' -o {format} jobs list | head -1 >/dev/null",
                bin.display()
            ))
            .env("DISTCRON_URL", &alice.url)
            .env("DISTCRON_TOKEN", &alice.token)
            .env("HOME", alice.home.path())
            .env("XDG_CONFIG_HOME", alice.home.path().join("xdg"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{format}: {stderr}");
        assert!(stderr.is_empty(), "{format}: {stderr}");
    }
    // The exit status itself, the reader closing after one line.
    let mut child = Command::new(bin)
        .args(["-o", "json", "jobs", "list"])
        .env("DISTCRON_URL", &alice.url)
        .env("DISTCRON_TOKEN", &alice.token)
        .env("HOME", alice.home.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
