//! What every handler shares: cheap clones of handles on the outside systems.

use crate::manager_client::ManagerClient;
use distcron_blob::BlobStore;
use distcron_store::Store;
use distcron_zk::ZkSession;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub blobs: BlobStore,
    pub zk: ZkSession,
    pub manager: ManagerClient,
    pub max_upload_bytes: usize,
    pub known_tokens: std::sync::Arc<crate::tokens::KnownTokens>,
    /// The largest request body read; see `extract::JsonBody`.
    pub max_body_bytes: usize,
    pub metrics: distcron_service::metrics::Metrics,
    /// For the workers' status servers (`GET /workers`): one pool of connections for all requests.
    pub workers_http: reqwest::Client,
    /// Followers of runs' output (`GET /runs/{id}/log?follow=true`): a place each.
    pub follows: std::sync::Arc<crate::follows::Follows>,
    /// How often a follower looks for new output.
    pub log_poll: std::time::Duration,
    /// Cancelled when the server shuts down: long-lived answers (followers) end.
    pub shutdown: tokio_util::sync::CancellationToken,
}
