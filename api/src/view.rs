//! The JSON shapes the public API answers with: jobs and runs.

use chrono::{DateTime, Datelike, SecondsFormat, Utc};
use distcron_core::{Job, JobStatus, Output, Run};
use serde::Serialize;
use utoipa::ToSchema;

/// A job as users see it: the seed design's fields first, then the rest.
#[derive(Serialize, ToSchema)]
#[schema(example = json!(crate::openapi::examples::job()))]
pub struct JobView {
    #[schema(format = Uuid)]
    pub id: String,
    pub status: JobStatus,
    /// The command line, or `s3://<bucket>/<key>` of an uploaded script or binary.
    pub executable: String,
    /// crontab(5), as given.
    pub schedule: String,
    #[serde(rename = "type")]
    #[schema(value_type = distcron_core::JobType)]
    pub job_type: &'static str,
    pub name: Option<String>,
    /// The uploaded file's sha256 (hex); null for commands.
    pub sha256: Option<String>,
    /// The IANA time zone the schedule is read in.
    #[schema(example = "UTC")]
    pub timezone: &'static str,
    pub timeout_seconds: Option<u32>,
    pub privileged: bool,
    pub run_as: Option<String>,
    #[schema(value_type = distcron_core::Concurrency)]
    pub concurrency: &'static str,
    #[schema(value_type = distcron_core::Misfire)]
    pub misfire: &'static str,
    pub retries: u16,
    pub retry_backoff_seconds: u32,
    pub retry_interrupted: bool,
    /// How many runs it keeps; null: the cluster's default.
    pub history_limit: Option<u32>,
    /// Where its kept history starts once older runs were pruned; null: at its creation.
    #[schema(format = DateTime)]
    pub history_from: Option<String>,
    /// Each run's bounds; null: the worker's default.
    pub memory_mb: Option<u32>,
    pub cpu_millis: Option<u32>,
    pub max_processes: Option<u32>,
    pub owner: String,
    /// One higher at each edit that changed something.
    pub version: u64,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    /// The next scheduled time, or null when the job is off the schedule (paused included).
    #[schema(format = DateTime)]
    pub next_run_at: Option<String>,
    /// When the pause in force (status `paused`), or the latest one, began; null if never.
    #[schema(format = DateTime)]
    pub paused_at: Option<String>,
    /// When the job was last resumed: its ticks count from there; null if never.
    #[schema(format = DateTime)]
    pub resumed_at: Option<String>,
}

