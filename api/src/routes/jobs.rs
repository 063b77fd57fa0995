//! `/jobs`: create, list, show and delete jobs. Writes go to the leader manager; reads come
//! straight from MySQL. A non-admin sees only its own jobs: anyone else's is a 404.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{JsonBody, PathParam, QueryParams};
use crate::routes::params::{next_page_headers, page_limit, parse_schedule};
use crate::state::AppState;
use crate::view::JobView;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use bytes::Bytes;
use chrono::Utc;
use distcron_core::internal::{CreateJob, FinishJob};
use distcron_core::job::JobError;
use distcron_core::{Job, JobId, JobOptions, JobSpec, JobStatus, JobType, Resources, UserName};
use distcron_store::JobFilter;
use serde::Deserialize;

/// The body of `POST /jobs`. Unknown fields are refused, so nobody can set `owner`, `status`
/// or `id` by sending them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateJobRequest {
    #[serde(rename = "type")]
    job_type: String,
    schedule: String,
    executable: Option<String>,
    /// Base64 of the script or binary.
    content: Option<String>,
    name: Option<String>,
    timezone: Option<String>,
    timeout_seconds: Option<u32>,
    privileged: Option<bool>,
    run_as: Option<String>,
    /// `allow` (default), `forbid` or `replace`.
    concurrency: Option<String>,
    /// `run_once` (default) or `skip`.
    misfire: Option<String>,
    retries: Option<u16>,
    retry_backoff_seconds: Option<u32>,
    retry_interrupted: Option<bool>,
    /// Each run's memory (MiB), CPU (thousandths of a core) and process bounds.
    memory_mb: Option<u32>,
    cpu_millis: Option<u32>,
    max_processes: Option<u32>,
}

fn decode_content(content: &str, limit: usize) -> Result<Vec<u8>, ApiError> {
    // `base64` wraps its output at 76 columns; whitespace is not data, so ignore it.
    let compact: Vec<u8> = content
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let decoded = STANDARD
        .decode(&compact)
        .or_else(|_| STANDARD_NO_PAD.decode(&compact))
        .map_err(|e| {
            ApiError::bad_request(
                "invalid_base64",
                format!("`content` is not valid base64: {e}"),
            )
        })?;
    if decoded.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_content",
            "`content` is empty",
        ));
    }
    if decoded.len() > limit {
        return Err(ApiError::PayloadTooLarge(format!(
            "the uploaded file is {} bytes; the limit is {limit} bytes",
            decoded.len()
        )));
    }
    Ok(decoded)
}

