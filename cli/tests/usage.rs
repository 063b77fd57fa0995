//! Usage errors exit 2 (no URL, no token, an unreadable file, an empty login token), and the
//! optional booleans take their value only after `=`. None of it needs a cluster: the URL, when
//! there is one, is a closed port, so that a command that parsed fails with exit 1.

mod support;

use assert_cmd::Command;
use std::time::Duration;

fn distcron(home: &tempfile::TempDir) -> Command {
    let mut cmd = Command::new(assert_cmd::cargo_bin!("distcron"));
    cmd.env_remove("DISTCRON_URL")
        .env_remove("DISTCRON_TOKEN")
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join("xdg"))
        .timeout(Duration::from_secs(20));
    cmd
}

fn code(cmd: &mut Command) -> (Option<i32>, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const NOWHERE: &str = "http://127.0.0.1:1";

#[test]
fn missing_settings_and_unreadable_files_are_usage_errors() {
    let home = tempfile::tempdir().unwrap();
    let (c, err) = code(distcron(&home).args(["jobs", "list"]));
    assert_eq!(c, Some(2), "{err}");
    assert!(err.contains("no API URL"), "{err}");
    let (c, err) = code(distcron(&home).args(["--url", NOWHERE, "jobs", "list"]));
    assert_eq!(c, Some(2), "{err}");
    assert!(err.contains("no API token"), "{err}");
    let with_token = || {
        let mut cmd = distcron(&home);
        cmd.env("DISTCRON_URL", NOWHERE)
            .env("DISTCRON_TOKEN", "dc_x");
        cmd
    };
    let (c, err) = code(with_token().args([
        "jobs",
        "create",
        "--schedule",
        "@daily",
        "--file",
        "/no/such/script",
    ]));
    assert_eq!(c, Some(2), "{err}");
    assert!(err.contains("/no/such/script"), "{err}");
    let (c, err) = code(with_token().args(["jobs", "create", "-f", "/no/such/job.yaml"]));
    assert_eq!(c, Some(2), "{err}");
    let (c, err) = code(
        distcron(&home)
            .args(["login", "--url", NOWHERE])
            .write_stdin("\n"),
    );
    assert_eq!(c, Some(2), "{err}");
    assert!(err.contains("no token given"), "{err}");
}

#[test]
fn optional_booleans_do_not_swallow_the_next_word() {
    let home = tempfile::tempdir().unwrap();
    let id = "00000000-0000-0000-0000-000000000000";
    for args in [
        vec!["jobs", "edit", "--privileged", id],
        vec!["jobs", "edit", "--retry-interrupted", id],
        vec!["jobs", "edit", "--privileged=false", id],
    ] {
        let (c, err) = code(
            distcron(&home)
                .env("DISTCRON_URL", NOWHERE)
                .env("DISTCRON_TOKEN", "dc_x")
                .args(&args),
        );
        // Parsed: it got as far as the (closed) API, exit 1, not clap's 2.
        assert_eq!(c, Some(1), "{args:?}: {err}");
    }
}
