//! Every binary refuses a `DISTCRON_*` variable it does not have: a typo, or a setting meant
//! for another process, stops it at start with an error naming the variable, before it
//! connects to anything.

use distcron_e2e::infra;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `bin` with a clean environment plus `vars`; returns its exit status and stderr. The
/// binary must exit by itself within the deadline (it is killed otherwise).
fn start(bin: &str, vars: &[(&str, &str)]) -> (std::process::ExitStatus, String) {
    let path = infra().bin_dir.join(bin);
    let mut child = Command::new(&path)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .envs(vars.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", path.display()));
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for the binary") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{bin} did not exit within 20 s with an unknown setting: it was not refused");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    (status, stderr)
}

#[test]
fn every_binary_refuses_a_misspelt_setting_and_names_it() {
    for bin in ["distcron-api", "distcron-manager", "distcron-worker"] {
        let (status, stderr) = start(bin, &[("DISTCRON_MYSQL__URLL", "mysql://typo")]);
        assert!(!status.success(), "{bin} started with a misspelt setting");
        assert!(
            stderr.contains("unknown setting `mysql.urll`")
                && stderr.contains("DISTCRON_MYSQL__URLL"),
            "{bin}'s error does not name the setting:\n{stderr}"
        );
    }
}

#[test]
fn a_setting_of_another_role_is_refused_and_the_scripts_knobs_are_not_settings() {
    // A worker's capacity means nothing to an API server or a manager, nor an API server's
    // upload limit to a worker.
    for (bin, var) in [
        ("distcron-api", "DISTCRON_CAPACITY"),
        ("distcron-manager", "DISTCRON_CAPACITY"),
        ("distcron-worker", "DISTCRON_MAX_UPLOAD_BYTES"),
    ] {
        let (status, stderr) = start(bin, &[(var, "5")]);
        assert!(
            !status.success(),
            "{bin} started with {var}, another role's setting"
        );
        assert!(
            stderr.contains(var),
            "{bin}'s error does not name {var}:\n{stderr}"
        );
    }
    // A misspelt field in the settings file is refused the same way.
    let file = std::env::temp_dir().join(format!("distcron-settings-{}.toml", std::process::id()));
    std::fs::write(&file, "capacity = 5\n[zookeeper]\nserverz = \"x\"\n").unwrap();
    let (status, stderr) = start(
        "distcron-worker",
        &[("DISTCRON_CONFIG", file.to_str().unwrap())],
    );
    assert!(
        !status.success(),
        "the worker started with a misspelt file key"
    );
    assert!(
        stderr.contains("unknown setting `zookeeper.serverz`"),
        "the worker's error does not name the key:\n{stderr}"
    );
    let _ = std::fs::remove_file(&file);
}
