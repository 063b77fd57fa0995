//! Liveness for HAProxy, readiness for operators.

use crate::auth::Caller;
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
pub async fn readyz(State(state): State<AppState>, _caller: Caller) -> (StatusCode, Json<Value>) {
    let timeout = Duration::from_secs(2);
    let zookeeper = state.zk.client().map(|_| ()).map_err(|e| e.to_string());
    let mysql = match tokio::time::timeout(timeout, state.store.ping()).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err("timed out".into()),
    };
    let s3 = match tokio::time::timeout(timeout, state.blobs.ping()).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err("timed out".into()),
    };
    let manager = match state.manager.leader_url().await {
        Ok(Some(url)) => match reqwest::Client::new()
            .get(format!("{url}/healthz"))
            .timeout(timeout)
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(format!("leader at {url} answered {}", r.status())),
            Err(e) => Err(format!("leader at {url} unreachable: {e}")),
        },
        Ok(None) => Err("no leader manager is elected".to_string()),
        Err(e) => Err(e.to_string()),
    };
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
