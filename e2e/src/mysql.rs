//! MySQL access for tests: pools on a cluster's database, and a private MariaDB server for
//! tests that stop and restart MySQL.

use crate::process::{Proc, Spec};
use sqlx::mysql::{MySqlPool, MySqlPoolOptions};
use std::path::PathBuf;
use std::time::Duration;

pub async fn pool(url: &str) -> MySqlPool {
    MySqlPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(5))
        .connect(url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to MySQL at {url}: {e}"))
}

/// A MariaDB server of the test's own, on its own port and data directory.
pub struct PrivateMysql {
    pub port: u16,
    proc: Proc,
}

fn find(candidates: &[&str]) -> PathBuf {
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!(
                "none of {candidates:?} exists: install Debian's mariadb-server (make test does)"
            )
        })
}

impl PrivateMysql {
    pub async fn start(name: &str) -> PrivateMysql {
        let infra = crate::infra();
        let dir = infra.log_dir.join(name).join("mariadb");
        let data = dir.join("data");
        std::fs::create_dir_all(&dir).expect("mariadb dir");
        let install = find(&["/usr/bin/mariadb-install-db", "/usr/bin/mysql_install_db"]);
        let out = std::process::Command::new(install)
            .args([
                "--no-defaults",
                &format!("--datadir={}", data.display()),
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--user=root",
            ])
            .output()
            .expect("run mariadb-install-db");
        assert!(
            out.status.success(),
            "mariadb-install-db failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = crate::free_port();
        let server = find(&["/usr/sbin/mariadbd", "/usr/sbin/mysqld"]);
        let spec = Spec {
            program: server,
            args: vec![
                "--no-defaults".into(),
                format!("--datadir={}", data.display()),
                format!("--port={port}"),
                "--bind-address=127.0.0.1".into(),
                format!("--socket={}", dir.join("mysqld.sock").display()),
                format!("--pid-file={}", dir.join("mysqld.pid").display()),
                "--user=root".into(),
                "--skip-log-bin".into(),
                "--innodb-buffer-pool-size=32M".into(),
            ],
            env: vec![],
            log: dir.join("mariadb.log"),
        };
        let m = PrivateMysql {
            port,
            proc: Proc::spawn(&format!("{name}-mariadb"), spec),
        };
        m.wait_ready().await;
        m
    }

    /// Server URL without a database.
    pub fn url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}", self.port)
    }

    async fn wait_ready(&self) {
        let url = format!("{}/mysql", self.url());
        crate::eventually(
            "the private MariaDB to accept connections",
            Duration::from_secs(60),
            || {
                let url = url.clone();
                async move {
                    let pool = MySqlPoolOptions::new()
                        .max_connections(1)
                        .connect(&url)
                        .await
                        .ok()?;
                    sqlx::query("SELECT 1")
                        .execute(&pool)
                        .await
                        .ok()
                        .map(|_| ())
                }
            },
        )
        .await;
    }

    /// kill -9 of mysqld.
    pub fn kill(&mut self) {
        self.proc.kill();
    }

    /// Starts it again on the same data and port (InnoDB recovers what was committed).
    pub async fn start_again(&mut self) {
        self.proc.restart();
        self.wait_ready().await;
    }
}
