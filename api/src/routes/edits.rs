//! `PATCH /jobs/{id}`: change a job's definition. The body names just the fields to change
//! (`null` clears an optional one); each is read and validated as `POST /jobs` reads it, and
//! unknown fields are refused. The leader applies it only to the version it was made from,
//! so two edits at once never undo each other unseen: the second is a 409.

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{JsonBody, PathParam};
use crate::openapi::examples;
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
use utoipa::ToSchema;

/// A field that may be absent (unchanged), `null` (cleared) or a value.
fn present<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// The body of `PATCH /jobs/{id}`: any of `POST /jobs`' fields, with the same bounds; `null`
/// clears an optional one.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!(examples::edit()))]
pub struct EditJobRequest {
    /// Accepted only as the job's own type: a job's type never changes.
    #[serde(rename = "type")]
    #[schema(value_type = Option<distcron_core::JobType>)]
    job_type: Option<String>,
    /// A new schedule: it counts from the edit (no time of it before the edit is caught up);
    /// a job cannot become or stop being `@once`.
    #[schema(max_length = 255, example = "*/10 * * * *")]
    schedule: Option<String>,
    #[schema(example = "Europe/Berlin")]
    timezone: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(min_length = 1, max_length = 255)]
    name: Option<Option<String>>,
    /// A command job's new command line.
    #[schema(max_length = 16384)]
    executable: Option<String>,
    /// A script's or binary's new file, base64: stored anew, with its new sha256.
    #[schema(content_encoding = "base64")]
    content: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(minimum = 1, maximum = 2592000)]
    timeout_seconds: Option<Option<u32>>,
    privileged: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    #[schema(pattern = r"^[a-z_][a-z0-9_-]{0,31}$")]
    run_as: Option<Option<String>>,
    #[schema(value_type = Option<distcron_core::Concurrency>)]
    concurrency: Option<String>,
    #[schema(value_type = Option<distcron_core::Misfire>)]
    misfire: Option<String>,
    #[schema(maximum = 10)]
    retries: Option<u16>,
    #[schema(minimum = 1, maximum = 86400)]
    retry_backoff_seconds: Option<u32>,
    retry_interrupted: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    #[schema(minimum = 1, maximum = 1000000)]
    history_limit: Option<Option<u32>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(minimum = 8, maximum = 16777216)]
    memory_mb: Option<Option<u32>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(minimum = 10, maximum = 1024000)]
    cpu_millis: Option<Option<u32>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(minimum = 1, maximum = 4194304)]
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

#[utoipa::path(
    patch,
    path = "/jobs/{id}",
    tag = "jobs",
    summary = "Change a job",
    description = "Any of the fields of `POST /jobs` but `type`, read and refused as it reads \
        them. The owner worker takes the new definition from the next tick it has not yet \
        claimed, restarting nothing. The same values again: no change, no new version. A paused \
        job takes edits and runs them once resumed.",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The job's id")),
    request_body(content = EditJobRequest, example = json!(examples::edit())),
    responses(
        (status = 200, description = "The job, its `version` one higher if anything changed", body = JobView),
        (status = 400, description = "A field is unknown or invalid, `type` is another, or the \
            edit would make the job (or stop it being) `@once`", body = ErrorBody),
        (status = 403, description = "Only admins may make a job privileged or name a `run_as` user", body = ErrorBody),
        (status = 404, description = "No such job, or another user's (to a non-admin)", body = ErrorBody),
        (status = 409, description = "Another edit changed the job meanwhile (read it again), or \
            the job is finished", body = ErrorBody),
        (status = 413, description = "The body, or the decoded file, is too large", body = ErrorBody),
    ),
)]
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
