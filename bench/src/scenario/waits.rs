//! Waiting on the cluster: for the workers to own (or give up) the jobs, for the runs to end,
//! for the witness files; and removing stray jobs.

use super::Ctx;
use crate::witness::{Tick, WitnessDir};
use chrono::{DateTime, Utc};
use std::collections::HashSet;
use std::time::{Duration, Instant};

impl Ctx {
    /// Polls `GET /workers` until the live workers own at least `target` jobs.
    pub(super) async fn wait_assigned(
        &self,
        target: u64,
        patience: Duration,
    ) -> anyhow::Result<bool> {
        let deadline = Instant::now() + patience;
        let mut last_print = Instant::now();
        loop {
            let n = self.api.assigned().await?;
            if n >= target {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            if last_print.elapsed() >= Duration::from_secs(5) {
                eprintln!("    assigned: {n} / {target}");
                last_print = Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Polls until the workers own at most `target` jobs.
    pub(super) async fn wait_unassigned(
        &self,
        target: u64,
        patience: Duration,
    ) -> anyhow::Result<bool> {
        let deadline = Instant::now() + patience;
        loop {
            if self.api.assigned().await? <= target {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Waits until no worker has a run in flight (and then a second more), up to `patience`.
    pub(super) async fn wait_idle(&self, patience: Duration) -> bool {
        let deadline = Instant::now() + patience;
        loop {
            match self.api.running().await {
                Ok(Some(0)) => {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    return true;
                }
                Ok(None) | Err(_) if Instant::now() >= deadline => return false,
                Ok(Some(_)) if Instant::now() >= deadline => return false,
                _ => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
    }

    /// Waits until every tick has its witness file, or `until`.
    pub(super) async fn wait_witnessed(
        &self,
        dir: &WitnessDir,
        ticks: &[Tick],
        until: DateTime<Utc>,
    ) {
        loop {
            let present = dir.count_present(ticks);
            if present == ticks.len() || Utc::now() >= until {
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Removes stray jobs of this scenario (created by a retried request that had in fact
    /// gone through) so exactly the intended jobs are on the schedule.
    pub(super) async fn remove_strays(
        &self,
        prefix: &str,
        ids: &[String],
    ) -> anyhow::Result<usize> {
        let ours: HashSet<&str> = ids.iter().map(String::as_str).collect();
        let strays: Vec<String> = self
            .api
            .stray_jobs(prefix)
            .await?
            .into_iter()
            .filter(|j| !ours.contains(j.id.as_str()))
            .map(|j| j.id)
            .collect();
        if !strays.is_empty() {
            self.api.delete_all(&strays, self.concurrency).await?;
        }
        Ok(strays.len())
    }
}