pub async fn create_job(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(req): JsonBody<CreateJobRequest>,
) -> Result<(StatusCode, Json<JobView>), ApiError> {
    let job_type: JobType = req
        .job_type
        .parse()
        .map_err(|e| ApiError::bad_request("invalid_type", e))?;
    let (schedule, timezone) = parse_schedule(&req.schedule, req.timezone.as_deref())?;

    let defaults = JobOptions::default();
    let options = JobOptions {
        concurrency: match &req.concurrency {
            Some(c) => c
                .parse()
                .map_err(|e| ApiError::bad_request("invalid_option", e))?,
            None => defaults.concurrency,
        },
        misfire: match &req.misfire {
            Some(m) => m
                .parse()
                .map_err(|e| ApiError::bad_request("invalid_option", e))?,
            None => defaults.misfire,
        },
        retries: req.retries.unwrap_or(defaults.retries),
        retry_backoff_seconds: req
            .retry_backoff_seconds
            .unwrap_or(defaults.retry_backoff_seconds),
        retry_interrupted: req.retry_interrupted.unwrap_or(defaults.retry_interrupted),
    };
    let mut spec = JobSpec {
        name: req.name,
        job_type,
        executable: String::new(),
        sha256: None,
        schedule,
        timezone,
        timeout_seconds: req.timeout_seconds,
        privileged: req.privileged.unwrap_or(false),
        run_as: req.run_as,
        options,
        resources: Resources {
            memory_mb: req.memory_mb,
            cpu_millis: req.cpu_millis,
            max_processes: req.max_processes,
        },
    };
    if spec.needs_admin() && !caller.0.is_admin {
        return Err(ApiError::Forbidden(
            "only admins may submit privileged jobs or choose the user a job runs as (`privileged`, `run_as`)".into(),
        ));
    }
    let upload = match (job_type, req.executable, req.content) {
        (JobType::Command, Some(command), None) => {
            spec.executable = command;
            None
        }
        (JobType::Command, None, _) => {
            return Err(ApiError::bad_request(
                "missing_field",
                "a command job needs `executable`: the command line to run",
            ));
        }
        (JobType::Command, Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "unexpected_field",
                "`content` is only for script and binary jobs",
            ));
        }
        (_, Some(_), _) => {
            return Err(ApiError::bad_request(
                "unexpected_field",
                format!(
                    "a {job_type} job's `executable` is set by the server; send the file as base64 in `content`"
                ),
            ));
        }
        (_, None, None) => {
            return Err(ApiError::bad_request(
                "missing_field",
                format!("a {job_type} job needs `content`: the file, base64-encoded"),
            ));
        }
        (_, None, Some(content)) => Some(decode_content(&content, state.max_upload_bytes)?),
    };
    if job_type == JobType::Script
        && let Some(file) = &upload
        && !file.starts_with(b"#!")
    {
        return Err(ApiError::bad_request(
            "invalid_content",
            "a script must start with an interpreter line such as `#!/bin/sh`",
        ));
    }
    // Check everything that does not need the file stored before storing it; the file's
    // location and digest are checked once it is.
    let invalid = |e: JobError| ApiError::bad_request("invalid_job", e.to_string());
    match &upload {
        None => spec.validate().map_err(invalid)?,
        Some(_) => spec.validate_definition().map_err(invalid)?,
    }
    if let Some(file) = upload {
        let stored = state.blobs.put(Bytes::from(file)).await?;
        spec.executable = stored.url;
        spec.sha256 = Some(stored.sha256);
        spec.validate_executable().map_err(invalid)?;
    }

    let job = state
        .manager
        .create_job(&CreateJob {
            id: JobId::new(),
            owner: caller.0.name.clone(),
            spec,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(JobView::new(&job, Utc::now()))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    status: Option<String>,
    owner: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

pub async fn list_jobs(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(q): QueryParams<ListQuery>,
) -> Result<(HeaderMap, Json<Vec<JobView>>), ApiError> {
    let status = q
        .status
        .as_deref()
        .map(str::parse::<JobStatus>)
        .transpose()
        .map_err(|e| ApiError::bad_request("invalid_query", e))?;
    let owner = match q.owner.as_deref() {
        Some(o) => Some(
            UserName::parse(o)
                .map_err(|e| ApiError::bad_request("invalid_query", format!("owner: {e}")))?,
        ),
        None => None,
    };
    let owner = if caller.0.is_admin {
        owner
    } else {
        if owner.as_ref().is_some_and(|o| *o != caller.0.name) {
            return Err(ApiError::Forbidden(
                "only admins may list other users' jobs".into(),
            ));
        }
        Some(caller.0.name.clone())
    };
    let limit = page_limit(q.limit)?;
    let after = q
        .cursor
        .as_deref()
        .map(str::parse::<JobId>)
        .transpose()
        .map_err(|e| ApiError::bad_request("invalid_query", format!("invalid cursor: {e}")))?;
    let jobs = state
        .store
        .list_jobs(&JobFilter {
            owner: owner.clone(),
            status,
            after,
            limit,
        })
        .await?;
    let now = Utc::now();
    let mut headers = HeaderMap::new();
    if jobs.len() == limit as usize
        && let Some(last) = jobs.last()
    {
        let mut next = format!("/jobs?limit={limit}&cursor={}", last.id);
        if let Some(s) = status {
            next.push_str(&format!("&status={s}"));
        }
        if let (true, Some(o)) = (caller.0.is_admin, &owner) {
            next.push_str(&format!("&owner={o}"));
        }
        headers = next_page_headers(&next, &last.id.to_string());
    }
    Ok((
        headers,
        Json(jobs.iter().map(|j| JobView::new(j, now)).collect()),
    ))
}

/// The job, if the caller may see it; otherwise 404, so that a non-admin cannot even tell
/// whether another user's job exists.
pub(crate) async fn visible_job(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<Job, ApiError> {
    let id: JobId = id.parse().map_err(|e: distcron_core::job::JobError| {
        ApiError::bad_request("invalid_id", e.to_string())
    })?;
    visible_job_by_id(state, caller, &id).await
}

/// `visible_job` for an id already parsed.
pub(crate) async fn visible_job_by_id(
    state: &AppState,
    caller: &Caller,
    id: &JobId,
) -> Result<Job, ApiError> {
    match state.store.get_job(id).await? {
        Some(job) if caller.0.is_admin || job.owner == caller.0.name => Ok(job),
        _ => Err(ApiError::NotFound(format!("no job {id}"))),
    }
}

pub async fn get_job(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam<String>,
) -> Result<Json<JobView>, ApiError> {
    let job = visible_job(&state, &caller, &id).await?;
    Ok(Json(JobView::new(&job, Utc::now())))
}

/// Takes the job off the schedule; it stays readable with status `finished`.
pub async fn delete_job(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam<String>,
) -> Result<Json<JobView>, ApiError> {
    let job = visible_job(&state, &caller, &id).await?;
    let job = state
        .manager
        .finish_job(
            &job.id,
            &FinishJob {
                actor: caller.0.name.clone(),
            },
        )
        .await?;
    Ok(Json(JobView::new(&job, Utc::now())))
}
