//! distcron's API server: validates and authenticates requests, stores uploaded executables
//! in S3, forwards writes to the leader manager and serves reads from MySQL. Stateless: run as
//! many as you like behind HAProxy.

pub mod auth;
pub mod drain;
pub mod error;
pub mod extract;
pub mod follows;
pub mod manager_client;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod settings;
pub mod state;
pub mod tick_view;
pub mod tokens;
pub mod ui;
pub mod view;

pub use settings::Settings;

use anyhow::Context;
use distcron_blob::BlobStore;
use distcron_service::Supervisor;
use distcron_store::Store;
use distcron_zk::ZkSession;
use manager_client::ManagerClient;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;

/// An API server wired up and ready to run.
pub struct Api {
    supervisor: Supervisor,
    local_addr: SocketAddr,
}

impl Api {
    pub async fn build(settings: Settings, listener: TcpListener) -> anyhow::Result<Api> {
        let local_addr = listener.local_addr()?;
        let store = Store::connect_lazy(&settings.mysql)?;
        let blobs = BlobStore::new(&settings.s3).await;
        if let Err(e) = blobs.ensure_bucket().await {
            // Not fatal: uploads answer 503 until S3 is back, and the next start retries.
            tracing::warn!(error = %e, bucket = blobs.bucket(), "could not make sure the bucket exists");
        }
        let zk = ZkSession::new();
        let manager = ManagerClient::new(
            zk.clone(),
            settings.internal_token.clone(),
            Duration::from_millis(settings.leader_wait_ms),
        );
        let mut supervisor = Supervisor::new();
        let token = supervisor.token();
        let state = state::AppState {
            store,
            blobs,
            zk: zk.clone(),
            manager,
            max_upload_bytes: settings.max_upload_bytes,
            max_body_bytes: settings.max_body_bytes(),
            known_tokens: Default::default(),
            metrics: distcron_service::metrics::install()?,
            workers_http: reqwest::Client::new(),
            follows: follows::Follows::new(settings.max_follows, settings.max_follows_per_user),
            log_poll: Duration::from_millis(settings.log_poll_ms),
            shutdown: token.clone(),
        };
        metrics::describe();
        let app = routes::router(state);

        supervisor.spawn(
            "zookeeper-session",
            zk.run(settings.zookeeper.clone(), token.clone()),
        );
        supervisor.spawn("http", async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(token.cancelled_owned())
                .await
                .context("HTTP server")
        });
        tracing::info!("listening on {local_addr}");
        Ok(Api {
            supervisor,
            local_addr,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub async fn run(
        self,
        shutdown: impl Future<Output = ()>,
        grace: Duration,
    ) -> anyhow::Result<()> {
        self.supervisor.run(shutdown, grace).await
    }
}
