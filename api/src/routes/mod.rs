//! The public REST API's routes.

mod audit;
mod edits;
mod health;
mod job_request;
mod jobs;
mod kills;
pub(crate) mod logs;
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
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Every public route, each with its document: `routes!` takes only handlers annotated with
/// `#[utoipa::path]`, so a route cannot be added here without its part of `/openapi.json`.
/// Add none with `.route`: the document's test fails on a route it does not describe.
pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(crate::openapi::base())
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(crate::metrics::scrape))
        .routes(routes!(crate::openapi::openapi_json))
        .routes(routes!(jobs::create_job, jobs::list_jobs))
        .routes(routes!(jobs::get_job, jobs::delete_job, edits::edit_job))
        .routes(routes!(runs::list_runs))
        .routes(routes!(ticks::job_ticks))
        .routes(routes!(kills::kill_job))
        .routes(routes!(pauses::pause_job))
        .routes(routes!(pauses::resume_job))
        .routes(routes!(triggers::trigger_job))
        .routes(routes!(runs::runs_under_way))
        .routes(routes!(runs::get_run))
        .routes(routes!(kills::kill_run))
        .routes(routes!(logs::run_log))
        .routes(routes!(workers::list_workers))
        .routes(routes!(workers::drain_worker))
        .routes(routes!(workers::undrain_worker))
        .routes(routes!(audit::list_audit))
        .routes(routes!(users::create_user))
        .routes(routes!(users::disable_user))
        .routes(routes!(users::rotate_token))
        .routes(routes!(users::whoami))
        .routes(routes!(schedule::preview))
}

pub fn router(state: AppState) -> Router {
    let (routes, _) = api_routes().split_for_parts();
    routes
        // The web page's files: not API routes, so outside `api_routes()` and its document.
        .merge(crate::ui::router())
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
