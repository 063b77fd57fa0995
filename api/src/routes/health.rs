//! Liveness for HAProxy, readiness for operators.

use crate::auth::Operator;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

/// 200 while the process serves requests; HAProxy's health check.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// 200 when ZooKeeper, MySQL, S3 and the leader manager are all reachable; otherwise 503 with
/// the failing checks named.
pub async fn readyz(State(state): State<AppState>, _caller: Operator) -> (StatusCode, Json<Value>) {
    let timeout = Duration::from_secs(2);
    let zookeeper = state.zk.client().map(|_| ()).map_err(|e| e.to_string());
    let timed = |check: Result<Result<(), String>, _>| {
        check.unwrap_or_else(|_: tokio::time::error::Elapsed| Err("timed out".to_string()))
    };
    let (mysql, s3, manager) = tokio::join!(
        tokio::time::timeout(timeout, async {
            state.store.ping().await.map_err(|e| e.to_string())
        }),
        tokio::time::timeout(timeout, async {
            state.blobs.ping().await.map_err(|e| e.to_string())
        }),
        state.manager.leader_healthy(timeout),
    );
    let (mysql, s3) = (timed(mysql), timed(s3));
    let checks = [
        ("zookeeper", zookeeper),
        ("mysql", mysql),
        ("s3", s3),
        ("manager", manager),
    ];
    let ready = checks.iter().all(|(_, r)| r.is_ok());
    let body: serde_json::Map<String, Value> = checks
        .into_iter()
        .map(|(name, r)| {
            (
                name.to_string(),
                r.map_or_else(
                    |e| json!({ "ok": false, "error": e }),
                    |()| json!({ "ok": true }),
                ),
            )
        })
        .collect();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(json!({ "ready": ready, "checks": body })))
}
