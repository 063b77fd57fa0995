//! Liveness for HAProxy, readiness for operators.

use crate::auth::Operator;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use std::time::Duration;
use utoipa::ToSchema;

/// `/healthz`'s answer.
#[derive(Serialize, ToSchema)]
pub struct Liveness {
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// `/readyz`'s answer: each dependency's check.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"ready": false, "checks": {"zookeeper": {"ok": true}, "mysql": {"ok": true},
    "s3": {"ok": false, "error": "timed out"}, "manager": {"ok": true}}}))]
pub struct Readiness {
    /// Whether every check passed.
    pub ready: bool,
    pub checks: Checks,
}

#[derive(Serialize, ToSchema)]
pub struct Checks {
    pub zookeeper: Check,
    pub mysql: Check,
    pub s3: Check,
    /// The leader manager.
    pub manager: Check,
}

#[derive(Serialize, ToSchema)]
pub struct Check {
    pub ok: bool,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl From<Result<(), String>> for Check {
    fn from(r: Result<(), String>) -> Self {
        Check {
            ok: r.is_ok(),
            error: r.err(),
        }
    }
}

/// 200 while the process serves requests; HAProxy's health check.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "health",
    summary = "Liveness",
    description = "HAProxy's health check: 200 while the process serves requests.",
    security(()),
    responses((status = 200, description = "The process serves requests", body = Liveness)),
)]
pub async fn healthz() -> Json<Liveness> {
    Json(Liveness { status: "ok" })
}

/// 200 when ZooKeeper, MySQL, S3 and the leader manager are all reachable; otherwise 503 with
/// the failing checks named.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    summary = "Readiness",
    description = "Whether ZooKeeper, MySQL, S3 and the leader manager are all reachable from \
        this API server, each checked within 2 s. While MySQL is down, a token verified in the \
        last minute still gets the report.",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every check passed", body = Readiness),
        (status = 503, description = "A check failed (named, with its error)", body = Readiness),
    ),
)]
pub async fn readyz(
    State(state): State<AppState>,
    _caller: Operator,
) -> (StatusCode, Json<Readiness>) {
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
    let checks = Checks {
        zookeeper: zookeeper.into(),
        mysql: timed(mysql).into(),
        s3: timed(s3).into(),
        manager: manager.into(),
    };
    let ready = [
        &checks.zookeeper,
        &checks.mysql,
        &checks.s3,
        &checks.manager,
    ]
    .iter()
    .all(|c| c.ok);
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(Readiness { ready, checks }))
}
