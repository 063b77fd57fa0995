//! The election loop: contends for leadership through ZooKeeper's lock recipe, leads while it
//! holds it (the reconcile loop, woken by every worker change, the reaper and the blob sweep),
//! and starts over with a new session when one expires.

use super::{Leader, LeaderSlot, ResyncError};
use anyhow::Context;
use distcron_core::payload::{self, LeaderInfo};
use distcron_core::{UidRange, UserName, layout};
use distcron_store::{Store, hash_token};
use distcron_zk::zk::{self, Client, LockOptions, LockPrefix, SessionState};
use distcron_zk::{ZkSettings, persistent};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub struct Election {
    pub zookeeper: ZkSettings,
    pub info: LeaderInfo,
    pub store: Store,
    pub slot: LeaderSlot,
    pub resync_interval: Duration,
    pub run_lease: Duration,
    pub run_uids: UidRange,
    pub bootstrap_admin_token_file: Option<PathBuf>,
    pub blob_sweep: Option<crate::sweep::BlobSweep>,
    pub pruner: crate::pruner::Pruner,
    pub blobs: distcron_blob::BlobStore,
}

impl Election {
    /// Contends for leadership, leads while it holds it, and starts over with a new session
    /// when one expires. Runs until cancelled; on cancellation it gives leadership up.
    pub async fn run(self, cancel: CancellationToken) -> anyhow::Result<()> {
        loop {
            let Some(client) = distcron_zk::connect_retrying(&self.zookeeper, &cancel).await else {
                return Ok(());
            };
            if let Err(e) = self.session(&client, &cancel).await {
                tracing::warn!(error = format!("{e:#}"), "leadership session ended");
            }
            if cancel.is_cancelled() {
                return Ok(());
            }
        }
    }

