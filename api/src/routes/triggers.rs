//! `POST /jobs/{id}/trigger`: one extra run at once, outside the schedule, on the job's owner
//! worker, recorded as `manual` with who asked and its own scheduled time (the moment of the
//! request). It obeys the job's concurrency policy: under `forbid`, while a run is under way
//! it is recorded `skipped`; under `replace`, the running one is killed. The answer (202) is
//! the run, queued (`pending`); `GET /runs/{id}` follows it. With an `Idempotency-Key`
//! header, the same key again for the job answers the same run and queues nothing.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::PathParam;
use crate::routes::jobs::visible_job;
use crate::routes::params::idempotency_key;
use crate::routes::runs::RunView;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use distcron_core::internal::TriggerJob;

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
