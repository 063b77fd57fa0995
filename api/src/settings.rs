//! The API server's settings. Defaults suit the local cluster (`make up`); every field can be
//! overridden with `DISTCRON_<FIELD>` (nested: `DISTCRON_S3__BUCKET`).

use distcron_blob::S3Settings;
use distcron_service::LogFormat;
use distcron_store::MysqlSettings;
use distcron_zk::ZkSettings;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
// A misspelt or foreign `DISTCRON_*` variable stops the process, named (the scripts' own
// knobs are `DC_*`).
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Address the public REST API listens on (HAProxy forwards to it).
    pub listen: String,
    pub zookeeper: ZkSettings,
    pub mysql: MysqlSettings,
    pub s3: S3Settings,
    /// Shared secret for calls to the manager's internal API.
    #[serde(serialize_with = "distcron_core::secret::expose")]
    pub internal_token: SecretString,
    /// Largest script or binary a job may upload, in bytes after base64 decoding.
    pub max_upload_bytes: usize,
    /// How long a write waits for a reachable leader manager (during a failover) before
    /// answering 503.
    pub leader_wait_ms: u64,
    /// How often a follower of a run's output (`GET /runs/{id}/log?follow=true`) looks for
    /// what the worker wrote since.
    pub log_poll_ms: u64,
    /// How many followers of runs' output this server takes at once; more answer 503.
    pub max_follows: usize,
    /// How many of those one user may have; more answer 429.
    pub max_follows_per_user: usize,
    pub log_format: LogFormat,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: "127.0.0.1:30001".into(),
            zookeeper: ZkSettings::default(),
            mysql: MysqlSettings::default(),
            s3: S3Settings::default(),
            internal_token: SecretString::from(""),
            max_upload_bytes: 10 * 1024 * 1024,
            leader_wait_ms: 3000,
            log_poll_ms: 200,
            max_follows: 512,
            max_follows_per_user: 32,
            log_format: LogFormat::Text,
        }
    }
}

impl Settings {
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.internal_token.expose_secret().len() >= 16,
            "DISTCRON_INTERNAL_TOKEN must be set to a secret of at least 16 characters (shared with the managers)"
        );
        anyhow::ensure!(
            self.max_upload_bytes > 0,
            "max_upload_bytes must be positive"
        );
        anyhow::ensure!(
            (10..=5000).contains(&self.log_poll_ms),
            "log_poll_ms must be between 10 and 5000"
        );
        Ok(())
    }

    /// The largest request body: a base64-encoded upload of the maximum size plus room for the
    /// rest of the JSON.
    pub fn max_body_bytes(&self) -> usize {
        self.max_upload_bytes.div_ceil(3) * 4 + 64 * 1024
    }
}
