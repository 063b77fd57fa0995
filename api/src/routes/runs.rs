//! Runs: a job's runs, newest first; one run with its output.

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{PathParam, QueryParams};
use crate::openapi::examples;
use crate::routes::jobs::{visible_job, visible_job_by_id};
use crate::routes::params::{next_page_headers, page_limit};
use crate::state::AppState;
use crate::view::{RunView, RunWithOutput};
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use distcron_core::{Run, RunId, RunStatus};
use distcron_store::RunFilter;
use serde::Deserialize;
use utoipa::IntoParams;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RunsQuery {
    /// At most this many runs (default 100).
    #[param(minimum = 1, maximum = 1000, example = 100)]
    limit: Option<u32>,
    /// The runs before this one: the previous page's `x-next-cursor`,
    /// `<scheduled_at in microseconds since the epoch>.<attempt>`.
    #[param(pattern = r"^[0-9]+\.[0-9]+$", example = "1795881900000000.1")]
    cursor: Option<String>,
}

/// Cursors are `<scheduled_at in µs since the epoch>.<attempt>` of the previous page's last run.
fn parse_cursor(c: &str) -> Option<(DateTime<Utc>, u16)> {
    let (micros, attempt) = c.split_once('.')?;
    let micros: i64 = micros.parse().ok()?;
    if !(0..=LATEST_CURSOR_MICROS).contains(&micros) {
        return None;
    }
    Some((
        DateTime::from_timestamp_micros(micros)?,
        attempt.parse().ok()?,
    ))
}

/// The latest time a cursor may name, 2038-01-19T03:14:07.999999Z: sqlx sends a
/// `DateTime<Utc>` as a MySQL TIMESTAMP, whose range ends there, and past it MariaDB matched no
/// run at all (a silently empty page; past year 65535 the store panicked, a 500). A real cursor
/// is a run's time, so it is never later (until 2038, when the store must send DATETIMEs).
const LATEST_CURSOR_MICROS: i64 = 2_147_483_647_999_999;

#[utoipa::path(
    get,
    path = "/jobs/{id}/runs",
    tag = "runs",
    summary = "A job's runs",
    description = "Newest first, the ended ones included; the next page is in the `Link` header.",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The job's id"), RunsQuery),
    responses(
        (status = 200, description = "A page of runs", body = Vec<RunView>,
            headers(
                ("Link" = String, description = "`<next page>; rel=\"next\"`, when this page is full"),
                ("x-next-cursor" = String, description = "The `cursor` of the next page"),
            ),
            example = json!([examples::run()])),
        (status = 400, description = "`id` is not a job id, or a query parameter is unknown or invalid", body = ErrorBody),
        (status = 404, description = "No such job, or another user's (to a non-admin)", body = ErrorBody),
    ),
)]
pub async fn list_runs(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam<String>,
    QueryParams(q): QueryParams<RunsQuery>,
) -> Result<(HeaderMap, Json<Vec<RunView>>), ApiError> {
    let job = visible_job(&state, &caller, &id).await?;
    let limit = page_limit(q.limit)?;
    let before = match q.cursor.as_deref() {
        Some(c) => Some(parse_cursor(c).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_query",
                format!(
                    "invalid cursor `{c}`: expected the `x-next-cursor` of a previous page, \
                     `<microseconds since the epoch>.<attempt>`"
                ),
            )
        })?),
        None => None,
    };
    let runs = state.store.list_runs(&job.id, before, limit).await?;
    let mut headers = HeaderMap::new();
    if runs.len() == limit as usize
        && let Some(last) = runs.last()
    {
        let cursor = format!("{}.{}", last.scheduled_at.timestamp_micros(), last.attempt);
        let next = format!("/jobs/{}/runs?limit={limit}&cursor={cursor}", job.id);
        headers = next_page_headers(&next, &cursor);
    }
    Ok((headers, Json(runs.iter().map(RunView::from).collect())))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UnderWayQuery {
    /// `running` (default: claimed ones included, whose process has not started yet) or
    /// `pending` (retries and manual runs waiting their turn).
    #[param(schema_with = under_way_schema)]
    status: Option<String>,
    /// At most this many runs (default 100).
    #[param(minimum = 1, maximum = 1000, example = 100)]
    limit: Option<u32>,
    /// The runs after this one: the previous page's `x-next-cursor`.
    #[param(format = Uuid)]
    cursor: Option<String>,
}

