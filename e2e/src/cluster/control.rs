//! Acting on a running test cluster: killing, signalling and restarting its processes,
//! reading their logs, reaching its ZooKeeper, MySQL and S3 directly; and tearing it down.

use super::*;

impl TestCluster {
    /// `kill -9` of a process.
    pub fn kill(&mut self, name: &str) {
        self.procs
            .get_mut(name)
            .unwrap_or_else(|| panic!("no process {name}"))
            .kill();
    }

    pub fn signal(&self, name: &str, signal: Signal) {
        self.procs
            .get(name)
            .unwrap_or_else(|| panic!("no process {name}"))
            .signal(signal);
    }

    pub fn pid(&self, name: &str) -> Option<i32> {
        self.procs.get(name).and_then(Proc::pid)
    }

    /// Restarts a process with the same settings and waits until it is healthy.
    pub async fn restart(&mut self, name: &str) {
        self.procs
            .get_mut(name)
            .unwrap_or_else(|| panic!("no process {name}"))
            .restart();
        self.wait_healthy(name).await;
    }

    /// Waits up to `timeout` for a process to exit by itself (after a SIGTERM, say); returns
    /// its exit status, or `None` if it still runs.
    pub async fn wait_exit(
        &mut self,
        name: &str,
        timeout: Duration,
    ) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let proc = self
                .procs
                .get_mut(name)
                .unwrap_or_else(|| panic!("no process {name}"));
            if let Some(status) = proc.wait_exit(Duration::ZERO) {
                return Some(status);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn is_running(&mut self, name: &str) -> bool {
        self.procs.get_mut(name).is_some_and(Proc::is_running)
    }

    pub fn log_of(&self, name: &str) -> String {
        self.procs
            .get(name)
            .map(|p| p.log_tail(200))
            .unwrap_or_default()
    }

    /// A ZooKeeper session inside the cluster's chroot.
    pub async fn zk(&self) -> zookeeper_client::Client {
        crate::zookeeper::connect(
            &self.zk_servers,
            &self.chroot,
            Some(&self.zk_digest),
            Duration::from_secs(10),
        )
        .await
    }

    /// A pool on the cluster's database.
    pub async fn db(&self) -> sqlx::MySqlPool {
        crate::mysql::pool(&format!("{}/{}", self.mysql_server, self.database)).await
    }

    /// A directory the cluster's jobs can write to: not under the checkout (which may lie under
    /// /tmp, which every run has a private one of), but `/var/tmp/distcron-e2e/<cluster>`, mode
    /// 1777. Removed with the cluster unless a test failed.
    pub fn shared_dir(&self) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let dir = PathBuf::from("/var/tmp/distcron-e2e").join(&self.name);
        std::fs::create_dir_all(&dir).expect("shared dir");
        for d in [dir.parent().expect("parent"), dir.as_path()] {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o1777))
                .expect("shared dir permissions");
        }
        dir
    }

    /// A witness file in `shared_dir`.
    pub fn witness(&self, name: &str) -> crate::Witness {
        crate::Witness::new(&self.shared_dir(), name)
    }

    /// The S3 store the cluster uses, for checking and tampering with uploads (with the admin
    /// identity's keys).
    pub async fn blobs(&self) -> distcron_blob::BlobStore {
        let (access, secret) = infra().s3_keys("admin");
        let settings = distcron_blob::S3Settings {
            endpoint: Some(self.s3_endpoint.clone()),
            bucket: TEST_BUCKET.into(),
            prefix: self.s3_prefix.clone(),
            access_key_id: Some(access.into()),
            secret_access_key: Some(secret.into()),
            ..Default::default()
        };
        distcron_blob::BlobStore::new(&settings).await
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "\n=== cluster {} failed; logs in {} ===",
                self.name,
                self.dir.display()
            );
            for (name, proc) in &self.procs {
                eprintln!("--- {name} (last lines) ---\n{}", proc.log_tail(40));
            }
        }
        // Stop everything first, then drop the database (best effort, off the test's runtime).
        self.procs.clear();
        if !std::thread::panicking() {
            let _ =
                std::fs::remove_dir_all(PathBuf::from("/var/tmp/distcron-e2e").join(&self.name));
        }
        let url = format!("{}/mysql", self.mysql_server);
        let db = self.database.clone();
        let panicking = std::thread::panicking();
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if let Ok(pool) = sqlx::mysql::MySqlPoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(Duration::from_secs(2))
                    .connect(&url)
                    .await
                {
                    if panicking {
                        print_unusual_runs(&pool, &db).await;
                    }
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS `{db}`"))
                        .execute(&pool)
                        .await;
                }
            });
        })
        .join();
    }
}

/// For a failed test: the runs that did not succeed (the last 30), with their reasons.
async fn print_unusual_runs(pool: &sqlx::MySqlPool, db: &str) {
    type Row = (
        String,
        chrono::DateTime<chrono::Utc>,
        u16,
        String,
        Option<String>,
        Option<String>,
    );
    let sql = format!(
        "SELECT job_id, scheduled_at, attempt, status, reason, worker_id FROM `{db}`.runs \
         WHERE status <> 'succeeded' ORDER BY scheduled_at DESC LIMIT 30"
    );
    match sqlx::query_as::<_, Row>(&sql).fetch_all(pool).await {
        Ok(rows) => {
            eprintln!("--- runs that did not succeed (newest first) ---");
            for (job, at, attempt, status, reason, worker) in rows {
                eprintln!(
                    "{job} {at} #{attempt} {status} on {}: {}",
                    worker.unwrap_or_default(),
                    reason.unwrap_or_default()
                );
            }
        }
        Err(e) => eprintln!("--- cannot read the runs: {e} ---"),
    }
}
