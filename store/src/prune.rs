//! Pruning: a job's runs beyond its history limit, and runs that ended before the cluster's
//! retention, are deleted with their output in small batches (each its own short
//! transaction, on rows picked by index, so no long lock holds up the workers' claims).
//!
//! What is never pruned: a run under way (`running`, `pending`); a run made with an
//! `Idempotency-Key` less than a day ago (the key answers retries for at least 24 h); and each
//! job's newest scheduled run, from which a worker adopting the job counts its ticks (pruning
//! it would make the worker count from the job's creation and catch up ticks long accounted
//! for). `jobs.history_from` moves to the newest scheduled run pruned: the tick view starts
//! after it.

use crate::{Result, Store};
use chrono::{DateTime, Utc};
use distcron_core::JobId;
use sqlx::{MySql, QueryBuilder};
use std::collections::HashMap;

/// What every candidate must be: ended, and not holding a recent idempotency key.
const PRUNABLE: &str = "status NOT IN ('running', 'pending') \
     AND (idempotency_key IS NULL OR created_at < NOW(6) - INTERVAL 1 DAY)";

#[derive(sqlx::FromRow)]
struct Candidate {
    id: String,
    job_id: String,
    scheduled_at: DateTime<Utc>,
    triggered_by: Option<String>,
    finished_at: Option<DateTime<Utc>>,
}

/// Where a pass over the aged runs has got to: the last `(finished_at, id)` it looked at.
pub type AgedCursor = (DateTime<Utc>, String);

impl Store {
    /// Looks at up to `batch` runs that ended before `cutoff`, oldest end first, after
    /// `after` (where the pass got to: the runs it keeps stay behind it, so a pass never
    /// stalls on them), and deletes those it may. How many it deleted, and where to go on
    /// from (`None`: the pass is over).
    pub async fn prune_aged(
        &self,
        cutoff: DateTime<Utc>,
        after: Option<AgedCursor>,
        batch: u32,
    ) -> Result<(u64, Option<AgedCursor>)> {
        let (at, id) = after.unwrap_or((DateTime::<Utc>::UNIX_EPOCH, String::new()));
        let sql = format!(
            "SELECT id, job_id, scheduled_at, triggered_by, finished_at FROM runs \
             WHERE finished_at < ? AND (finished_at > ? OR (finished_at = ? AND id > ?)) AND {PRUNABLE} \
             ORDER BY finished_at, id LIMIT ?"
        );
        let candidates: Vec<Candidate> = sqlx::query_as(&sql)
            .bind(cutoff)
            .bind(at)
            .bind(at)
            .bind(&id)
            .bind(batch)
            .fetch_all(self.pool())
            .await?;
        let next = match candidates.last() {
            Some(c) if candidates.len() == batch as usize => {
                c.finished_at.map(|f| (f, c.id.clone()))
            }
            _ => None,
        };
        Ok((self.delete_runs(candidates).await?, next))
    }

    /// For up to `jobs` jobs after `after` (in id order), deletes up to `batch` runs each
    /// beyond the job's newest `history_limit` (or `default_limit`) that ended more than
    /// `grace` ago (what follows a run's end, a retry queued from its row, say, finds the row
    /// still there). Answers how many, and the last job looked at (`None`: the pass is over).
    pub async fn prune_over_limit(
        &self,
        default_limit: u32,
        grace: std::time::Duration,
        after: Option<JobId>,
        jobs: u32,
        batch: u32,
    ) -> Result<(u64, Option<JobId>)> {
        let page: Vec<(String, Option<u32>)> =
            sqlx::query_as("SELECT id, history_limit FROM jobs WHERE id > ? ORDER BY id LIMIT ?")
                .bind(after.map(|a| a.to_string()).unwrap_or_default())
                .bind(jobs)
                .fetch_all(self.pool())
                .await?;
        let ended_before = Utc::now() - chrono::Duration::from_std(grace).unwrap_or_default();
        let mut pruned = 0;
        for (job, limit) in &page {
            let limit = limit.unwrap_or(default_limit).max(1);
            // The newest run beyond the limit, through the (job_id, scheduled_at, attempt) index.
            let boundary: Option<(DateTime<Utc>, u16)> = sqlx::query_as(
                "SELECT scheduled_at, attempt FROM runs WHERE job_id = ? \
                 ORDER BY scheduled_at DESC, attempt DESC LIMIT 1 OFFSET ?",
            )
            .bind(job)
            .bind(limit)
            .fetch_optional(self.pool())
            .await?;
            let Some((at, attempt)) = boundary else {
                continue;
            };
            let sql = format!(
                "SELECT id, job_id, scheduled_at, triggered_by, finished_at FROM runs WHERE job_id = ? \
                 AND (scheduled_at < ? OR (scheduled_at = ? AND attempt <= ?)) AND finished_at < ? AND {PRUNABLE} \
                 ORDER BY scheduled_at, attempt LIMIT ?"
            );
            let candidates: Vec<Candidate> = sqlx::query_as(&sql)
                .bind(job)
                .bind(at)
                .bind(at)
                .bind(attempt)
                .bind(ended_before)
                .bind(batch)
                .fetch_all(self.pool())
                .await?;
            pruned += self.delete_runs(candidates).await?;
        }
        let last = match page.last() {
            Some((id, _)) if page.len() == jobs as usize => id.parse().ok(),
            _ => None,
        };
        Ok((pruned, last))
    }

    /// Deletes the candidates but each job's newest scheduled run, with their output, and
    /// moves their jobs' `history_from`, in one transaction.
    async fn delete_runs(&self, candidates: Vec<Candidate>) -> Result<u64> {
        if candidates.is_empty() {
            return Ok(0);
        }
        let jobs: Vec<JobId> = candidates
            .iter()
            .filter_map(|c| c.job_id.parse().ok())
            .collect();
        let newest = self.last_accounted(&jobs).await?;
        let mut history_from: HashMap<&str, DateTime<Utc>> = HashMap::new();
        let mut ids = Vec::with_capacity(candidates.len());
        for c in &candidates {
            let scheduled = c.triggered_by.is_none();
            let keep = scheduled
                && c.job_id
                    .parse()
                    .ok()
                    .and_then(|j: JobId| newest.get(&j))
                    .is_none_or(|n| c.scheduled_at >= *n);
            if keep {
                continue;
            }
            ids.push(c.id.as_str());
            if scheduled {
                let from = history_from
                    .entry(c.job_id.as_str())
                    .or_insert(c.scheduled_at);
                *from = (*from).max(c.scheduled_at);
            }
        }
        if ids.is_empty() {
            return Ok(0);
        }
        let mut tx = self.pool().begin().await?;
        let mut deleted = 0;
        // The output first (it refers to its run); an ended run never changes again, so the
        // candidates are still what they were when picked.
        for table in ["run_output_chunks WHERE run_id", "runs WHERE id"] {
            let mut q: QueryBuilder<MySql> = QueryBuilder::new(format!("DELETE FROM {table} IN ("));
            let mut list = q.separated(", ");
            for id in &ids {
                list.push_bind(*id);
            }
            q.push(")");
            deleted = q.build().execute(&mut *tx).await?.rows_affected();
        }
        for (job, at) in &history_from {
            sqlx::query(
                "UPDATE jobs SET history_from = GREATEST(COALESCE(history_from, ?), ?) WHERE id = ?",
            )
            .bind(at)
            .bind(at)
            .bind(job)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(deleted)
    }
}
