//! `/jobs`: create, list, show and delete jobs. Writes go to the leader manager; reads come
//! straight from MySQL. A non-admin sees only its own jobs: anyone else's is a 404.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{JsonBody, PathParam, QueryParams};
use crate::routes::job_request::{CreateJobRequest, complete};
use crate::routes::params::{idempotency_key, next_page_headers, page_limit};
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

/// With an `Idempotency-Key` header, the same key and body again answer the job the first
/// request created (and create nothing); the same key with another body is a 422.
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