fn under_way_schema() -> utoipa::openapi::Object {
    crate::openapi::string_enum(["running", "pending"])
}

/// `GET /runs`: the runs under way, oldest first: `running` (the default; claimed ones, whose
/// process has not started yet, included) or `pending` (retries and manual runs waiting their
/// turn). An admin sees the whole cluster's; anyone else, its own jobs'. A job's finished runs
/// are at `/jobs/{id}/runs`.
#[utoipa::path(
    get,
    path = "/runs",
    tag = "runs",
    summary = "The runs under way",
    description = "Oldest first: an admin's view is the whole cluster's, anyone else's its own \
        jobs'. A job's ended runs are at `/jobs/{id}/runs`.",
    security(("bearer" = [])),
    params(UnderWayQuery),
    responses(
        (status = 200, description = "A page of runs", body = Vec<RunView>,
            headers(
                ("Link" = String, description = "`<next page>; rel=\"next\"`, when this page is full"),
                ("x-next-cursor" = String, description = "The `cursor` of the next page"),
            ),
            example = json!([examples::run()])),
        (status = 400, description = "A query parameter is unknown or invalid", body = ErrorBody),
    ),
)]
pub async fn runs_under_way(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(q): QueryParams<UnderWayQuery>,
) -> Result<(HeaderMap, Json<Vec<RunView>>), ApiError> {
    let status = match q.status.as_deref().unwrap_or("running") {
        "running" => RunStatus::Running,
        "pending" => RunStatus::Pending,
        other => {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!(
                    "status `{other}`: this list has the runs under way, `running` or `pending`; a job's ended runs are at /jobs/{{id}}/runs"
                ),
            ));
        }
    };
    let limit = page_limit(q.limit)?;
    let after = q
        .cursor
        .as_deref()
        .map(str::parse::<RunId>)
        .transpose()
        .map_err(|e| ApiError::bad_request("invalid_query", format!("invalid cursor: {e}")))?;
    let runs = state
        .store
        .runs_with_status(&RunFilter {
            status,
            owner: (!caller.0.is_admin).then(|| caller.0.name.clone()),
            after,
            limit,
        })
        .await?;
    let mut headers = HeaderMap::new();
    if runs.len() == limit as usize
        && let Some(last) = runs.last()
    {
        let next = format!(
            "/runs?status={}&limit={limit}&cursor={}",
            status.as_str(),
            last.id
        );
        headers = next_page_headers(&next, &last.id.to_string());
    }
    Ok((headers, Json(runs.iter().map(RunView::from).collect())))
}

/// The run `id`, if `caller` may see it: a run is visible exactly when its job is. Anyone
/// else's run is a 404, as one that does not exist; a store failure stays a 503.
pub(crate) async fn visible_run(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<Run, ApiError> {
    let run_id: RunId = id
        .parse()
        .map_err(|e: String| ApiError::bad_request("invalid_id", e))?;
    let not_found = || ApiError::NotFound(format!("no run {run_id}"));
    let run = state.store.run(&run_id).await?.ok_or_else(not_found)?;
    visible_job_by_id(state, caller, &run.job_id)
        .await
        .map_err(|e| match e {
            ApiError::NotFound(_) => not_found(),
            other => other,
        })?;
    Ok(run)
}

#[utoipa::path(
    get,
    path = "/runs/{id}",
    tag = "runs",
    summary = "Show a run, with its output",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The run's id")),
    responses(
        (status = 200, description = "The run", body = RunWithOutput),
        (status = 400, description = "`id` is not a run id", body = ErrorBody),
        (status = 404, description = "No such run, or one of another user's jobs (to a non-admin)", body = ErrorBody),
    ),
)]
pub async fn get_run(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam<String>,
) -> Result<Json<RunWithOutput>, ApiError> {
    let run = visible_run(&state, &caller, &id).await?;
    let output = state.store.shown_output(&run).await?;
    Ok(Json(RunWithOutput::new(&run, output)))
}
