//! The API server's metrics: every request by route (the route's pattern, never the raw
//! path, so ids do not multiply the series), method and status, with its latency; and, at a
//! scrape, ZooKeeper's session and the MySQL pool. `GET /metrics` needs no token: it is for
//! Prometheus, inside the cluster's network; HAProxy refuses it from outside.

use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::time::Instant;

pub fn describe() {
    metrics::describe_counter!(
        "distcron_http_requests_total",
        "Requests the API answered, by route, method and status"
    );
    metrics::describe_histogram!(
        "distcron_http_request_duration_seconds",
        metrics::Unit::Seconds,
        "From a request's arrival to its answer's head, by route and method"
    );
}

/// Counts and times every request.
pub async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = request.method().to_string();
    let start = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("distcron_http_requests_total", "route" => route.clone(), "method" => method.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("distcron_http_request_duration_seconds", "route" => route, "method" => method)
        .record(start.elapsed().as_secs_f64());
    response
}

#[utoipa::path(
    get,
    path = "/metrics",
    tag = "health",
    summary = "Prometheus metrics",
    description = "For Prometheus inside the cluster's network, which scrapes each API server \
        itself, without a token. Through HAProxy, from outside, there are none: 404.",
    security(()),
    responses(
        (status = 200, description = "Prometheus' text exposition format", body = String,
            content_type = "text/plain"),
        (status = 404, description = "Asked through HAProxy", body = crate::error::ErrorBody,
            example = json!({"error": "no such route: /metrics", "code": "not_found"})),
    ),
)]
pub async fn scrape(State(state): State<AppState>) -> Response {
    metrics::gauge!("distcron_zookeeper_connected")
        .set(f64::from(u8::from(state.zk.client().is_ok())));
    let pool = state.store.pool();
    state
        .metrics
        .scrape(pool.size(), pool.num_idle())
        .into_response()
}
