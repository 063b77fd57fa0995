//! The worker's registration: an ephemeral znode that exists exactly as long as the worker's
//! session. The manager gives a worker's jobs to others only once it is gone.

use anyhow::Context;
use distcron_core::layout;
use distcron_core::payload::{self, WorkerRegistration};
use distcron_zk::zk::{self, Client};
use std::time::Duration;

/// Creates the registration. If a previous life of this worker still holds it (its session has
/// not expired yet), waits for it to go: two sessions must never own the same worker's jobs.
pub async fn register(client: &Client, registration: &WorkerRegistration) -> anyhow::Result<()> {
    let path = layout::worker(&registration.id);
    let data = payload::encode(registration);
    loop {
        match client.create(&path, &data, &distcron_zk::ephemeral()).await {
            Ok(_) => return Ok(()),
            Err(zk::Error::NodeExists) => {}
            Err(e) => return Err(e).context("registering the worker"),
        }
        let (_, stat, watcher) = match client.get_and_watch_data(&path).await {
            Ok(found) => found,
            Err(zk::Error::NoNode) => continue,
            Err(e) => return Err(e).context("watching a previous registration"),
        };
        if stat.ephemeral_owner == client.session_id().0 {
            // Ours already (a retried create that had succeeded).
            return Ok(());
        }
        tracing::warn!(
            worker = %registration.id,
            "a previous session still holds this worker's registration; waiting for it to expire"
        );
        tokio::select! {
            _ = watcher.changed() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}
