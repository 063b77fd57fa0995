//! A user's session: `login` (a private file, later commands need no environment), `logs`
//! and `logs -f` (live, then the outcome and its exit code), and the admin's nouns: `workers`,
//! `users`, `audit`. And `completions`, which needs no cluster.

mod support;

use distcron_e2e::{ClusterOptions, TestCluster, eventually};
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;
use support::{Cli, s, texts};

#[tokio::test(flavor = "multi_thread")]
async fn login_saves_a_private_file_and_logs_follow_a_run_live_to_its_outcome() {
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 2,
        ..Default::default()
    })
    .await;
    let alice = Cli::new(&cluster.user("alice", false).await);

    // A token the API refuses is not saved, nor shown.
    let out = alice
        .bare()
        .args(["login", "--url", &alice.url])
        .write_stdin("dct_wrong\n")
        .output()
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("401") && !stderr.contains("dct_wrong"),
        "{stderr}"
    );
    assert!(!alice.config_file().exists());

    // The token from stdin, never echoed; the file is 0600 in a 0700 directory.
    let out = alice
        .bare()
        .args(["login", "--url", &alice.url])
        .write_stdin(format!("{}\n", alice.token))
        .output()
        .unwrap();
    let (stdout2, stderr) = texts(&out);
    assert!(out.status.success(), "{stderr}");
    alice.assert_no_token(&format!("{stdout}{stdout2}{stderr}"));
    let file = alice.config_file();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(file.parent().unwrap()), 0o700);
    // Later commands need no URL or token of their own.
    let listed = alice
        .bare()
        .args(["-o", "json", "jobs", "list"])
        .output()
        .unwrap();
    assert!(listed.status.success(), "{}", texts(&listed).1);
    // A flag beats the file: a wrong --token is refused.
    let out = alice
        .bare()
        .args(["jobs", "list", "--token", "dct_flag"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));

    // logs -f: each line as it is printed, stdout and stderr apart, then the outcome.
    let printer = "for i in 1 2 3 4 5; do echo line $i; sleep 1; done; echo oops >&2; exit 3";
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
    let mut child = std::process::Command::new(assert_cmd::cargo_bin!("distcron"))
        .args(["logs", "-f", &rid])
        .env_remove("DISTCRON_URL")
        .env_remove("DISTCRON_TOKEN")
        .env("HOME", alice.home.path())
        .env("XDG_CONFIG_HOME", alice.home.path().join("xdg"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("distcron logs -f");
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let _ = tx.send(line.unwrap_or_default());
        }
    });
    let first = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("a first line");
    assert_eq!(first, "line 1");
    // It came while the run was still running: live, not at the end.
    let now = alice.json(&["runs", "get", &rid]);
    assert_eq!(now["status"], "running", "{now}");
    let status = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let rest: Vec<String> = rx.iter().collect();
    assert_eq!(rest, ["line 2", "line 3", "line 4", "line 5"]);
    let stderr = String::from_utf8_lossy(&status.stderr);
    assert_eq!(status.status.code(), Some(1), "a failed run: {stderr}");
    assert!(stderr.starts_with("oops\n"), "{stderr}");
    assert!(
        stderr.contains(&format!("run {rid} failed, exit code 3")),
        "{stderr}"
    );

    // Without -f: the output written, each stream to its own; -o json: the chunks.
    let out = alice.cmd().args(["logs", &rid]).output().unwrap();
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success());
    assert_eq!(stdout, "line 1\nline 2\nline 3\nline 4\nline 5\n");
    assert_eq!(stderr, "oops\n");
    let chunks = alice.json(&["logs", &rid]);
    assert!(chunks.as_array().is_some_and(|c| !c.is_empty()), "{chunks}");

    // A run that succeeds: exit 0, even when it ended before the follow began.
    let ok = alice.json(&[
        "jobs",
        "create",
        "--schedule",
        "0 0 1 1 *",
        "--command",
        "echo fine",
    ]);
    let run = alice.json(&["jobs", "trigger", s(&ok, "id")]);
    let rid = s(&run, "id").to_string();
    eventually("the run to succeed", Duration::from_secs(30), || async {
        (alice.json(&["runs", "get", &rid])["status"] == "succeeded").then_some(())
    })
    .await;
    let out = alice.cmd().args(["logs", "-f", &rid]).output().unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stdout, "fine\n");
    assert!(stderr.contains("succeeded"), "{stderr}");

    // logout: the file goes, and so does the login.
    let out = alice.bare().arg("logout").output().unwrap();
    assert!(out.status.success());
    assert!(!file.exists());
    let out = alice.bare().args(["jobs", "list"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "a usage error");
    assert!(texts(&out).1.contains("no API URL"), "{}", texts(&out).1);
}

