//! `PATCH /jobs/{id}`: change a job's definition. The body names just the fields to change
//! (`null` clears an optional one); each is read and validated as `POST /jobs` reads it, and
//! unknown fields are refused. The leader applies it only to the version it was made from,
//! so two edits at once never undo each other unseen: the second is a 409.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{JsonBody, PathParam};
use crate::routes::job_request::{Executable, complete};
use crate::routes::jobs::visible_job;
use crate::routes::params::parse_schedule;
use crate::state::AppState;
use crate::view::JobView;
use axum::Json;
use axum::extract::State;
use chrono::Utc;
use distcron_core::internal::EditJob;
use distcron_core::{JobSpec, JobType};
use serde::{Deserialize, Deserializer};

/// A field that may be absent (unchanged), `null` (cleared) or a value.
fn present<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditJobRequest {
    /// Accepted only as the job's own type: a job's type never changes.
    #[serde(rename = "type")]
    job_type: Option<String>,
    schedule: Option<String>,
    timezone: Option<String>,
    #[serde(default, deserialize_with = "present")]
    name: Option<Option<String>>,
    /// A command job's new command line.
    executable: Option<String>,
    /// A script's or binary's new file, base64: stored anew, with its new sha256.
    content: Option<String>,
    #[serde(default, deserialize_with = "present")]
    timeout_seconds: Option<Option<u32>>,
    privileged: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    run_as: Option<Option<String>>,
    concurrency: Option<String>,
    misfire: Option<String>,
    retries: Option<u16>,
    retry_backoff_seconds: Option<u32>,
    retry_interrupted: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    history_limit: Option<Option<u32>>,
    #[serde(default, deserialize_with = "present")]
    memory_mb: Option<Option<u32>>,
    #[serde(default, deserialize_with = "present")]
    cpu_millis: Option<Option<u32>>,
    #[serde(default, deserialize_with = "present")]
    max_processes: Option<Option<u32>>,
}

impl EditJobRequest {
    /// `old` with the fields this edit names replaced (each parsed, or a 400 naming it), and
    /// what the job runs, if the edit changes that.
    fn apply(self, old: &JobSpec) -> Result<(JobSpec, Option<Executable>), ApiError> {
        if let Some(t) = &self.job_type {
            let t: JobType = t
                .parse()
                .map_err(|e| ApiError::bad_request("invalid_type", e))?;
            if t != old.job_type {
                return Err(ApiError::bad_request(
                    "invalid_type",
                    format!(
                        "a job's type cannot change (this one is a {} job): create a new job",
                        old.job_type
                    ),
                ));
            }
        }
        let mut spec = old.clone();
        if self.schedule.is_some() || self.timezone.is_some() {
            let expr = self
                .schedule
                .unwrap_or_else(|| old.schedule.expression().to_string());
            let zone = self
                .timezone
                .unwrap_or_else(|| old.timezone.name().to_string());
            let (schedule, timezone) = parse_schedule(&expr, Some(&zone))?;
            if schedule.is_once() != old.schedule.is_once() {
                return Err(ApiError::bad_request(
                    "invalid_schedule",
                    "a job cannot become or stop being `@once` (its one tick is its creation): create a new job",
                ));
            }
            spec.schedule = schedule;
            spec.timezone = timezone;
        }
        let option = |e: String| ApiError::bad_request("invalid_option", e);
        if let Some(c) = &self.concurrency {
            spec.options.concurrency = c.parse().map_err(option)?;
        }
        if let Some(m) = &self.misfire {
            spec.options.misfire = m.parse().map_err(option)?;
        }
        set(&mut spec.name, self.name);
        set(&mut spec.timeout_seconds, self.timeout_seconds);
        set(&mut spec.run_as, self.run_as);
        set(&mut spec.options.history_limit, self.history_limit);
        set(&mut spec.resources.memory_mb, self.memory_mb);
        set(&mut spec.resources.cpu_millis, self.cpu_millis);
        set(&mut spec.resources.max_processes, self.max_processes);
        spec.privileged = self.privileged.unwrap_or(spec.privileged);
        spec.options.retries = self.retries.unwrap_or(spec.options.retries);
        spec.options.retry_backoff_seconds = self
            .retry_backoff_seconds
            .unwrap_or(spec.options.retry_backoff_seconds);
        spec.options.retry_interrupted = self
            .retry_interrupted
            .unwrap_or(spec.options.retry_interrupted);
        let executable = (self.executable.is_some() || self.content.is_some())
            .then(|| Executable::new(old.job_type, self.executable, self.content));
        Ok((spec, executable))
    }
}

fn set<T>(field: &mut Option<T>, edit: Option<Option<T>>) {
    if let Some(value) = edit {
        *field = value;
    }
}

pub async fn edit_job(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam<String>,
    JsonBody(req): JsonBody<EditJobRequest>,
) -> Result<Json<JobView>, ApiError> {
    let job = visible_job(&state, &caller, &id).await?;
    let (spec, executable) = req.apply(&job.spec)?;
    if spec.needs_admin() && !caller.0.is_admin {
        return Err(ApiError::Forbidden(
            "only admins may make a job privileged or choose the user it runs as (`privileged`, `run_as`)".into(),
        ));
    }
    let source = executable
        .map(|e| e.source(state.max_upload_bytes))
        .transpose()?;
    let spec = complete(&state, spec, source).await?;
    let job = state
        .manager
        .edit_job(
            &job.id,
            &EditJob {
                actor: caller.0.name.clone(),
                base_version: job.version,
                spec,
            },
        )
        .await?;
    Ok(Json(JobView::new(&job, Utc::now())))
}