/// The first instant RFC 3339 can write (its years have four digits).
pub fn first_rfc3339() -> DateTime<Utc> {
    chrono::NaiveDate::from_ymd_opt(0, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(DateTime::<Utc>::MIN_UTC, |t| t.and_utc())
}

/// Whether RFC 3339 can write `t`: years 0 to 9999. chrono writes others (`+10000-01-01...`),
/// which no client reads as a time.
pub fn writable(t: &DateTime<Utc>) -> bool {
    (0..=9999).contains(&t.year())
}

pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl JobView {
    pub fn new(job: &Job, now: DateTime<Utc>) -> JobView {
        let spec = &job.spec;
        let next_run_at = if !job.status.is_active() {
            None
        } else if spec.schedule.is_once() {
            // A one-shot job runs as soon as possible after it was created.
            Some(job.created_at.max(now))
        } else {
            spec.schedule.next_after(&spec.timezone, now)
        };
        JobView {
            id: job.id.to_string(),
            status: job.status,
            executable: spec.executable.clone(),
            schedule: spec.schedule.expression().to_string(),
            job_type: spec.job_type.as_str(),
            name: spec.name.clone(),
            sha256: spec.sha256.clone(),
            timezone: spec.timezone.name(),
            timeout_seconds: spec.timeout_seconds,
            privileged: spec.privileged,
            run_as: spec.run_as.clone(),
            concurrency: spec.options.concurrency.as_str(),
            misfire: spec.options.misfire.as_str(),
            retries: spec.options.retries,
            retry_backoff_seconds: spec.options.retry_backoff_seconds,
            retry_interrupted: spec.options.retry_interrupted,
            history_limit: spec.options.history_limit,
            history_from: job.history_from.map(rfc3339),
            memory_mb: spec.resources.memory_mb,
            cpu_millis: spec.resources.cpu_millis,
            max_processes: spec.resources.max_processes,
            owner: job.owner.to_string(),
            version: job.version,
            created_at: rfc3339(job.created_at),
            updated_at: rfc3339(job.updated_at),
            next_run_at: next_run_at.map(rfc3339),
            paused_at: job.paused_at.map(rfc3339),
            resumed_at: job.resumed_at.map(rfc3339),
        }
    }
}

/// One attempt at one scheduled time of a job (or a manual run).
#[derive(Serialize, ToSchema)]
#[schema(example = json!(crate::openapi::examples::run()))]
pub struct RunView {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(format = Uuid)]
    pub job_id: String,
    /// The tick it is for; a manual run's is the moment it was asked for.
    #[schema(format = DateTime)]
    pub scheduled_at: String,
    /// 1 for a tick's first attempt; retries count up.
    #[schema(minimum = 1)]
    pub attempt: u16,
    /// `schedule`, or `manual` for a run asked for with `POST /jobs/{id}/trigger`.
    #[schema(schema_with = trigger_schema)]
    pub trigger: &'static str,
    /// Who asked for a manual run; null for the schedule's.
    pub triggered_by: Option<String>,
    /// `pending` (a retry or manual run waiting its turn), `claimed` (its worker took the tick
    /// and starts it at its time), `running`, or how it ended.
    #[schema(schema_with = run_status_schema)]
    pub status: &'static str,
    /// Why it ended so: a skip's reason, a failure's, who killed it.
    pub reason: Option<String>,
    /// The worker that runs (or ran, or is to run) it.
    pub worker: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// When its process started; null before that (and if it never did).
    #[schema(format = DateTime)]
    pub started_at: Option<String>,
    #[schema(format = DateTime)]
    pub finished_at: Option<String>,
    pub exit_code: Option<i32>,
    /// The signal that ended its process, if one did.
    pub signal: Option<i32>,
}

/// The statuses a run shows: `RunStatus`'s, and `claimed` (`Run::shown_status`).
pub(crate) fn run_status_schema() -> utoipa::openapi::Object {
    crate::openapi::string_enum(
        std::iter::once("claimed").chain(distcron_core::RunStatus::ALL.iter().map(|s| s.as_str())),
    )
}

fn trigger_schema() -> utoipa::openapi::Object {
    crate::openapi::string_enum(["schedule", "manual"])
}

impl From<&Run> for RunView {
    fn from(r: &Run) -> Self {
        RunView {
            id: r.id.to_string(),
            job_id: r.job_id.to_string(),
            scheduled_at: rfc3339(r.scheduled_at),
            attempt: r.attempt,
            trigger: if r.triggered_by.is_some() {
                "manual"
            } else {
                "schedule"
            },
            triggered_by: r.triggered_by.clone(),
            status: r.shown_status(),
            reason: r.reason.clone(),
            worker: r.worker_id.clone(),
            created_at: rfc3339(r.created_at),
            started_at: r.started_at.map(rfc3339),
            finished_at: r.finished_at.map(rfc3339),
            exit_code: r.exit_code,
            signal: r.signal,
        }
    }
}

/// What the run's process wrote, each stream up to the worker's `max_output_bytes`.
#[derive(Serialize, ToSchema)]
pub struct OutputView {
    pub stdout: String,
    pub stderr: String,
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
}

impl From<Output> for OutputView {
    fn from(o: Output) -> Self {
        OutputView {
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            stdout_truncated: o.stdout_truncated,
            stderr_truncated: o.stderr_truncated,
        }
    }
}

/// A run with its captured output.
#[derive(Serialize, ToSchema)]
#[schema(example = json!(crate::openapi::examples::run_with_output()))]
pub struct RunWithOutput {
    #[serde(flatten)]
    pub run: RunView,
    /// What the run printed so far (while it runs too); null until it starts a process.
    pub output: Option<OutputView>,
}

impl RunWithOutput {
    pub fn new(run: &Run, output: Option<Output>) -> Self {
        RunWithOutput {
            run: RunView::from(run),
            output: output.map(OutputView::from),
        }
    }
}
