//! A session handle that heals itself: a background task keeps one live session, replacing it
//! after expiry, and callers get the current client or an `Unavailable` error at once (never a
//! hang), which the API maps to 503.

use crate::{ZkError, ZkSettings};
use std::sync::{Arc, RwLock};
use tokio_util::sync::CancellationToken;
use zookeeper_client::{Client, SessionState};

#[derive(Clone, Default)]
pub struct ZkSession {
    current: Arc<RwLock<Option<Client>>>,
}

impl ZkSession {
    pub fn new() -> ZkSession {
        ZkSession::default()
    }

    /// The live client, if the session is connected right now.
    pub fn client(&self) -> Result<Client, ZkError> {
        let guard = self.current.read().unwrap_or_else(|p| p.into_inner());
        match guard.as_ref() {
            Some(c) if c.state() == SessionState::SyncConnected => Ok(c.clone()),
            _ => Err(ZkError::Unavailable(
                zookeeper_client::Error::ConnectionLoss,
            )),
        }
    }

    fn set(&self, client: Option<Client>) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = client;
    }

    /// Keeps a session open until cancelled. Connection failures are logged and retried with
    /// backoff; they never end the task.
    pub async fn run(self, settings: ZkSettings, cancel: CancellationToken) -> anyhow::Result<()> {
        loop {
            let Some(client) = crate::connect_retrying(&settings, &cancel).await else {
                return Ok(());
            };
            tracing::info!(session = ?client.session_id(), "ZooKeeper session established");
            let mut states = client.state_watcher();
            self.set(Some(client));
            loop {
                let state = tokio::select! {
                    _ = cancel.cancelled() => {
                        self.set(None);
                        return Ok(());
                    }
                    s = states.changed() => s,
                };
                match state {
                    SessionState::Disconnected => {
                        tracing::warn!("ZooKeeper disconnected; waiting for reconnection")
                    }
                    SessionState::SyncConnected => tracing::info!("ZooKeeper reconnected"),
                    terminal => {
                        tracing::warn!(state = ?terminal, "ZooKeeper session ended; opening a new one");
                        break;
                    }
                }
            }
            self.set(None);
        }
    }
}
