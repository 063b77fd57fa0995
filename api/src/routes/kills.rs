//! Kills: `POST /runs/{id}/kill` stops one run, `POST /jobs/{id}/kill` every run of a job
//! under way. The leader records the stop and nudges the worker, which kills the run's process
//! group and cgroup (SIGTERM, then SIGKILL after the kill grace) and records it `killed`, or
//! `skipped` if its process had not started. The answer (202) comes once the stop is recorded,
//! not once the processes are gone: `GET /runs/{id}` shows the outcome. Killing again changes
//! nothing; killing a run that has ended is a 409 saying how it ended.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::PathParam;
use crate::routes::jobs::visible_job;
use crate::routes::runs::visible_run;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use distcron_core::internal::{Kill, KillAnswer};

pub async fn kill_run(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam<String>,
) -> Result<(StatusCode, Json<KillAnswer>), ApiError> {
    // As for reading it: anyone else's run is a 404.
    let run = visible_run(&state, &caller, &id).await?;
    let answer = state
        .manager
        .kill_run(
            &run.id,
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