    /// One ZooKeeper session: contend, then lead until the session is lost.
    async fn session(&self, client: &Client, cancel: &CancellationToken) -> anyhow::Result<()> {
        let mut states = client.state_watcher();
        let data = payload::encode(&self.info);
        let prefix = LockPrefix::new_curator(layout::ELECTION, layout::ELECTION_NAME)?;
        let options = LockOptions::new(distcron_zk::acls()).with_ancestor_options(persistent())?;
        tracing::info!(manager = %self.info.manager_id, "contending for leadership");
        let lock = tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            lock = client.lock(prefix, &data, options) => lock.context("contending for leadership")?,
        };
        let leader = Arc::new(Leader {
            lock: lock.into_owned(),
            store: self.store.clone(),
            ops: super::OpsLock::default(),
            writing: tokio::sync::Mutex::new(()),
            run_uids: self.run_uids,
            bootstrap_admin: self
                .bootstrap_admin_token_file
                .as_ref()
                .map(|_| bootstrap_admin_name()),
            blobs: self.blobs.clone(),
            look_again: tokio::sync::Notify::new(),
        });
        tracing::info!(manager = %self.info.manager_id, lock = leader.lock.lock_path(), "became the leader");
        loop {
            // Lead until the session is in doubt.
            self.slot.set(Some(leader.clone()));
            let lead = self.lead(&leader);
            let state = tokio::select! {
                _ = cancel.cancelled() => {
                    self.slot.set(None);
                    self.resign(&leader).await;
                    return Ok(());
                }
                s = states.changed() => s,
                r = lead => {
                    self.slot.set(None);
                    return r;
                }
            };
            self.slot.set(None);
            match state {
                SessionState::Disconnected => {
                    tracing::warn!(
                        "ZooKeeper disconnected: no longer acting as leader until the session is confirmed"
                    );
                }
                SessionState::SyncConnected => continue,
                terminal => {
                    anyhow::bail!("ZooKeeper session ended ({terminal:?}): leadership lost")
                }
            }
            // Wait for the session's fate. If it survived, our election znode did too (it is
            // ephemeral), so we still lead; resume with a full resync.
            loop {
                let state = tokio::select! {
                    _ = cancel.cancelled() => return Ok(()),
                    s = states.changed() => s,
                };
                match state {
                    SessionState::SyncConnected => break,
                    SessionState::Disconnected => continue,
                    terminal => {
                        anyhow::bail!("ZooKeeper session ended ({terminal:?}): leadership lost")
                    }
                }
            }
            match client.check_stat(leader.lock.lock_path()).await {
                Ok(Some(_)) => tracing::info!("session confirmed; leading again"),
                Ok(None) => anyhow::bail!("election znode gone: leadership lost"),
                Err(e) => return Err(e).context("confirming leadership"),
            }
        }
    }

    /// The leader's work: keep ZooKeeper converged on MySQL, waking on worker changes.
    async fn lead(&self, leader: &Leader) -> anyhow::Result<()> {
        let wake = Arc::new(Notify::new());
        let watch = watch_workers(leader.client().clone(), wake.clone());
        let reconcile = async {
            let mut bootstrapped = self.bootstrap_admin_token_file.is_none();
            loop {
                if !bootstrapped {
                    match self.bootstrap_admin(&leader.store).await {
                        Ok(()) => bootstrapped = true,
                        Err(e) => tracing::warn!(
                            error = format!("{e:#}"),
                            "bootstrap admin not set yet; retrying"
                        ),
                    }
                }
                let mut wait = self.resync_interval;
                match leader.resync().await {
                    Ok(settle) => {
                        if let Some(t) = settle {
                            // Passed already (the pass was slow): look again at once.
                            let d = (t - chrono::Utc::now()).to_std().unwrap_or_default();
                            wait = wait.min(d.max(Duration::from_millis(10)));
                        }
                    }
                    Err(ResyncError::LostLeadership) => {
                        anyhow::bail!("leadership lost during resync")
                    }
                    Err(e) => {
                        tracing::warn!(error = format!("{e:#}"), "resync failed; retrying");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        continue;
                    }
                }
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = leader.look_again.notified() => {}
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        };
        let reaper = crate::reaper::reap(&leader.store, leader.client(), self.run_lease);
        let sweep = async {
            match &self.blob_sweep {
                Some(s) => crate::sweep::sweep(&leader.store, &leader.ops, s).await,
                None => std::future::pending().await,
            }
        };
        let pruner = crate::pruner::prune(&leader.store, &self.pruner);
        tokio::select! {
            r = watch => r,
            r = reconcile => r,
            r = reaper => r,
            r = sweep => r,
            r = pruner => r,
        }
    }

    async fn bootstrap_admin(&self, store: &Store) -> anyhow::Result<()> {
        let Some(path) = &self.bootstrap_admin_token_file else {
            return Ok(());
        };
        let token = tokio::fs::read_to_string(path).await.with_context(|| {
            format!("reading the bootstrap admin token from {}", path.display())
        })?;
        let token = token.trim();
        anyhow::ensure!(
            token.len() >= 16,
            "bootstrap admin token in {} is too short",
            path.display()
        );
        let admin = bootstrap_admin_name();
        if store
            .ensure_bootstrap_admin(&admin, &hash_token(token), self.run_uids)
            .await?
        {
            tracing::info!(user = "admin", "bootstrap admin token installed");
        }
        Ok(())
    }

    /// Gives leadership up on purpose, so a standby takes over now rather than after the
    /// session times out.
    async fn resign(&self, leader: &Leader) {
        match tokio::time::timeout(
            Duration::from_secs(2),
            leader.client().delete(leader.lock.lock_path(), None),
        )
        .await
        {
            Ok(Ok(())) | Ok(Err(zk::Error::NoNode)) => tracing::info!("resigned leadership"),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "could not resign leadership; it ends with the session")
            }
            Err(_) => tracing::warn!("timed out resigning leadership; it ends with the session"),
        }
    }
}

/// The user the bootstrap token file is for.
fn bootstrap_admin_name() -> UserName {
    UserName::parse("admin").expect("`admin` is a valid user name")
}

/// Wakes the reconcile loop whenever the set of registered workers changes. Errors (a lost
/// connection) are retried: the session loop, not this task, decides when leadership ends.
async fn watch_workers(client: Client, wake: Arc<Notify>) -> anyhow::Result<()> {
    let mut unwatched = false;
    loop {
        let watcher = match client.get_and_watch_children(layout::WORKERS).await {
            Ok((_children, _stat, watcher)) => watcher,
            Err(e) => {
                tracing::debug!(error = %e, "cannot watch worker registrations yet");
                unwatched = true;
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        if std::mem::take(&mut unwatched) {
            // Something may have changed while no watch was set.
            wake.notify_one();
        }
        let event = watcher.changed().await;
        if event.event_type == zk::EventType::Session {
            // The session state changed; the session loop handles it. Avoid spinning.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        tracing::info!(event = ?event.event_type, "worker registrations changed");
        wake.notify_one();
    }
}
