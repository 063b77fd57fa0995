//! The public REST API's routes.

mod health;
mod jobs;
mod runs;
mod schedule;
mod users;
mod workers;

use crate::state::AppState;
use axum::Router;
use axum::routing::{get, post};

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/jobs", post(jobs::create_job).get(jobs::list_jobs))
        .route("/jobs/{id}", get(jobs::get_job).delete(jobs::delete_job))
        .route("/jobs/{id}/runs", get(runs::list_runs))
        .route("/runs/{id}", get(runs::get_run))
        .route("/workers", get(workers::list_workers))
        .route("/users", post(users::create_user))
        .route("/schedule/preview", get(schedule::preview))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}
