//! The blob sweep: the leader deletes uploaded executables no job needs any more, once they
//! have been unused for the grace period: not named by a job on the schedule, nor by one
//! finished less than the grace period ago, and not uploaded again within it.
//!
//! Against a job being created with a blob the sweep is deleting: each batch is decided and
//! deleted under the leader's exclusive `ops` lock, and a job is created under the shared one
//! only after its blob is seen in S3. So a new job either exists when the batch is decided
//! (and keeps its blob), or is created after the deletion, finds its blob gone, and is refused
//! (the client submits it again, which uploads the file again).

use distcron_blob::BlobStore;
use distcron_store::Store;
use std::time::{Duration, SystemTime};
use tokio::sync::RwLock;

/// How the sweep runs.
#[derive(Clone)]
pub struct BlobSweep {
    pub blobs: BlobStore,
    pub interval: Duration,
    pub grace: Duration,
}

/// Blobs listed per page, and decided and deleted per batch under the exclusive lock (a
/// batch's S3 round trips hold up creates, so batches stay small).
const PAGE: i32 = 500;
const BATCH: usize = 20;

pub async fn sweep(store: &Store, ops: &RwLock<()>, s: &BlobSweep) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(s.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match sweep_once(store, ops, s).await {
            Ok((seen, 0)) => tracing::debug!(blobs = seen, "blob sweep: nothing to delete"),
            Ok((seen, deleted)) => {
                tracing::info!(
                    blobs = seen,
                    deleted,
                    "blob sweep deleted unused executables"
                )
            }
            Err(e) => tracing::warn!(error = format!("{e:#}"), "blob sweep failed; next time"),
        }
    }
}

/// One pass over the store: (blobs seen, blobs deleted).
pub async fn sweep_once(
    store: &Store,
    ops: &RwLock<()>,
    s: &BlobSweep,
) -> anyhow::Result<(usize, usize)> {
    let cutoff = SystemTime::now() - s.grace;
    let (mut seen, mut deleted) = (0, 0);
    let mut after: Option<String> = None;
    loop {
        let page = s.blobs.list_blobs(after.as_deref(), PAGE).await?;
        seen += page.len();
        let old: Vec<_> = page.iter().filter(|b| b.last_modified < cutoff).collect();
        for batch in old.chunks(BATCH) {
            let _exclusive = ops.write().await;
            let digests: Vec<String> = batch.iter().map(|b| b.sha256.clone()).collect();
            let needed = store.referenced_blobs(&digests, s.grace).await?;
            for blob in batch.iter().filter(|b| !needed.contains(&b.sha256)) {
                if s.blobs.delete_if_older(&blob.url, cutoff).await? {
                    tracing::info!(blob = %blob.url, "deleted an executable no job needs");
                    deleted += 1;
                }
            }
        }
        if page.len() < PAGE as usize {
            return Ok((seen, deleted));
        }
        after = page.last().map(|b| b.key.clone());
    }
}
