//! The manager's settings. Defaults suit the local cluster (`make up`); every field can be
//! overridden with `DISTCRON_<FIELD>` (nested: `DISTCRON_MYSQL__URL`).

use distcron_core::UidRange;
use distcron_service::LogFormat;
use distcron_store::MysqlSettings;
use distcron_zk::ZkSettings;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Clone, Debug, Serialize, Deserialize)]
// Not `deny_unknown_fields`: tooling shares the DISTCRON_ prefix (the cluster scripts'
// DISTCRON_API_1 and the like); unknown top-level keys are reported, not fatal.
#[serde(default)]
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
        Ok(())
    }
}
