//! The reaper: finds runs whose worker is gone. A run is declared interrupted only when both
//! hold: its lease has not been renewed for a whole lease period, and its worker's registration
//! is gone or belongs to another life of that worker. A registration disappears only when the
//! session has expired cluster-wide, and a worker stops its runs before its lease could go
//! stale, so by then the run is not running anywhere. The retry, if the job allows one, is
//! queued in the same transaction, for whichever worker owns the job. It also points retries
//! nobody took in time (their worker died, or the job moved) at the job's current owner.
//!
//! It needs MySQL and a read of ZooKeeper (who is registered, who holds which job), not the
//! leader: it writes nothing to ZooKeeper.

use crate::reconcile;
use distcron_core::payload::{self, Assignment};
use distcron_core::{JobId, layout};
use distcron_store::Store;
use distcron_zk::zk::Client;
use std::collections::BTreeMap;
use std::time::Duration;

pub async fn reap(store: &Store, zk: &Client, lease: Duration) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = reap_once(store, zk, lease).await {
            tracing::warn!(error = format!("{e:#}"), "cannot look for interrupted runs");
        }
    }
}

/// A retry still pending this long after its time is pointed at the job's current owner.
const OVERDUE: Duration = Duration::from_secs(5);

async fn reap_once(store: &Store, zk: &Client, lease: Duration) -> anyhow::Result<()> {
    if let Err(e) = repoint_retries(store, zk).await {
        tracing::warn!(
            error = format!("{e:#}"),
            "cannot look for retries nobody took"
        );
    }
    let stale = store.stale_runs(lease).await?;
    if stale.is_empty() {
        return Ok(());
    }
    let live = reconcile::registrations(zk).await?;
    let owners = owners(&reconcile::holders(zk).await?, &live);
    for run in stale {
        let worker = run.worker_id.clone().unwrap_or_default();
        let alive = live
            .get(&worker)
            .and_then(|r| r.as_ref())
            .is_some_and(|r| Some(r.incarnation.to_string()) == run.incarnation);
        if alive {
            // Its worker lives and says nothing: it may be cut off from MySQL only. It fences
            // itself if it loses ZooKeeper too; until then the run is its own.
            continue;
        }
        let retry = run.retry_interrupted && run.attempt == 1;
        let reason = format!(
            "interrupted: worker {worker} stopped while the run was in flight (its session expired)"
        );
        let owner = match run.job_id.parse::<JobId>() {
            Ok(job) => owner_of(zk, &job, owners.get(&job)).await,
            Err(_) => None,
        };
        if store
            .interrupt_run(&run, &reason, retry, owner.as_deref())
            .await?
        {
            metrics::counter!("distcron_reaped_runs_total").increment(1);
            tracing::warn!(run_id = %run.id, job_id = %run.job_id, worker = %worker, attempt = run.attempt, retry, "run interrupted");
        }
    }
    Ok(())
}

async fn repoint_retries(store: &Store, zk: &Client) -> anyhow::Result<()> {
    let skipped = store.skip_retries_of_finished_jobs().await?;
    if skipped > 0 {
        tracing::info!(
            retries = skipped,
            "pending retries of finished jobs recorded skipped"
        );
    }
    let overdue = store.overdue_retries(OVERDUE).await?;
    if overdue.is_empty() {
        return Ok(());
    }
    let owners = owners(
        &reconcile::holders(zk).await?,
        &reconcile::registrations(zk).await?,
    );
    for retry in overdue {
        let Some(owner) = owner_of(zk, &retry.job_id, owners.get(&retry.job_id)).await else {
            continue;
        };
        if retry.worker_id.as_deref() != Some(owner.as_str()) {
            tracing::info!(run_id = %retry.id, job_id = %retry.job_id, from = retry.worker_id.as_deref().unwrap_or("-"), to = %owner, "a retry nobody took goes to the job's owner");
            store.point_retry(&retry.id, &owner).await?;
        }
    }
    Ok(())
}

/// Each job's live holders, in worker order. A job held by dead workers only has none yet (the
/// resync is moving it).
fn owners<T>(
    holders: &BTreeMap<String, Vec<JobId>>,
    live: &BTreeMap<String, T>,
) -> BTreeMap<JobId, Vec<String>> {
    let mut owners: BTreeMap<JobId, Vec<String>> = BTreeMap::new();
    for (worker, jobs) in holders.iter().filter(|(w, _)| live.contains_key(*w)) {
        for job in jobs {
            owners.entry(*job).or_default().push(worker.clone());
        }
    }
    owners
}

/// The job's owner among its live holders, as the plan keeps it (`Observed::owner_of`): the
/// first that is not handing it off (a handoff's old side claims no tick past its time), else
/// the first.
async fn owner_of(zk: &Client, job: &JobId, holders: Option<&Vec<String>>) -> Option<String> {
    let holders = holders?;
    if holders.len() > 1 {
        for w in holders {
            if let Ok((data, _)) = zk.get_data(&layout::assignment(w, job)).await
                && payload::decode::<Assignment>(&data).is_ok_and(|a| a.until.is_none())
            {
                return Some(w.clone());
            }
        }
    }
    holders.first().cloned()
}
