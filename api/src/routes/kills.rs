//! Kills: `POST /runs/{id}/kill` stops one run, `POST /jobs/{id}/kill` every run of a job
//! under way. The leader records the stop and nudges the worker, which kills the run's process
//! group and cgroup (SIGTERM, then SIGKILL after the kill grace) and records it `killed`, or
//! `skipped` if its process had not started. The answer (202) comes once the stop is recorded,
//! not once the processes are gone: `GET /runs/{id}` shows the outcome. Killing again changes
//! nothing; killing a run that has ended is a 409 saying how it ended.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::PathParam;
use crate::routes::jobs::{visible_job, visible_job_by_id};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use distcron_core::RunId;
use distcron_core::internal::{Kill, KillAnswer};

pub async fn kill_run(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam<String>,
) -> Result<(StatusCode, Json<KillAnswer>), ApiError> {
    let run_id: RunId = id
        .parse()
        .map_err(|e: String| ApiError::bad_request("invalid_id", e))?;
    let not_found = || ApiError::NotFound(format!("no run {run_id}"));
    let (run, _) = state.store.get_run(&run_id).await?.ok_or_else(not_found)?;
    // As for reading it: a run is visible exactly when its job is, and anyone else's is a 404.
    visible_job_by_id(&state, &caller, &run.job_id)
        .await
        .map_err(|e| match e {
            ApiError::NotFound(_) => not_found(),
            other => other,
        })?;
    let answer = state
        .manager
        .kill_run(
            &run_id,
            &Kill {
                actor: caller.0.name.clone(),
            },
        )
        .await?;
    Ok((StatusCode::ACCEPTED, Json(answer)))
}

pub async fn kill_job(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam<String>,
) -> Result<(StatusCode, Json<KillAnswer>), ApiError> {
    let job = visible_job(&state, &caller, &id).await?;
    let answer = state
        .manager
        .kill_job(
            &job.id,
            &Kill {
                actor: caller.0.name.clone(),
            },
        )
        .await?;
    Ok((StatusCode::ACCEPTED, Json(answer)))
}
