//! `POST /jobs/{id}/trigger`: one extra run at once, outside the schedule, on the job's owner
//! worker, recorded as `manual` with who asked and its own scheduled time (the moment of the
//! request). It obeys the job's concurrency policy: under `forbid`, while a run is under way
//! it is recorded `skipped`; under `replace`, the running one is killed. The answer (202) is
//! the run, queued (`pending`); `GET /runs/{id}` follows it. With an `Idempotency-Key`
//! header, the same key again for the job answers the same run and queues nothing.

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::PathParam;
use crate::routes::jobs::visible_job;
use crate::routes::params::{IDEMPOTENCY_KEY, idempotency_key};
use crate::state::AppState;
use crate::view::RunView;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use distcron_core::internal::TriggerJob;

#[utoipa::path(
    post,
    path = "/jobs/{id}/trigger",
    tag = "runs",
    summary = "Run a job once now",
    description = "Outside its schedule, on its owner worker (within a second). It obeys the \
        job's `concurrency` (under `forbid`, while a run is under way, it ends `skipped`; under \
        `replace`, the running one is killed), is retried as the job says, and never counts as \
        a tick of the schedule.",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, format = Uuid, description = "The job's id"),
        ("Idempotency-Key" = Option<String>, Header, description = IDEMPOTENCY_KEY,
            min_length = 1, max_length = 255, pattern = "^[!-~]+$", example = "deploy-42"),
    ),
    responses(
        (status = 202, description = "The run, `pending`, `\"trigger\": \"manual\"`, its \
            `scheduled_at` the moment asked (with an `Idempotency-Key` used before for the job: \
            the run it made)", body = RunView,
            links(
                ("get_run" = (operation_id = "get_run", parameters(("id" = "$response.body#/id")))),
                ("kill_run" = (operation_id = "kill_run", parameters(("id" = "$response.body#/id")))),
            ),
        ),
        (status = 400, description = "`id` is not a job id, or the Idempotency-Key is invalid", body = ErrorBody),
        (status = 404, description = "No such job, or another user's (to a non-admin)", body = ErrorBody),
        (status = 409, description = "The job is paused, finished, or `@once`", body = ErrorBody),
    ),
)]
pub async fn trigger_job(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam<String>,
    headers: HeaderMap,
) -> Result<(StatusCode, Json<RunView>), ApiError> {
    let key = idempotency_key(&headers)?;
    // As for reading it: anyone else's job is a 404.
    let job = visible_job(&state, &caller, &id).await?;
    let answer = state
        .manager
        .trigger_job(
            &job.id,
            &TriggerJob {
                actor: caller.0.name.clone(),
                idempotency_key: key,
            },
        )
        .await?;
    Ok((StatusCode::ACCEPTED, Json(RunView::from(&answer.run))))
}