#[tokio::test(flavor = "multi_thread")]
async fn admins_drain_workers_manage_users_and_read_the_audit_log() {
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 2,
        ..Default::default()
    })
    .await;
    let admin = Cli::new(&cluster.admin());

    let workers = admin.json(&["workers", "list"]);
    assert_eq!(workers.as_array().map(Vec::len), Some(2), "{workers}");
    let worker = s(&workers[0], "id").to_string();
    let table = admin.table(&["workers", "list"]);
    assert!(
        table.contains("GATE OPEN") && table.contains(&worker),
        "{table}"
    );
    let drained = admin.json(&["workers", "drain", &worker]);
    assert_eq!(drained["drained"], true, "{drained}");
    let undrained = admin.json(&["workers", "undrain", &worker]);
    assert_eq!(undrained["drained"], false, "{undrained}");
    assert!(
        admin
            .fails(&["workers", "drain", "no-such-worker"], 1)
            .contains("404")
    );

    // users: create (the new token is the answer), rotate, disable.
    let carol = admin.json(&["users", "create", "carol"]);
    let token = s(&carol, "token").to_string();
    assert_eq!(carol["admin"], false);
    let rotated = admin.json(&["users", "rotate", "carol"]);
    assert_ne!(s(&rotated, "token"), token);
    let disabled = admin.json(&["users", "disable", "carol"]);
    assert_eq!(disabled["disabled"], true, "{disabled}");
    assert!(
        admin
            .fails(&["users", "create", "carol"], 1)
            .contains("409")
    );

    // audit: what was done, filtered; a JSON array, or a table.
    let rows = admin.json(&["audit", "--action", "worker.drain"]);
    assert_eq!(rows.as_array().map(Vec::len), Some(1), "{rows}");
    assert_eq!(rows[0]["object_id"], worker.as_str());
    let rows = admin.json(&[
        "audit",
        "--object-type",
        "user",
        "--object-id",
        "carol",
        "--all",
        "--limit",
        "1",
    ]);
    assert!(rows.as_array().is_some_and(|r| r.len() >= 2), "{rows}");
    let table = admin.table(&[
        "audit",
        "--actor",
        "admin",
        "--from",
        "2020-01-01T00:00:00Z",
    ]);
    assert!(table.contains("worker.drain"), "{table}");
    // Not for non-admins.
    let alice = Cli::new(&cluster.user("alice", false).await);
    assert!(alice.fails(&["audit"], 1).contains("403"));
}

#[test]
fn usage_errors_exit_2_before_any_url_or_token_is_needed() {
    for args in [
        &["jobs", "create"][..],
        &["jobs", "create", "--schedule", "@daily"],
        &["jobs", "edit", "some-id"],
        &["login"],
        &["logs"],
        &["nonsense"],
    ] {
        let out = assert_cmd::Command::new(assert_cmd::cargo_bin!("distcron"))
            .env_remove("DISTCRON_URL")
            .env_remove("DISTCRON_TOKEN")
            .env("XDG_CONFIG_HOME", "/nonexistent")
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", texts(&out).1);
    }
}

#[test]
fn completions_print_a_script_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let out = assert_cmd::Command::new(assert_cmd::cargo_bin!("distcron"))
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success());
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(
            script.contains("distcron") && script.contains("import-crontab"),
            "{shell}"
        );
    }
    let out = assert_cmd::Command::new(assert_cmd::cargo_bin!("distcron"))
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
