//! The public REST API's routes.

mod audit;
mod edits;
mod health;
mod job_request;
mod jobs;
mod kills;
mod logs;
mod params;
mod pauses;
mod runs;
mod schedule;
mod ticks;
mod triggers;
mod users;
mod workers;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Router;
use axum::routing::{delete, get, post};

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(crate::metrics::scrape))
        .route("/jobs", post(jobs::create_job).get(jobs::list_jobs))
        .route(
            "/jobs/{id}",
            get(jobs::get_job)
                .delete(jobs::delete_job)
                .patch(edits::edit_job),
        )
        .route("/jobs/{id}/runs", get(runs::list_runs))
        .route("/jobs/{id}/ticks", get(ticks::job_ticks))
        .route("/jobs/{id}/kill", post(kills::kill_job))
        .route("/jobs/{id}/pause", post(pauses::pause_job))
        .route("/jobs/{id}/resume", post(pauses::resume_job))
        .route("/jobs/{id}/trigger", post(triggers::trigger_job))
        .route("/runs", get(runs::runs_under_way))
        .route("/runs/{id}", get(runs::get_run))
        .route("/runs/{id}/kill", post(kills::kill_run))
        .route("/runs/{id}/log", get(logs::run_log))
        .route("/workers", get(workers::list_workers))
        .route("/workers/{id}/drain", post(workers::drain_worker))
        .route("/workers/{id}/undrain", post(workers::undrain_worker))
        .route("/audit", get(audit::list_audit))
        .route("/users", post(users::create_user))
        .route("/users/{name}", delete(users::disable_user))
        .route("/users/{name}/token", post(users::rotate_token))
        .route("/schedule/preview", get(schedule::preview))
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed)
        .route_layer(axum::middleware::from_fn(crate::metrics::track))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked))
        .layer(axum::middleware::from_fn(crate::drain::drain_unread_body))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// Any path the API does not have: the same JSON error as every other 404, to callers with a
/// token (as every route but `/healthz`, it answers 401 without one).
async fn unknown_route(_caller: Caller, uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("no such route: {}", uri.path()))
}

/// A path the API has, asked with a method it does not take there.
async fn method_not_allowed(
    _caller: Caller,
    method: axum::http::Method,
    uri: axum::http::Uri,
) -> ApiError {
    ApiError::MethodNotAllowed(format!("{method} is not allowed on {}", uri.path()))
}

/// A handler that panicked: a 500 in the API's shape, the panic logged once.
fn panicked(panic: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    let what = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("a panic");
    axum::response::IntoResponse::into_response(ApiError::Internal(anyhow::anyhow!(
        "a request handler panicked: {what}"
    )))
}
