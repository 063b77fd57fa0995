//! `/jobs`: create, list, show and delete jobs. Writes go to the leader manager; reads come
//! straight from MySQL. A non-admin sees only its own jobs: anyone else's is a 404.

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{JsonBody, PathParam, QueryParams};
use crate::openapi::examples;
use crate::routes::job_request::{CreateJobRequest, complete};
use crate::routes::params::{IDEMPOTENCY_KEY, idempotency_key, next_page_headers, page_limit};
use crate::state::AppState;
use crate::view::JobView;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use distcron_core::internal::{CreateJob, FinishJob};
use distcron_core::{Job, JobId, JobStatus, UserName};
use distcron_store::JobFilter;
use serde::Deserialize;
use utoipa::IntoParams;

/// With an `Idempotency-Key` header, the same key and body again answer the job the first
/// request created (and create nothing); the same key with another body is a 422.
#[utoipa::path(
    post,
    path = "/jobs",
    tag = "jobs",
    summary = "Create a job",
    description = "A command, or a script or binary uploaded as base64 in `content` (stored in \
        S3 under its sha256). Unknown fields are refused, so nobody can set `owner`, `status` or \
        `id`.",
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = IDEMPOTENCY_KEY,
        min_length = 1, max_length = 255, pattern = "^[!-~]+$", example = "deploy-42")),
    request_body(
        content = CreateJobRequest,
        examples(
            ("command" = (summary = "`ls -la` at minute 5 of every hour", value = json!(examples::create_command()))),
            ("script" = (summary = "A script, every ten seconds", value = json!(examples::create_script()))),
        ),
    ),
    responses(
        (status = 201, description = "The job, on its schedule (or, with an `Idempotency-Key` \
            used before with this body, the job it made, as it now is)", body = JobView,
            links(
                ("get_job" = (operation_id = "get_job", parameters(("id" = "$response.body#/id")))),
                ("edit_job" = (operation_id = "edit_job", parameters(("id" = "$response.body#/id")))),
                ("delete_job" = (operation_id = "delete_job", parameters(("id" = "$response.body#/id")))),
                ("list_runs" = (operation_id = "list_runs", parameters(("id" = "$response.body#/id")))),
                ("job_ticks" = (operation_id = "job_ticks", parameters(("id" = "$response.body#/id")))),
                ("kill_job" = (operation_id = "kill_job", parameters(("id" = "$response.body#/id")))),
                ("pause_job" = (operation_id = "pause_job", parameters(("id" = "$response.body#/id")))),
                ("resume_job" = (operation_id = "resume_job", parameters(("id" = "$response.body#/id")))),
                ("trigger_job" = (operation_id = "trigger_job", parameters(("id" = "$response.body#/id")))),
            ),
            examples(
                ("command" = (value = json!(examples::job()))),
                ("script" = (value = json!(examples::script_job()))),
            ),
        ),
        (status = 400, description = "A field is missing, unknown or invalid (which cron field, \
            which time zone, invalid base64, a script without `#!`...), or the Idempotency-Key \
            is", body = ErrorBody),
        (status = 403, description = "Only admins may ask for `\"privileged\": true` or name a \
            `run_as` user", body = ErrorBody),
        (status = 409, description = "The leader refused it: its owner was disabled meanwhile, \
            or no live worker's ceilings cover what it asks for", body = ErrorBody),
        (status = 413, description = "The body, or the decoded file, is too large", body = ErrorBody),
        (status = 422, description = "The Idempotency-Key made another job, with another \
            definition (named in the message)", body = ErrorBody),
    ),
)]
pub async fn create_job(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(req): JsonBody<CreateJobRequest>,
) -> Result<(StatusCode, Json<JobView>), ApiError> {
    let idempotency_key = idempotency_key(&headers)?;
    let (spec, executable) = req.into_spec()?;
    if spec.needs_admin() && !caller.0.is_admin {
        return Err(ApiError::Forbidden(
            "only admins may submit privileged jobs or choose the user a job runs as (`privileged`, `run_as`)".into(),
        ));
    }
    let source = executable.source(state.max_upload_bytes)?;
    let spec = complete(&state, spec, Some(source)).await?;

    let job = state
        .manager
        .create_job(&CreateJob {
            id: JobId::new(),
            owner: caller.0.name.clone(),
            spec,
            idempotency_key,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(JobView::new(&job, Utc::now()))))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only the jobs in this state.
    #[param(value_type = Option<JobStatus>)]
    status: Option<String>,
    /// Only this user's jobs: admins only (anyone else sees its own jobs alone, and naming
    /// another user is a 403).
    #[param(pattern = r"^[a-z0-9][a-z0-9._-]{0,63}$", example = "alice")]
    owner: Option<String>,
    /// At most this many jobs (default 100).
    #[param(minimum = 1, maximum = 1000, example = 100)]
    limit: Option<u32>,
    /// The jobs created after this one: the previous page's `x-next-cursor`.
    #[param(format = Uuid)]
    cursor: Option<String>,
}

#[utoipa::path(
    get,
    path = "/jobs",
    tag = "jobs",
    summary = "List jobs",
    description = "In creation order: an admin's view is every user's, anyone else's its own. \
        The next page is in the `Link` header.",
    security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "A page of jobs", body = Vec<JobView>,
            headers(
                ("Link" = String, description = "`<next page>; rel=\"next\"`, when this page is full"),
                ("x-next-cursor" = String, description = "The `cursor` of the next page"),
            ),
            example = json!([examples::job()])),
        (status = 400, description = "A query parameter is unknown or invalid", body = ErrorBody),
        (status = 403, description = "Only admins may list other users' jobs", body = ErrorBody),
    ),
)]
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

#[utoipa::path(
    get,
    path = "/jobs/{id}",
    tag = "jobs",
    summary = "Show a job",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The job's id")),
    responses(
        (status = 200, description = "The job", body = JobView, example = json!(examples::job())),
        (status = 400, description = "`id` is not a job id", body = ErrorBody),
        (status = 404, description = "No such job, or another user's (to a non-admin)", body = ErrorBody),
    ),
)]
pub async fn get_job(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam<String>,
) -> Result<Json<JobView>, ApiError> {
    let job = visible_job(&state, &caller, &id).await?;
    Ok(Json(JobView::new(&job, Utc::now())))
}

/// Takes the job off the schedule; it stays readable with status `finished`.
#[utoipa::path(
    delete,
    path = "/jobs/{id}",
    tag = "jobs",
    summary = "Take a job off the schedule",
    description = "It stays readable, `finished`. Once this has answered, no run of the job \
        starts: a tick its worker had already claimed is recorded `skipped`; a run already \
        started runs to its end. Again: nothing changes.",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The job's id")),
    responses(
        (status = 200, description = "The job, `finished`", body = JobView),
        (status = 400, description = "`id` is not a job id", body = ErrorBody),
        (status = 404, description = "No such job, or another user's (to a non-admin)", body = ErrorBody),
        (status = 409, description = "The leader refused it", body = ErrorBody),
    ),
)]
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
