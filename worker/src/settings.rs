//! The worker's settings. Defaults suit the local cluster (`make up`); every field can be
//! overridden with `DISTCRON_<FIELD>` (nested: `DISTCRON_ZOOKEEPER__SERVERS`).

use distcron_blob::S3Settings;
use distcron_core::{Resources, UidRange};
use distcron_service::LogFormat;
use distcron_store::MysqlSettings;
use distcron_zk::ZkSettings;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// Whether runs get their own cgroup v2.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CgroupMode {
    /// Use cgroup v2 when the host has it mounted and writable; otherwise process groups only.
    #[default]
    Auto,
    /// Process groups only: a job that escapes its group with `setsid` survives a timeout.
    Off,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
// A misspelt or foreign `DISTCRON_*` variable stops the process, named (the scripts' own
// knobs are `DC_*`).
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// This worker's identity: its registration znode and the owner of its assignments. Keep
    /// it stable across restarts of the same node.
    pub worker_id: String,
    /// Address of the worker's own status endpoint (`/healthz`, `/status`).
    pub listen: String,
    /// Scratch space: the executable cache (closed to runs: mode 0700), and per-run
    /// directories where runs cannot have a private /tmp.
    pub work_dir: PathBuf,
    /// How many jobs this worker is willing to own.
    pub capacity: u32,
    /// The uids owners' runs get (`first-last`): a job that is neither privileged nor names
    /// `run_as` runs as its owner's uid, which its task carries; a uid outside this range is
    /// refused. Keep it equal to the managers' `run_uids`.
    pub run_uids: UidRange,
    /// Size of each run's private /tmp (a tmpfs, counted against the run's memory).
    pub run_tmp_mb: u64,
    /// Captured stdout and stderr per run, each; the rest is dropped and the run marked
    /// truncated.
    pub max_output_bytes: usize,
    /// How often what runs printed is written to MySQL while they run (what a follower of a
    /// run's log waits for, at most).
    pub output_flush_ms: u64,
    /// Between SIGTERM and SIGKILL when a run times out or is replaced.
    pub kill_grace_ms: u64,
    /// On SIGTERM, how long running jobs may finish before they are stopped (and retried
    /// elsewhere if the job allows).
    pub shutdown_grace_ms: u64,
    /// The lease of a running run: renewed every quarter of it. The manager declares a run
    /// interrupted once its lease is this stale and its worker's registration is gone; keep it
    /// equal to the managers' `run_lease_ms`.
    pub run_lease_ms: u64,
    /// How long before a tick the worker writes its run rows, so that at the tick only the
    /// processes remain to start. Jobs whose concurrency is not `allow` are decided at the tick.
    pub claim_lead_ms: u64,
    /// A worker whose clock differs from MySQL's by more than this refuses to fire.
    pub max_clock_skew_ms: u64,
    /// cgroup v2 per run (`auto`) or not (`off`).
    pub cgroups: CgroupMode,
    /// What a run gets when its job names nothing: `memory_mb`, `cpu_millis` (thousandths
    /// of a core), `max_processes`; unset is unbounded. A fork bomb stops at `max_processes`.
    pub run_defaults: Resources,
    /// The most a job may ask for one run; unset is the machine's own size. The worker
    /// advertises these (only those its cgroups enforce), and the manager places a job only
    /// on a worker whose ceilings cover it.
    pub run_ceilings: Resources,
    pub zookeeper: ZkSettings,
    pub mysql: MysqlSettings,
    pub s3: S3Settings,
    pub log_format: LogFormat,
}

fn default_worker_id() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .filter(|h| distcron_core::layout::is_valid_worker_id(h))
        .unwrap_or_else(|| "worker".into())
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            worker_id: default_worker_id(),
            listen: "127.0.0.1:30201".into(),
            work_dir: PathBuf::from(".distcron/worker"),
            capacity: 100_000,
            run_uids: UidRange::DEFAULT,
            run_tmp_mb: 1024,
            max_output_bytes: 64 * 1024,
            output_flush_ms: 250,
            kill_grace_ms: 2000,
            shutdown_grace_ms: 30_000,
            run_lease_ms: 6000,
            claim_lead_ms: 500,
            max_clock_skew_ms: 1000,
            cgroups: CgroupMode::Auto,
            run_defaults: Resources {
                memory_mb: Some(2048),
                cpu_millis: None,
                max_processes: Some(1024),
            },
            run_ceilings: Resources::default(),
            zookeeper: ZkSettings::default(),
            mysql: MysqlSettings::default(),
            s3: S3Settings::default(),
            log_format: LogFormat::Text,
        }
    }
}

impl Settings {
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            distcron_core::layout::is_valid_worker_id(&self.worker_id),
            "worker_id `{}` must be 1-128 of A-Z, a-z, 0-9, `.`, `_`, `-`",
            self.worker_id
        );
        anyhow::ensure!(self.capacity > 0, "capacity must be positive");
        anyhow::ensure!(self.run_tmp_mb > 0, "run_tmp_mb must be positive");
        for (what, r) in [
            ("run_defaults", &self.run_defaults),
            ("run_ceilings", &self.run_ceilings),
        ] {
            r.validate().map_err(|e| anyhow::anyhow!("{what}: {e}"))?;
        }
        anyhow::ensure!(
            (10..=1000).contains(&self.output_flush_ms),
            "output_flush_ms must be between 10 and 1000 (a run's output reaches MySQL at least every second)"
        );
        anyhow::ensure!(
            self.run_lease_ms >= 500,
            "run_lease_ms must be at least 500"
        );
        Ok(())
    }

    /// How long a worker may be out of touch with both ZooKeeper and MySQL before it stops its
    /// runs: two thirds of the shorter of the session timeout and the run lease, so its runs
    /// are dead before anyone may declare them interrupted and retry them.
    pub fn fence_after(&self) -> Duration {
        Duration::from_millis(self.zookeeper.session_timeout_ms.min(self.run_lease_ms) * 2 / 3)
    }
}
