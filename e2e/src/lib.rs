//! The end-to-end test harness: boots real distcron clusters (API servers, managers, workers
//! and HAProxy as separate processes) against the real ZooKeeper, MySQL and S3 that `make test`
//! starts, each cluster isolated in its own database, ZooKeeper chroot, S3 key prefix and ports,
//! so tests run in parallel. Failure is part of the API: processes can be killed, paused and
//! restarted.

pub mod checks;
pub mod client;
pub mod clock;
pub mod cluster;
pub mod disk;
pub mod follow;
pub mod galera;
pub mod haproxy;
pub mod infra;
pub mod mysql;
pub mod partition;
pub mod process;
pub mod s3;
pub mod uids;
pub mod zookeeper;

pub use client::ApiClient;
pub use cluster::{ClusterOptions, TestCluster};
pub use infra::infra;

use std::future::Future;
use std::time::{Duration, Instant};

/// Polls `check` every 50 ms until it yields `Some`, or panics after `timeout` saying what was
/// being waited for. Tests wait for conditions, never for fixed times.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A short random name, unique enough to isolate one test's resources.
pub fn unique_name() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("t{}", &id[..12])
}

/// A free TCP port on the loopback interface, from 11000-21999: below the kernel's ephemeral
/// range (so no client connection takes it between this check and the server binding it) and
/// clear of the ports the local cluster and the test services use. Never the same one twice in
/// a test process.
pub fn free_port() -> u16 {
    use std::collections::HashSet;
    use std::sync::Mutex;
    static GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
    let given = given.get_or_insert_with(HashSet::new);
    for _ in 0..10_000 {
        let port = 11_000 + (rand::random::<u16>() % 11_000);
        if given.contains(&port) {
            continue;
        }
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            given.insert(port);
            return port;
        }
    }
    panic!("no free port on 127.0.0.1 in 11000-21999")
}

/// A file runs append to, readable and writable by the unprivileged user jobs run as. Each
/// line a job writes is evidence that it ran, independent of MySQL.
pub struct Witness {
    pub path: std::path::PathBuf,
}

impl Witness {
    pub fn new(dir: &std::path::Path, name: &str) -> Witness {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(format!("{name}.witness"));
        std::fs::write(&path, b"").expect("witness file");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666))
            .expect("witness permissions");
        Witness { path }
    }

    /// A command line that appends
    /// `<job id> <scheduled at> <attempt> <worker> <pid> <start time, s since epoch> <extra>`.
    pub fn command(&self, extra: &str) -> String {
        format!(
            "echo \"$DISTCRON_JOB_ID $DISTCRON_SCHEDULED_AT $DISTCRON_ATTEMPT $DISTCRON_WORKER_ID $$ $(date +%s.%N) {extra}\" >> {}",
            self.path.display()
        )
    }

    /// The lines written so far, parsed.
    pub fn entries(&self) -> Vec<WitnessEntry> {
        self.lines()
            .into_iter()
            .filter_map(|f| {
                Some(WitnessEntry {
                    job: f.first()?.clone(),
                    scheduled_at: f.get(1)?.parse().ok()?,
                    attempt: f.get(2)?.parse().ok()?,
                    worker: f.get(3)?.clone(),
                    pid: f.get(4)?.parse().ok()?,
                    started: f.get(5)?.parse().ok()?,
                    extra: f.get(6..).map(|e| e.join(" ")).unwrap_or_default(),
                })
            })
            .collect()
    }

    /// The lines written so far, split in fields.
    pub fn lines(&self) -> Vec<Vec<String>> {
        std::fs::read_to_string(&self.path)
            .unwrap_or_default()
            .lines()
            .map(|l| l.split_whitespace().map(str::to_string).collect())
            .collect()
    }
}

/// One line of a witness file.
#[derive(Clone, Debug)]
pub struct WitnessEntry {
    pub job: String,
    pub scheduled_at: chrono::DateTime<chrono::Utc>,
    pub attempt: u16,
    pub worker: String,
    pub pid: i32,
    /// When the process started, in seconds since the epoch (from `date`).
    pub started: f64,
    pub extra: String,
}

impl WitnessEntry {
    /// How late the process started, in seconds.
    pub fn lag(&self) -> f64 {
        self.started - self.scheduled_at.timestamp() as f64
    }
}

/// `t` in seconds since the epoch (with its fraction), comparable with `WitnessEntry::started`.
pub fn epoch_of(t: chrono::DateTime<chrono::Utc>) -> f64 {
    t.timestamp_micros() as f64 / 1e6
}

/// An RFC 3339 time the API answered, in seconds since the epoch.
pub fn epoch_of_json(v: &serde_json::Value) -> f64 {
    let t: chrono::DateTime<chrono::Utc> = v
        .as_str()
        .unwrap_or_else(|| panic!("not a time: {v}"))
        .parse()
        .unwrap_or_else(|e| panic!("not RFC 3339 ({e}): {v}"));
    epoch_of(t)
}

/// Now, in seconds since the epoch, comparable with `WitnessEntry::started`.
pub fn epoch_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
