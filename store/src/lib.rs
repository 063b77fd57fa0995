//! The MySQL job store: migrations, users, jobs, runs and the audit log. MySQL is the source of
//! truth for job definitions; every other copy (znodes, worker schedules) is derived from it.

pub mod accounts;
mod audit;
mod blobs;
mod bounds;
mod edits;
mod error;
mod jobs;
mod listings;
mod output;
mod pauses;
mod prune;
pub use prune::AgedCursor;
mod retries;
mod revocation;
mod runs;
mod starts;
mod stops;
mod tick_history;
mod triggers;
mod users;

pub use audit::AuditRow;
pub use edits::EditOutcome;
pub use error::{Result, StoreError};
pub use jobs::{CreateOutcome, JobFilter, JobTx, spec_digest};
pub use listings::{AuditFilter, AuditRecord, RunFilter};
pub use pauses::{Pause, PauseOutcome, PauseRow};
pub use retries::{PendingRetry, RetryClaim, StaleRun};
pub use revocation::{DisabledUser, OWNER_DISABLED};
pub use runs::{Claimant, JobStatusChange, Tick};
pub use starts::StartCheck;
pub use stops::{Kills, RunKill, killed_by};
pub use tick_history::{ScheduleEdit, TickHistory};
pub use triggers::{Trigger, Triggered, manual_time};
pub use users::{User, hash_token};

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sqlx::migrate::MigrateDatabase;
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use std::str::FromStr;
use std::time::Duration;

/// The embedded migrations from `migrations/`.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// How to reach MySQL.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MysqlSettings {
    /// `mysql://user:password@host:port/database`. Secret: it may carry a password.
    #[serde(serialize_with = "distcron_core::secret::expose")]
    pub url: SecretString,
    /// Upper bound on pooled connections per process.
    pub max_connections: u32,
    /// How long a request waits for a connection before the store reports itself unavailable
    /// (the API then answers 503 instead of hanging).
    pub acquire_timeout_ms: u64,
}

impl Default for MysqlSettings {
    fn default() -> Self {
        MysqlSettings {
            url: SecretString::from("mysql://root@127.0.0.1:3306/distcron"),
            max_connections: 10,
            acquire_timeout_ms: 3000,
        }
    }
}

/// A handle on the store; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: MySqlPool,
}

impl Store {
    /// Builds a pool that connects lazily, so a process starts (and reports itself not ready)
    /// while MySQL is down instead of refusing to start.
    pub fn connect_lazy(settings: &MysqlSettings) -> Result<Store> {
        Self::pool_options(settings, false)
    }

    /// The same, with every session in READ COMMITTED: an update that filters on a column
    /// (`WHERE status = 'error' AND id IN (...)`) then waits only for the rows it changes, not
    /// for every row another transaction holds a lock on. A plain read then takes no lock: the
    /// worker's writes that depend on a job's state lock the job's row themselves (the start
    /// check, `queue_retry`).
    pub fn connect_lazy_read_committed(settings: &MysqlSettings) -> Result<Store> {
        Self::pool_options(settings, true)
    }

    fn pool_options(settings: &MysqlSettings, read_committed: bool) -> Result<Store> {
        let options = MySqlConnectOptions::from_str(settings.url.expose_secret())
            .map_err(|e| StoreError::Config(format!("invalid MySQL URL: {e}")))?;
        let mut pool = MySqlPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(Duration::from_millis(settings.acquire_timeout_ms));
        if read_committed {
            pool = pool.after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::query("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
                        .execute(conn)
                        .await
                        .map(|_| ())
                })
            });
        }
        Ok(Store {
            pool: pool.connect_lazy_with(options),
        })
    }

    /// Creates the database named in the URL if it does not exist.
    pub async fn create_database_if_missing(settings: &MysqlSettings) -> Result<bool> {
        let url = settings.url.expose_secret();
        if sqlx::MySql::database_exists(url).await? {
            return Ok(false);
        }
        sqlx::MySql::create_database(url).await?;
        Ok(true)
    }

    /// Applies pending migrations; safe to run from several processes at once (sqlx takes a
    /// MySQL advisory lock).
    pub async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(&self.pool).await.map_err(|e| match e {
            sqlx::migrate::MigrateError::Execute(e) => StoreError::from(e),
            other => StoreError::Config(format!("migration failed: {other}")),
        })
    }

    /// One round trip, for readiness checks.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }
}
