//! The manager's settings. Defaults suit the local cluster (`make up`); every field can be
//! overridden with `DISTCRON_<FIELD>` (nested: `DISTCRON_MYSQL__URL`).

use distcron_blob::S3Settings;
use distcron_core::UidRange;
use distcron_service::LogFormat;
use distcron_store::MysqlSettings;
use distcron_zk::ZkSettings;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Clone, Debug, Serialize, Deserialize)]
// A misspelt or foreign `DISTCRON_*` variable stops the process, named (the scripts' own
// knobs are `DC_*`).
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Address of the internal API that API servers send writes to.
    pub listen: String,
    /// URL other processes use to reach the internal API; derived from the bound address
    /// when unset (fine on one machine, set it when `listen` is a wildcard address).
    pub advertise_url: Option<String>,
    /// This manager's name in logs and in its election znode.
    pub manager_id: String,
    pub zookeeper: ZkSettings,
    pub mysql: MysqlSettings,
    /// Shared secret API servers present on internal calls.
    #[serde(serialize_with = "distcron_core::secret::expose")]
    pub internal_token: SecretString,
    /// A file holding the bootstrap admin's API token: the leader makes user `admin` an
    /// admin with exactly this token.
    pub bootstrap_admin_token_file: Option<PathBuf>,
    /// How often the leader re-reads MySQL and ZooKeeper in full and repairs any drift.
    pub resync_interval_ms: u64,
    /// The lease of a running run: a run whose lease is this stale and whose worker's
    /// registration is gone is declared interrupted (and retried if its job allows). Keep it
    /// equal to the workers' `run_lease_ms`.
    pub run_lease_ms: u64,
    /// The uids owners' runs get, one per user, allocated once (`first-last`). Keep it equal
    /// to the workers' `run_uids`.
    pub run_uids: UidRange,
    /// The bucket of uploaded executables, for the blob sweep (the leader deletes those no
    /// job needs) and for checking a new job's upload is there. Needs list, read and delete.
    pub s3: S3Settings,
    /// Whether the leader sweeps unused blobs, how often, and how long a blob stays after it
    /// was last needed (or uploaded).
    pub blob_sweep: bool,
    pub blob_sweep_interval_ms: u64,
    pub blob_grace_ms: u64,
    /// Runs that ended more than this many days ago are deleted (0: kept however old), and
    /// a job keeps at most `history_limit` runs unless it names its own; the leader prunes
    /// every `prune_interval_ms`.
    pub retention_days: u32,
    pub history_limit: u32,
    pub prune_interval_ms: u64,
    /// A run beyond its job's history limit is deleted only once it ended this long ago.
    pub prune_grace_ms: u64,
    pub log_format: LogFormat,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: "127.0.0.1:30101".into(),
            advertise_url: None,
            manager_id: format!("manager-{}", std::process::id()),
            zookeeper: ZkSettings::default(),
            mysql: MysqlSettings::default(),
            internal_token: SecretString::from(""),
            bootstrap_admin_token_file: None,
            resync_interval_ms: 30_000,
            run_lease_ms: 6000,
            run_uids: UidRange::DEFAULT,
            s3: S3Settings::default(),
            blob_sweep: true,
            blob_sweep_interval_ms: 3_600_000,
            blob_grace_ms: 24 * 3_600_000,
            retention_days: 30,
            history_limit: 1000,
            prune_interval_ms: 60_000,
            prune_grace_ms: 600_000,
            log_format: LogFormat::Text,
        }
    }
}

impl Settings {
    /// Refuses settings that cannot work, before anything starts.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.internal_token.expose_secret().len() >= 16,
            "DISTCRON_INTERNAL_TOKEN must be set to a secret of at least 16 characters (shared with the API servers)"
        );
        anyhow::ensure!(
            self.resync_interval_ms >= 100,
            "resync_interval_ms must be at least 100"
        );
        anyhow::ensure!(
            (1..=distcron_core::job::MAX_HISTORY_LIMIT).contains(&self.history_limit)
                && self.prune_interval_ms >= 100,
            "history_limit must be between 1 and {} and prune_interval_ms at least 100",
            distcron_core::job::MAX_HISTORY_LIMIT
        );
        anyhow::ensure!(
            self.blob_sweep_interval_ms >= 100 && self.blob_grace_ms >= 1000,
            "blob_sweep_interval_ms must be at least 100 and blob_grace_ms at least 1000"
        );
        Ok(())
    }
}
