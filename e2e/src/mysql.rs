//! MySQL access for tests: pools on a cluster's database, and a private MariaDB server for
//! tests that stop and restart MySQL.

use crate::process::{Proc, Spec};
use sqlx::mysql::{MySqlPool, MySqlPoolOptions};
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

impl PrivateMysql {
    pub async fn start(name: &str) -> PrivateMysql {
        let infra = crate::infra();
        let dir = infra.log_dir.join(name).join("mariadb");
        std::fs::create_dir_all(&dir).expect("mariadb dir");
        let port = crate::free_port();
        // scripts/launch.sh, as `make up` runs it, with an init file of the test's own (root
        // on 127.0.0.1 without a password: the server is the test's alone) and a small buffer
        // pool (several tests run one at once).
        let init = dir.join("init.sql");
        std::fs::write(
            &init,
            "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';\n\
             GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;\n",
        )
        .expect("init.sql");
        let spec = Spec::launch(
            "mariadb",
            vec![port.to_string(), dir.display().to_string()],
            vec![
                ("DC_MARIADB_BUFFER_POOL".into(), "32M".into()),
                ("DC_MARIADB_INIT_FILE".into(), init.display().to_string()),
            ],
            dir.join("mariadb.log"),
        );
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
