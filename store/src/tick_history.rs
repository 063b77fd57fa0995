//! What the tick view of a job reads: its scheduled runs in a window (manual runs are not
//! ticks), its pauses that overlap the window, the edits that changed its schedule (from the
//! audit log, which keeps each one's old and new value) and when it was finished.

use crate::bounds::bindable;
use crate::pauses::PauseRow;
use crate::runs::{RUN_COLUMNS, RunRow};
use crate::{Result, Store};
use chrono::{DateTime, Utc};
use distcron_core::{JobId, Run};

/// An edit of a job's schedule or time zone: at `at`, from the old values to the new ones
/// (`None`: that one did not change).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleEdit {
    pub at: DateTime<Utc>,
    pub old_schedule: Option<String>,
    pub old_timezone: Option<String>,
}

/// A job's history around a window of its ticks.
#[derive(Clone, Debug, Default)]
pub struct TickHistory {
    /// Runs of the schedule with `scheduled_at` in the window, every attempt, in time order.
    pub runs: Vec<Run>,
    pub pauses: Vec<PauseRow>,
    /// Oldest first; every one of the job's, since a schedule in force in the window may have
    /// been set before it.
    pub schedule_edits: Vec<ScheduleEdit>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The runs stop short of the window: only the ticks up to here are complete.
    pub truncated_to: Option<DateTime<Utc>>,
}

impl Store {
    /// The history of `job` for its ticks in `[from, to]`, reading at most `max_runs` runs
    /// (a window wider than that is cut short: `truncated_to`).
    pub async fn tick_history(
        &self,
        job: &JobId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        max_runs: u32,
    ) -> Result<TickHistory> {
        let id = job.to_string();
        let (from, to) = (bindable(from), bindable(to));
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE job_id = ? AND scheduled_at >= ? AND scheduled_at <= ? \
             AND triggered_by IS NULL ORDER BY scheduled_at, attempt LIMIT ?"
        );
        let rows: Vec<RunRow> = sqlx::query_as(&sql)
            .bind(&id)
            .bind(from)
            .bind(to)
            .bind(max_runs)
            .fetch_all(self.pool())
            .await?;
        let mut runs: Vec<Run> = rows.into_iter().map(Run::try_from).collect::<Result<_>>()?;
        // Cut short: the last tick read may lack attempts, so the ticks end before it.
        let truncated_to = match runs.last() {
            Some(last) if runs.len() == max_runs as usize => {
                let last = last.scheduled_at;
                runs.retain(|r| r.scheduled_at < last);
                Some(last - chrono::Duration::microseconds(1))
            }
            _ => None,
        };
        let pauses = sqlx::query_as(
            "SELECT paused_at, paused_by, resumed_at, resumed_by FROM job_pauses \
             WHERE job_id = ? AND paused_at <= ? AND (resumed_at IS NULL OR resumed_at >= ?) ORDER BY paused_at",
        )
        .bind(&id)
        .bind(to)
        .bind(from)
        .fetch_all(self.pool())
        .await?;
        // MariaDB types what JSON_UNQUOTE reads out of a JSON column as a binary string, which
        // sqlx will not decode as text: cast it to text.
        let edits: Vec<(DateTime<Utc>, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT at, CAST(JSON_UNQUOTE(JSON_EXTRACT(detail, '$.old.schedule')) AS CHAR), \
             CAST(JSON_UNQUOTE(JSON_EXTRACT(detail, '$.old.timezone')) AS CHAR) FROM audit_log \
             WHERE object_type = 'job' AND object_id = ? AND action = 'job.edit' \
             AND (JSON_EXTRACT(detail, '$.new.schedule') IS NOT NULL OR JSON_EXTRACT(detail, '$.new.timezone') IS NOT NULL) \
             ORDER BY id",
        )
        .bind(&id)
        .fetch_all(self.pool())
        .await?;
        let schedule_edits = edits
            .into_iter()
            .map(|(at, old_schedule, old_timezone)| ScheduleEdit {
                at,
                old_schedule,
                old_timezone,
            })
            .collect();
        let finished_at: Option<(Option<DateTime<Utc>>,)> =
            sqlx::query_as("SELECT finished_at FROM jobs WHERE id = ?")
                .bind(&id)
                .fetch_optional(self.pool())
                .await?;
        Ok(TickHistory {
            runs,
            pauses,
            schedule_edits,
            finished_at: finished_at.and_then(|(f,)| f),
            truncated_to,
        })
    }
}
