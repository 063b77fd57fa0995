//! `POST /jobs/{id}/pause` and `/resume`. A paused job's ticks never run (a run already under
//! way goes on to its end), and the pause is recorded once, as an interval, not as a row per
//! tick; on resume the schedule continues from the next tick, with nothing of the pause caught
//! up. Both are idempotent: pausing a paused job (or resuming a running one) answers the job
//! as it is. A finished job is a 409, and so is a pause of an `@once` job.

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::PathParam;
use crate::routes::jobs::visible_job;
use crate::state::AppState;
use crate::view::JobView;
use axum::Json;
use axum::extract::State;
use chrono::Utc;
use distcron_core::internal::PauseJob;
use distcron_store::Pause;

#[utoipa::path(
    post,
    path = "/jobs/{id}/pause",
    tag = "jobs",
    summary = "Pause a job",
    description = "Off its schedule until resumed: no tick in the pause runs (the pause is \
        recorded once, as an interval); a tick its worker had claimed just before is `skipped`, \
        retries waiting their turn too; a run already under way goes on to its end. Again: \
        nothing changes.",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The job's id")),
    responses(
        (status = 200, description = "The job, `paused` (`paused_at`)", body = JobView),
        (status = 400, description = "`id` is not a job id", body = ErrorBody),
        (status = 404, description = "No such job, or another user's (to a non-admin)", body = ErrorBody),
        (status = 409, description = "The job is finished, or `@once`", body = ErrorBody),
    ),
)]
pub async fn pause_job(
    state: State<AppState>,
    caller: Caller,
    id: PathParam<String>,
) -> Result<Json<JobView>, ApiError> {
    change(state, caller, id, Pause::Pause).await
}

#[utoipa::path(
    post,
    path = "/jobs/{id}/resume",
    tag = "jobs",
    summary = "Resume a job",
    description = "Back on its schedule, `scheduled` (`resumed_at`), from the first tick after \
        the resume: nothing of the pause is caught up, whatever `misfire` says. Again: nothing \
        changes.",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The job's id")),
    responses(
        (status = 200, description = "The job, on its schedule", body = JobView),
        (status = 400, description = "`id` is not a job id", body = ErrorBody),
        (status = 404, description = "No such job, or another user's (to a non-admin)", body = ErrorBody),
        (status = 409, description = "The job is finished", body = ErrorBody),
    ),
)]
pub async fn resume_job(
    state: State<AppState>,
    caller: Caller,
    id: PathParam<String>,
) -> Result<Json<JobView>, ApiError> {
    change(state, caller, id, Pause::Resume).await
}

async fn change(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam<String>,
    what: Pause,
) -> Result<Json<JobView>, ApiError> {
    // As for reading it: anyone else's job is a 404.
    let job = visible_job(&state, &caller, &id).await?;
    let job = state
        .manager
        .pause_job(
            &job.id,
            what,
            &PauseJob {
                actor: caller.0.name.clone(),
            },
        )
        .await?;
    Ok(Json(JobView::new(&job, Utc::now())))
}
