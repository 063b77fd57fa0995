//! Pause and resume. A pause takes the job off the schedule as a delete does (the row locked
//! for update, so a start check either sees it paused or the pause waits for the starts), but
//! for a while: its ticks until the resume never run, and the pause row (`job_pauses`) is
//! what accounts for them. Retries waiting their turn are skipped with the pause. A resume
//! puts the job back on the schedule counting its ticks from the resume (`jobs.resumed_at`).

use crate::audit::{self, AuditEntry};
use crate::jobs::{JobTx, lock_job};
use crate::{Result, Store, StoreError};
use chrono::{DateTime, SubsecRound, Utc};
use distcron_core::run::skip;
use distcron_core::{Job, JobId, JobStatus, UserName};

/// A pause or a resume.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pause {
    Pause,
    Resume,
}

/// What `begin_pause` found.
pub enum PauseOutcome {
    NotFound,
    /// The job is already in the state asked for: nothing to do.
    Unchanged(Box<Job>),
    /// Changed in the open transaction: publish, then commit.
    Changed(Box<Job>, JobTx),
}

/// A pause interval of a job: the ticks in `[paused_at, resumed_at)` are accounted for by it.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct PauseRow {
    pub paused_at: DateTime<Utc>,
    pub paused_by: String,
    pub resumed_at: Option<DateTime<Utc>>,
    pub resumed_by: Option<String>,
}

impl Store {
    /// Pauses or resumes a job in a transaction left open for the caller. A finished job can
    /// be neither (a conflict); nor can a one-shot job be paused: its only tick is its
    /// creation, and a pause would leave it on the schedule with nothing to run.
    pub async fn begin_pause(
        &self,
        id: &JobId,
        what: Pause,
        actor: &UserName,
    ) -> Result<PauseOutcome> {
        let mut tx = self.pool().begin().await?;
        let Some(mut job) = lock_job(&mut tx, id).await? else {
            return Ok(PauseOutcome::NotFound);
        };
        let refuse = match (what, job.status) {
            (_, JobStatus::Finished) => Some(format!("job {id} is finished")),
            (Pause::Pause, _) if job.spec.schedule.is_once() => Some(format!(
                "job {id} runs once, when it is created: there is nothing to pause"
            )),
            _ => None,
        };
        if let Some(why) = refuse {
            tx.rollback().await?;
            return Err(StoreError::Conflict(why));
        }
        if (what == Pause::Pause) == (job.status == JobStatus::Paused) {
            tx.rollback().await?;
            return Ok(PauseOutcome::Unchanged(Box::new(job)));
        }
        // As MySQL keeps it, so the task published now equals the one a resync reads back.
        let now = Utc::now().trunc_subsecs(6);
        let previous = job.status;
        match what {
            Pause::Pause => {
                sqlx::query(
                    "UPDATE jobs SET status = 'paused', paused_at = ?, updated_at = ? WHERE id = ?",
                )
                .bind(now)
                .bind(now)
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE runs SET status = 'skipped', reason = ?, finished_at = ? \
                     WHERE job_id = ? AND status = 'pending'",
                )
                .bind(skip::PAUSED)
                .bind(now)
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO job_pauses (job_id, paused_at, paused_by) VALUES (?, ?, ?)",
                )
                .bind(id.to_string())
                .bind(now)
                .bind(actor.as_str())
                .execute(&mut *tx)
                .await?;
                job.status = JobStatus::Paused;
                job.paused_at = Some(now);
            }
            Pause::Resume => {
                sqlx::query("UPDATE jobs SET status = 'scheduled', resumed_at = ?, updated_at = ? WHERE id = ?")
                    .bind(now)
                    .bind(now)
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "UPDATE job_pauses SET resumed_at = ?, resumed_by = ? WHERE job_id = ? AND resumed_at IS NULL",
                )
                .bind(now)
                .bind(actor.as_str())
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
                job.status = JobStatus::Scheduled;
                job.resumed_at = Some(now);
            }
        }
        job.updated_at = now;
        audit::record(
            &mut tx,
            AuditEntry {
                at: now,
                actor: actor.as_str(),
                action: match what {
                    Pause::Pause => "job.pause",
                    Pause::Resume => "job.resume",
                },
                object_type: "job",
                object_id: &id.to_string(),
                detail: serde_json::json!({ "previous_status": previous.as_str() }),
            },
        )
        .await?;
        Ok(PauseOutcome::Changed(Box::new(job), JobTx { tx }))
    }

    /// The job's pauses, oldest first.
    pub async fn pauses(&self, id: &JobId) -> Result<Vec<PauseRow>> {
        Ok(sqlx::query_as(
            "SELECT paused_at, paused_by, resumed_at, resumed_by FROM job_pauses WHERE job_id = ? ORDER BY paused_at",
        )
        .bind(id.to_string())
        .fetch_all(self.pool())
        .await?)
    }
}
