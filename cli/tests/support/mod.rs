//! Running the real `distcron` binary against a real cluster (`distcron_e2e::TestCluster`),
//! as a user would: its URL and token in the environment, a home of its own.

#![allow(dead_code)]

use assert_cmd::Command;
use distcron_e2e::ApiClient;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::mpsc;

/// One user's command line: the cluster's URL, the user's token, a private home.
pub struct Cli {
    pub url: String,
    pub token: String,
    pub home: tempfile::TempDir,
}

impl Cli {
    pub fn new(client: &ApiClient) -> Cli {
        Cli {
            url: client.base.clone(),
            token: client.token.clone().expect("a token"),
            home: tempfile::tempdir().expect("a home"),
        }
    }

    /// Where `distcron login` saves (XDG_CONFIG_HOME is the home's `.config`).
    pub fn config_file(&self) -> PathBuf {
        self.home
            .path()
            .join("xdg")
            .join("distcron")
            .join("config.toml")
    }

    /// `distcron` with no URL or token but the saved login's.
    pub fn bare(&self) -> Command {
        let mut cmd = Command::new(assert_cmd::cargo_bin!("distcron"));
        cmd.env_remove("DISTCRON_URL")
            .env_remove("DISTCRON_TOKEN")
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.home.path().join("xdg"))
            .env("TZ", "UTC");
        cmd
    }

    /// `distcron` with the URL and token in its environment.
    pub fn cmd(&self) -> Command {
        let mut cmd = self.bare();
        cmd.env("DISTCRON_URL", &self.url)
            .env("DISTCRON_TOKEN", &self.token);
        cmd
    }

    /// Runs `distcron -o json ARGS`, which must succeed, and reads its stdout.
    pub fn json(&self, args: &[&str]) -> Value {
        let out = self
            .cmd()
            .args(["-o", "json"])
            .args(args)
            .output()
            .expect("distcron runs");
        let (stdout, stderr) = texts(&out);
        assert!(out.status.success(), "distcron {args:?} failed: {stderr}");
        self.assert_no_token(&stdout);
        self.assert_no_token(&stderr);
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("distcron {args:?} printed no JSON ({e}): {stdout}"))
    }

    /// Runs `distcron ARGS`, which must fail with `code`; its stderr.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.cmd().args(args).output().expect("distcron runs");
        let (stdout, stderr) = texts(&out);
        assert_eq!(
            out.status.code(),
            Some(code),
            "distcron {args:?}: stdout {stdout}, stderr {stderr}"
        );
        self.assert_no_token(&stdout);
        self.assert_no_token(&stderr);
        stderr
    }

    /// Runs `distcron ARGS` (tables), which must succeed; its stdout.
    pub fn table(&self, args: &[&str]) -> String {
        let out = self.cmd().args(args).output().expect("distcron runs");
        let (stdout, stderr) = texts(&out);
        assert!(out.status.success(), "distcron {args:?} failed: {stderr}");
        self.assert_no_token(&stdout);
        self.assert_no_token(&stderr);
        stdout
    }

    /// Starts `distcron ARGS` (URL and token in its environment) and hands back the process
    /// and its stdout's lines as they come.
    pub fn spawn(&self, args: &[&str]) -> (std::process::Child, mpsc::Receiver<String>) {
        let mut child = std::process::Command::new(assert_cmd::cargo_bin!("distcron"))
            .args(args)
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.home.path().join("xdg"))
            .env("DISTCRON_URL", &self.url)
            .env("DISTCRON_TOKEN", &self.token)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("distcron starts");
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("its stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let _ = tx.send(line.unwrap_or_default());
            }
        });
        (child, rx)
    }

    pub fn assert_no_token(&self, text: &str) {
        assert!(!text.contains(&self.token), "the token was printed: {text}");
    }
}

pub fn texts(out: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The string at `field` of a JSON object.
pub fn s<'v>(v: &'v Value, field: &str) -> &'v str {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("no string {field} in {v}"))
}
