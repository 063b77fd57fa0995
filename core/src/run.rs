//! Runs: one attempt at one scheduled time of one job, and how it ended.

use crate::job::JobId;
use crate::output::OutputChunk;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// A run's identity: a UUIDv7 the worker generates before it writes the run's row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct RunId(Uuid);

impl RunId {
    pub fn new() -> RunId {
        RunId(Uuid::now_v7())
    }
}

impl Default for RunId {
    fn default() -> Self {
        RunId::new()
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.as_hyphenated().fmt(f)
    }
}

impl FromStr for RunId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 36 {
            return Err(format!("`{s}` is not a run id"));
        }
        Uuid::parse_str(s)
            .map(RunId)
            .map_err(|_| format!("`{s}` is not a run id"))
    }
}

/// Where a run is in its life. Every scheduled time ends in exactly one of the final states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// A retry waiting for its time (`not_before`) and for the job's owner to take it.
    Pending,
    /// Claimed by a worker, which is starting or running it.
    Running,
    Succeeded,
    /// Exited non-zero, was killed by a signal it did not expect, or could not start.
    Failed,
    TimedOut,
    /// Ended on purpose: replaced by a newer run (`concurrency: replace`).
    Killed,
    /// Not run, with the reason recorded (concurrency, misfire, job deleted).
    Skipped,
    /// Its worker died or lost contact mid-run.
    Interrupted,
}

impl RunStatus {
    pub const ALL: [RunStatus; 8] = [
        RunStatus::Pending,
        RunStatus::Running,
        RunStatus::Succeeded,
        RunStatus::Failed,
        RunStatus::TimedOut,
        RunStatus::Killed,
        RunStatus::Skipped,
        RunStatus::Interrupted,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            RunStatus::Pending => "pending",
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::TimedOut => "timed_out",
            RunStatus::Killed => "killed",
            RunStatus::Skipped => "skipped",
            RunStatus::Interrupted => "interrupted",
        }
    }

    pub fn is_final(&self) -> bool {
        !matches!(self, RunStatus::Pending | RunStatus::Running)
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RunStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RunStatus::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown run status `{s}`"))
    }
}

/// A run as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    pub id: RunId,
    pub job_id: JobId,
    /// The tick this run is for (UTC).
    pub scheduled_at: DateTime<Utc>,
    /// 1 for the tick's first attempt; retries count up.
    pub attempt: u16,
    /// Who asked for this run outside the schedule (`POST /jobs/{id}/trigger`); `None` for
    /// the schedule's own runs.
    pub triggered_by: Option<String>,
    pub status: RunStatus,
    pub reason: Option<String>,
    pub worker_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
}

impl Run {
    /// The status users see: a `running` row whose process has not started yet is `claimed`.
    /// Workers write a tick's row shortly before its time (so that no other process can take
    /// it), and `running` with no `started_at` would read as a run that hangs.
    pub fn shown_status(&self) -> &'static str {
        match (self.status, self.started_at) {
            (RunStatus::Running, None) => "claimed",
            (status, _) => status.as_str(),
        }
    }
}

/// Why a tick was skipped. The text is stored as the run's reason.
pub mod skip {
    pub const MISFIRE: &str = "misfire: the scheduled time passed while no worker could run it";
    pub const OVERLAP: &str = "concurrency forbid: the previous run was still running";
    pub const DELETED: &str = "the job was taken off the schedule";
    pub const PAUSED: &str = "the job is paused";
}

/// A row a worker writes before it starts anything: `Running` for a run it is about to start,
/// `Skipped` (with a reason) for a tick it accounts for without running.
#[derive(Clone, Debug)]
pub struct NewRun {
    pub id: RunId,
    pub job_id: JobId,
    pub scheduled_at: DateTime<Utc>,
    pub attempt: u16,
    pub status: RunStatus,
    pub reason: Option<String>,
}

/// How a run ended.
#[derive(Clone, Debug)]
pub struct RunEnd {
    pub status: RunStatus,
    pub reason: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: DateTime<Utc>,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    /// The run's output not yet known to be written (the worker ships the rest while the run
    /// runs): written with the outcome, in the same transaction.
    pub output: Vec<OutputChunk>,
}

impl RunEnd {
    /// A run that never started a process.
    pub fn not_started(status: RunStatus, reason: impl Into<String>) -> RunEnd {
        RunEnd {
            status,
            reason: Some(reason.into()),
            started_at: None,
            finished_at: Utc::now(),
            exit_code: None,
            signal: None,
            output: Vec::new(),
        }
    }
}

/// How a given run (job, scheduled time, attempt) ended.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub id: RunId,
    pub job_id: JobId,
    pub scheduled_at: DateTime<Utc>,
    pub attempt: u16,
    pub end: RunEnd,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_only_two_are_open() {
        for s in RunStatus::ALL {
            assert_eq!(s.as_str().parse::<RunStatus>(), Ok(s));
            assert_eq!(serde_json::to_value(s).expect("json"), s.as_str());
        }
        let open: Vec<_> = RunStatus::ALL
            .into_iter()
            .filter(|s| !s.is_final())
            .collect();
        assert_eq!(open, vec![RunStatus::Pending, RunStatus::Running]);
    }

    #[test]
    fn a_running_row_is_shown_claimed_until_its_process_started() {
        let now = Utc::now();
        let mut run = Run {
            id: RunId::new(),
            job_id: JobId::new(),
            scheduled_at: now,
            attempt: 1,
            triggered_by: None,
            status: RunStatus::Running,
            reason: None,
            worker_id: Some("worker-1".into()),
            created_at: now,
            started_at: None,
            finished_at: None,
            exit_code: None,
            signal: None,
        };
        assert_eq!(run.shown_status(), "claimed");
        run.started_at = Some(now);
        assert_eq!(run.shown_status(), "running");
        run.status = RunStatus::Succeeded;
        assert_eq!(run.shown_status(), "succeeded");
        run.status = RunStatus::Interrupted;
        run.started_at = None;
        assert_eq!(run.shown_status(), "interrupted");
    }
}
