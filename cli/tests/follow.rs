//! `distcron logs -f` through a dropped connection: each API server behind HAProxy is killed
//! in turn while a run prints, and the follower reconnects with `Last-Event-ID`, so every line
//! arrives once, in order, and the outcome still decides the exit code.

mod support;

use distcron_e2e::{ClusterOptions, TestCluster};
use std::time::Duration;
use support::{Cli, s};

#[tokio::test(flavor = "multi_thread")]
async fn a_follower_resumes_where_it_was_when_its_api_server_dies() {
    let mut cluster = TestCluster::start_with(ClusterOptions {
        workers: 1,
        ..Default::default()
    })
    .await;
    let alice = Cli::new(&cluster.user("alice", false).await);
    let printer = "for i in $(seq 1 24); do echo line $i; sleep 0.5; done";
    let job = alice.json(&[
        "jobs",
        "create",
        "--schedule",
        "0 0 1 1 *",
        "--command",
        printer,
    ]);
    let run = alice.json(&["jobs", "trigger", s(&job, "id")]);
    let rid = s(&run, "id").to_string();

    let (child, rx) = alice.spawn(&["logs", "-f", &rid]);
    let mut seen = Vec::new();
    let next = |seen: &mut Vec<String>| {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("a line within 30 s");
        seen.push(line);
    };
    next(&mut seen);
    // Whichever server holds the stream dies once; the other is up meanwhile.
    for api in ["api-1", "api-2"] {
        cluster.kill(api);
        next(&mut seen);
        cluster.restart(api).await;
        next(&mut seen);
    }
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    seen.extend(rx.iter());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected: Vec<String> = (1..=24).map(|i| format!("line {i}")).collect();
    assert_eq!(seen, expected, "every line once, in order: {stderr}");
    assert!(stderr.contains("reconnecting"), "{stderr}");
    assert!(stderr.contains(&format!("run {rid} succeeded")), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    alice.assert_no_token(&stderr);
}

#[test]
fn a_first_connection_that_fails_is_an_error_at_once() {
    let home = tempfile::tempdir().unwrap();
    let out = assert_cmd::Command::new(assert_cmd::cargo_bin!("distcron"))
        .env("DISTCRON_URL", "http://127.0.0.1:1")
        .env("DISTCRON_TOKEN", "dc_not_a_token")
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join("xdg"))
        .args(["logs", "-f", "00000000-0000-0000-0000-000000000000"])
        .timeout(Duration::from_secs(5))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("reconnecting"), "{stderr}");
}
