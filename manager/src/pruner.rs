//! The pruner: while it leads, the manager deletes old history in small batches (the store's
//! `prune_*` say what is never pruned): every `interval`, runs that ended more than
//! `retention` ago, then, a page of jobs at a time, each job's runs beyond its history limit.
//! A batch that fails is logged and tried again at the next pass; pruning is never urgent.

use chrono::Utc;
use distcron_store::Store;
use std::time::Duration;

/// How the pruner runs.
#[derive(Clone, Debug)]
pub struct Pruner {
    pub interval: Duration,
    /// Runs ended longer ago than this are deleted; `None`: kept however old.
    pub retention: Option<Duration>,
    /// Runs a job keeps when it names no `history_limit`.
    pub history_limit: u32,
    /// A run beyond its job's limit is kept until it ended this long ago.
    pub grace: Duration,
}

/// Runs deleted per statement, and jobs looked at per page: short transactions, short scans.
const BATCH: u32 = 500;
const JOBS_PER_PAGE: u32 = 200;
/// A pause between batches, so the pruner never holds MySQL's attention for long.
const BREATHER: Duration = Duration::from_millis(20);

pub async fn prune(store: &Store, p: &Pruner) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(p.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match prune_once(store, p).await {
            Ok(0) => tracing::debug!("pruner: nothing to delete"),
            Ok(n) => {
                metrics::counter!("distcron_pruned_runs_total").increment(n);
                tracing::info!(runs = n, "pruner deleted old runs")
            }
            Err(e) => tracing::warn!(error = format!("{e:#}"), "pruning failed; next time"),
        }
    }
}

/// One pass: how many runs it deleted.
pub async fn prune_once(store: &Store, p: &Pruner) -> anyhow::Result<u64> {
    let mut total = 0;
    if let Some(retention) = p.retention {
        let cutoff = Utc::now() - chrono::Duration::from_std(retention)?;
        let mut after = None;
        loop {
            let (n, next) = store.prune_aged(cutoff, after, BATCH).await?;
            total += n;
            match next {
                Some(next) => after = Some(next),
                None => break,
            }
            tokio::time::sleep(BREATHER).await;
        }
    }
    let mut after = None;
    loop {
        let (n, last) = store
            .prune_over_limit(p.history_limit, p.grace, after, JOBS_PER_PAGE, BATCH)
            .await?;
        total += n;
        match last {
            Some(last) => after = Some(last),
            None => break,
        }
        tokio::time::sleep(BREATHER).await;
    }
    Ok(total)
}
