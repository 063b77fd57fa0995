//! The JSON shapes the public API answers with.

use chrono::{DateTime, SecondsFormat, Utc};
use distcron_core::{Job, JobStatus};
use serde::Serialize;

/// A job as users see it: the seed design's fields first, then the rest.
#[derive(Serialize)]
pub struct JobView {
    pub id: String,
    pub status: JobStatus,
    pub executable: String,
    pub schedule: String,
    #[serde(rename = "type")]
    pub job_type: &'static str,
    pub name: Option<String>,
    pub sha256: Option<String>,
    pub timezone: &'static str,
    pub timeout_seconds: Option<u32>,
    pub privileged: bool,
    pub run_as: Option<String>,
    pub concurrency: &'static str,
    pub misfire: &'static str,
    pub retries: u16,
    pub retry_backoff_seconds: u32,
    pub retry_interrupted: bool,
    /// How many runs it keeps; null: the cluster's default.
    pub history_limit: Option<u32>,
    /// Where its kept history starts once older runs were pruned; null: at its creation.
    pub history_from: Option<String>,
    /// Each run's bounds; null: the worker's default.
    pub memory_mb: Option<u32>,
    pub cpu_millis: Option<u32>,
    pub max_processes: Option<u32>,
    pub owner: String,
    pub version: u64,
    pub created_at: String,
    pub updated_at: String,
    /// The next scheduled time, or null when the job is off the schedule (paused included).
    pub next_run_at: Option<String>,
    /// When the pause in force (status `paused`), or the latest one, began; null if never.
    pub paused_at: Option<String>,
    /// When the job was last resumed: its ticks count from there; null if never.
    pub resumed_at: Option<String>,
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
