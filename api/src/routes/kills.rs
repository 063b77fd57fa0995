//! Kills: `POST /runs/{id}/kill` stops one run, `POST /jobs/{id}/kill` every run of a job
//! under way. The leader records the stop and nudges the worker, which kills the run's process
//! group and cgroup (SIGTERM, then SIGKILL after the kill grace) and records it `killed`, or
//! `skipped` if its process had not started. The answer (202) comes once the stop is recorded,
//! not once the processes are gone: `GET /runs/{id}` shows the outcome. Killing again changes
//! nothing; killing a run that has ended is a 409 saying how it ended.

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::PathParam;
use crate::openapi::examples;
use crate::routes::jobs::visible_job;
use crate::routes::runs::visible_run;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use distcron_core::internal::{Kill, KillAnswer};

#[utoipa::path(
    post,
    path = "/runs/{id}/kill",
    tag = "runs",
    summary = "Kill a run",
    description = "Stops the run and everything it started, on whichever worker runs it: its \
        process group and cgroup get SIGTERM, then SIGKILL after the kill grace; it ends \
        `killed` (\"killed by <you>\"). A run only claimed ends `skipped`, a retry waiting its \
        turn too. The answer comes once the stop is recorded; `GET /runs/{id}` shows the end. \
        Again: nothing changes (`already_asked`).",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The run's id")),
    responses(
        (status = 202, description = "The stop is recorded", body = KillAnswer, example = json!(examples::kill())),
        (status = 400, description = "`id` is not a run id", body = ErrorBody),
        (status = 404, description = "No such run, or one of another user's jobs (to a non-admin)", body = ErrorBody),
        (status = 409, description = "The run has ended (the message says how)", body = ErrorBody),
    ),
)]
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

#[utoipa::path(
    post,
    path = "/jobs/{id}/kill",
    tag = "runs",
    summary = "Kill a job's runs under way",
    description = "As `POST /runs/{id}/kill`, for every run of the job under way (running, \
        claimed or a waiting retry); the lists are empty if there is none.",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The job's id")),
    responses(
        (status = 202, description = "The stops are recorded", body = KillAnswer, example = json!(examples::kill())),
        (status = 400, description = "`id` is not a job id", body = ErrorBody),
        (status = 404, description = "No such job, or another user's (to a non-admin)", body = ErrorBody),
        (status = 409, description = "The leader refused it", body = ErrorBody),
    ),
)]
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
