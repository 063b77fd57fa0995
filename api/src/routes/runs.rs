//! Runs: a job's runs, newest first; one run with its output.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{PathParam, QueryParams};
use crate::routes::jobs::{visible_job, visible_job_by_id};
use crate::routes::params::{next_page_headers, page_limit};
use crate::state::AppState;
use crate::view::rfc3339;
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use distcron_core::Output;
use distcron_core::{Run, RunId, RunStatus};
use distcron_store::RunFilter;
use serde::{Deserialize, Serialize};

#[derive(Serialize)]
pub struct RunView {
    pub id: String,
    pub job_id: String,
    pub scheduled_at: String,
    pub attempt: u16,
    /// `schedule`, or `manual` for a run asked for with `POST /jobs/{id}/trigger`.
    pub trigger: &'static str,
    /// Who asked for a manual run; null for the schedule's.
    pub triggered_by: Option<String>,
    pub status: &'static str,
    pub reason: Option<String>,
    pub worker: Option<String>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
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

#[derive(Serialize)]
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

#[derive(Serialize)]
pub struct RunWithOutput {
    #[serde(flatten)]
    pub run: RunView,
    /// What the run printed so far (while it runs too); null until it starts a process.
    pub output: Option<OutputView>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunsQuery {
    limit: Option<u32>,
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnderWayQuery {
    status: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// `GET /runs`: the runs under way, oldest first: `running` (the default; claimed ones, whose
/// process has not started yet, included) or `pending` (retries and manual runs waiting their
/// turn). An admin sees the whole cluster's; anyone else, its own jobs'. A job's finished runs
/// are at `/jobs/{id}/runs`.
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

pub async fn get_run(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam<String>,
) -> Result<Json<RunWithOutput>, ApiError> {
    let run = visible_run(&state, &caller, &id).await?;
    let output = state.store.shown_output(&run).await?;
    Ok(Json(RunWithOutput {
        run: RunView::from(&run),
        output: output.map(OutputView::from),
    }))
}
