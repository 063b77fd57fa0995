//! Run now: a run outside the schedule is queued as a pending row for the job's owner worker,
//! which takes it as it takes a retry (claimed by exactly one worker, checked at its start)
//! and applies the job's concurrency policy to it. Its scheduled time is the moment it was
//! asked for, never a whole millisecond, so that it never takes the key of a scheduled tick
//! (whole seconds) or of a one-shot job's (its creation, to the millisecond).

use crate::audit::{self, AuditEntry};
use crate::runs::{RUN_COLUMNS, RunRow};
use crate::{Result, Store, StoreError};
use chrono::{DateTime, Duration, Timelike, Utc};
use distcron_core::{JobId, JobStatus, Run, RunId, Schedule};

/// A run asked for outside the schedule.
#[derive(Clone, Debug)]
pub struct Trigger<'a> {
    pub job: &'a JobId,
    pub actor: &'a str,
    /// The request's `Idempotency-Key`: a second trigger with it gives the first one's run.
    pub idempotency_key: Option<&'a str>,
    /// The worker expected to run it (the job's owner); `None` lets the leader point it at
    /// the owner once there is one.
    pub worker: Option<&'a str>,
}

/// What `trigger_run` did.
#[derive(Debug)]
pub enum Triggered {
    NotFound,
    /// A new pending run.
    Queued(Box<Run>),
    /// The run an earlier trigger with the same idempotency key queued.
    Replayed(Box<Run>),
}

/// `now` to the microsecond, moved off a whole millisecond.
pub fn manual_time(now: DateTime<Utc>) -> DateTime<Utc> {
    let micros = now.timestamp_subsec_micros();
    let at = now.with_nanosecond(micros * 1000).unwrap_or(now);
    if micros.is_multiple_of(1000) {
        at + Duration::microseconds(1)
    } else {
        at
    }
}

impl Store {
    /// Queues a run of `job` now, for `worker`, recorded as asked for by `actor` (audit
    /// `job.trigger`). Refused (a conflict) unless the job is on its schedule.
    pub async fn trigger_run(&self, t: &Trigger<'_>) -> Result<Triggered> {
        if let Some(run) = self.run_of_key(t).await? {
            return Ok(Triggered::Replayed(Box::new(run)));
        }
        let mut tx = self.pool().begin().await?;
        // Share-locked, as a retry's queueing does: a pause or delete going on is waited for,
        // and then this sees it.
        let job: Option<(String, String)> =
            sqlx::query_as("SELECT status, schedule FROM jobs WHERE id = ? LOCK IN SHARE MODE")
                .bind(t.job.to_string())
                .fetch_optional(&mut *tx)
                .await?;
        let Some((status, schedule)) = job else {
            return Ok(Triggered::NotFound);
        };
        let refused = if !status.parse().is_ok_and(|s: JobStatus| s.is_active()) {
            Some(format!("job {} is {status}: it does not run", t.job))
        } else if Schedule::parse(&schedule).is_ok_and(|s| s.is_once()) {
            // Its one run's outcome ends the job: a manual run's would end it too.
            Some(format!(
                "job {} runs once, when it is created: it takes no run now (create another `@once` job)",
                t.job
            ))
        } else {
            None
        };
        if let Some(why) = refused {
            tx.rollback().await?;
            return Err(StoreError::Conflict(why));
        }
        let now = Utc::now();
        let id = RunId::new();
        let inserted = sqlx::query(
            "INSERT INTO runs (id, job_id, scheduled_at, attempt, triggered_by, status, worker_id, \
             created_at, not_before, idempotency_key) VALUES (?, ?, ?, 1, ?, 'pending', ?, ?, ?, ?)",
        )
        .bind(id.to_string())
        .bind(t.job.to_string())
        .bind(manual_time(now))
        .bind(t.actor)
        .bind(t.worker)
        .bind(now)
        .bind(now)
        .bind(t.idempotency_key)
        .execute(&mut *tx)
        .await;
        match inserted.map_err(StoreError::from) {
            Ok(_) => {}
            // The same key, at the same moment, from another request: that one's run.
            Err(StoreError::Conflict(_)) if t.idempotency_key.is_some() => {
                tx.rollback().await?;
                return match self.run_of_key(t).await? {
                    Some(run) => Ok(Triggered::Replayed(Box::new(run))),
                    None => Err(StoreError::Conflict(format!(
                        "a run of job {} conflicts",
                        t.job
                    ))),
                };
            }
            Err(e) => return Err(e),
        }
        audit::record(
            &mut tx,
            AuditEntry {
                at: now,
                actor: t.actor,
                action: "job.trigger",
                object_type: "job",
                object_id: &t.job.to_string(),
                detail: serde_json::json!({ "run_id": id.to_string(), "worker": t.worker }),
            },
        )
        .await?;
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?");
        let row: RunRow = sqlx::query_as(&sql)
            .bind(id.to_string())
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Triggered::Queued(Box::new(Run::try_from(row)?)))
    }

    async fn run_of_key(&self, t: &Trigger<'_>) -> Result<Option<Run>> {
        let Some(key) = t.idempotency_key else {
            return Ok(None);
        };
        let sql =
            format!("SELECT {RUN_COLUMNS} FROM runs WHERE job_id = ? AND idempotency_key = ?");
        let row: Option<RunRow> = sqlx::query_as(&sql)
            .bind(t.job.to_string())
            .bind(key)
            .fetch_optional(self.pool())
            .await?;
        row.map(Run::try_from).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_time_is_never_a_whole_millisecond_so_never_a_ticks_key() {
        let whole: DateTime<Utc> = "2026-12-03T10:00:00Z".parse().expect("time");
        assert_eq!(manual_time(whole), whole + Duration::microseconds(1));
        let ms = whole + Duration::milliseconds(250);
        assert_eq!(manual_time(ms), ms + Duration::microseconds(1));
        let odd = whole + Duration::nanoseconds(250_123_999);
        assert_eq!(manual_time(odd), whole + Duration::microseconds(250_123));
    }
}
