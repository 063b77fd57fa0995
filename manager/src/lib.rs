//! distcron's manager. Several run; one leads, elected through ZooKeeper. The leader owns
//! every write: it persists jobs in MySQL, publishes each active job as a task znode, assigns
//! each task to exactly one live worker, and moves the tasks of workers whose registration
//! disappeared. A reconcile loop keeps ZooKeeper converged on MySQL.

pub mod accounts;
pub mod http;
pub mod leader;
pub mod plan;
pub mod pruner;
pub mod reaper;
pub mod reconcile;
pub mod settings;
pub mod sweep;

pub use settings::Settings;

use anyhow::Context;
use distcron_core::payload::LeaderInfo;
use distcron_service::Supervisor;
use distcron_store::{MysqlSettings, Store};
use leader::LeaderSlot;
use leader::election::Election;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;

/// Creates the database if needed and applies the migrations.
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    migrate_mysql(&settings.mysql).await
}

pub async fn migrate_mysql(mysql: &MysqlSettings) -> anyhow::Result<()> {
    if Store::create_database_if_missing(mysql)
        .await
        .context("creating the database")?
    {
        tracing::info!("database created");
    }
    let store = Store::connect_lazy(mysql)?;
    store.migrate().await.context("applying migrations")?;
    tracing::info!("migrations applied");
    Ok(())
}

/// A manager wired up and ready to run.
pub struct Manager {
    supervisor: Supervisor,
    local_addr: SocketAddr,
    slot: LeaderSlot,
}

impl Manager {
    /// Wires the manager: the internal API on `listener`, and the election.
    pub async fn build(settings: Settings, listener: TcpListener) -> anyhow::Result<Manager> {
        let local_addr = listener.local_addr()?;
        let store = Store::connect_lazy(&settings.mysql)?;
        // Apply migrations when MySQL is up; a manager that starts while MySQL is down keeps
        // running (it can still stand by) and the leader's resync reports the problem.
        if let Err(e) = migrate_mysql(&settings.mysql).await {
            tracing::warn!(
                error = format!("{e:#}"),
                "could not apply migrations at start"
            );
        }
        let slot = LeaderSlot::default();
        let internal_url = settings
            .advertise_url
            .clone()
            .unwrap_or_else(|| format!("http://{local_addr}"));
        let blobs = distcron_blob::BlobStore::new(&settings.s3).await;
        let blob_sweep = settings.blob_sweep.then(|| sweep::BlobSweep {
            blobs: blobs.clone(),
            interval: Duration::from_millis(settings.blob_sweep_interval_ms),
            grace: Duration::from_millis(settings.blob_grace_ms),
        });
        let election = Election {
            zookeeper: settings.zookeeper.clone(),
            info: LeaderInfo {
                manager_id: settings.manager_id.clone(),
                internal_url,
            },
            store,
            slot: slot.clone(),
            resync_interval: Duration::from_millis(settings.resync_interval_ms),
            run_lease: Duration::from_millis(settings.run_lease_ms),
            run_uids: settings.run_uids,
            bootstrap_admin_token_file: settings.bootstrap_admin_token_file.clone(),
            blob_sweep,
            blobs,
            pruner: pruner::Pruner {
                interval: Duration::from_millis(settings.prune_interval_ms),
                retention: (settings.retention_days > 0)
                    .then(|| Duration::from_secs(u64::from(settings.retention_days) * 86_400)),
                history_limit: settings.history_limit,
                grace: Duration::from_millis(settings.prune_grace_ms),
            },
        };
        let metrics = distcron_service::metrics::install()?;
        metrics::describe_gauge!("distcron_leader", "1 while this manager leads");
        metrics::describe_counter!(
            "distcron_pruned_runs_total",
            "Runs the leader deleted as old history"
        );
        metrics::describe_counter!(
            "distcron_reaped_runs_total",
            "Runs the leader declared interrupted (their worker gone, their lease stale)"
        );
        let store_for_metrics = election.store.clone();
        let app = http::router(http::AppState::new(
            slot.clone(),
            settings.manager_id.clone(),
            &settings.internal_token,
            metrics,
            store_for_metrics,
        ));

        let mut supervisor = Supervisor::new();
        let token = supervisor.token();
        supervisor.spawn("election", election.run(token.clone()));
        supervisor.spawn("internal-api", async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(token.cancelled_owned())
                .await
                .context("internal API server")
        });
        tracing::info!(manager = %settings.manager_id, "listening on {local_addr}");
        Ok(Manager {
            supervisor,
            local_addr,
            slot,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Whether this manager leads right now.
    pub fn is_leader(&self) -> bool {
        self.slot.get().is_some()
    }

    pub fn leader_slot(&self) -> LeaderSlot {
        self.slot.clone()
    }

    /// Runs until `shutdown` resolves (then resigns leadership) or a task fails.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()>,
        grace: Duration,
    ) -> anyhow::Result<()> {
        self.supervisor.run(shutdown, grace).await
    }
}
