//! The worker's status server: `GET /healthz`, what an operator (and the bench) reads of a
//! worker: whether it is registered, whether its launch gate is open and why not, how many
//! runs it has in flight, its sandbox, and what its start checks cost; and `GET /metrics`.

use crate::gate::Gate;
use crate::inflight::InFlight;
use crate::launch::StartStats;
use axum::routing::get;
use axum::{Json, Router};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// What `/healthz` shows.
pub struct Status {
    pub worker_id: String,
    pub incarnation: uuid::Uuid,
    pub registered: Arc<AtomicBool>,
    pub gate: Arc<Gate>,
    pub inflight: Arc<InFlight>,
    pub cgroups: bool,
    pub private_tmp: bool,
    pub start_stats: Arc<StartStats>,
    pub metrics: distcron_service::metrics::Metrics,
    pub scrape: crate::metrics::Scrape,
}

impl Status {
    fn json(&self) -> serde_json::Value {
        let launching = match self.gate.check() {
            Ok(()) => serde_json::Value::Bool(true),
            Err(closed) => serde_json::json!({ "paused": closed.0 }),
        };
        let heartbeat = self.gate.zk_age();
        let heartbeat_at =
            chrono::Utc::now() - chrono::Duration::from_std(heartbeat).unwrap_or_default();
        serde_json::json!({
            "status": "ok",
            // When ZooKeeper last answered this worker (its session's heartbeat).
            "last_heartbeat_at": heartbeat_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "heartbeat_age_ms": heartbeat.as_millis() as u64,
            "worker_id": self.worker_id,
            "incarnation": self.incarnation,
            "registered": self.registered.load(Ordering::Acquire),
            "launching": launching,
            "running": self.inflight.len(),
            "cgroups": self.cgroups,
            "private_tmp": self.private_tmp,
            "start_checks": self.start_stats.json(),
        })
    }

    pub fn router(self) -> Router {
        let status = Arc::new(self);
        let scraped = status.clone();
        Router::new()
            .route(
                "/healthz",
                get(move || {
                    let body = status.json();
                    async move { Json(body) }
                }),
            )
            .route(
                "/metrics",
                get(move || {
                    scraped.scrape.gauges();
                    let text = scraped.metrics.render();
                    async move {
                        (
                            [(
                                axum::http::header::CONTENT_TYPE,
                                distcron_service::metrics::CONTENT_TYPE,
                            )],
                            text,
                        )
                    }
                }),
            )
    }
}
