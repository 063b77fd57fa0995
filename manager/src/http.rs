//! The internal API: API servers forward writes here. Only the leader accepts them; a standby
//! answers 421 so the caller looks up the leader again. Errors map to HTTP in one place.

use crate::leader::writes::WriteError;
use crate::leader::{Leader, LeaderSlot};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use distcron_core::internal::{
    CreateJob, CreateUser, DisableUser, ErrorBody, FinishJob, RotateToken,
};
use distcron_core::{JobId, JobStatus, UserName};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub slot: LeaderSlot,
    pub manager_id: String,
    internal_token_sha256: Arc<[u8; 32]>,
}

impl AppState {
    pub fn new(slot: LeaderSlot, manager_id: String, internal_token: &SecretString) -> AppState {
        let digest: [u8; 32] = Sha256::digest(internal_token.expose_secret().as_bytes()).into();
        AppState {
            slot,
            manager_id,
            internal_token_sha256: Arc::new(digest),
        }
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/internal/jobs", post(create_job))
        .route("/internal/jobs/{id}/finish", post(finish_job))
        .route("/internal/users", post(create_user))
        .route("/internal/users/{name}/token", post(rotate_token))
        .route("/internal/users/{name}/disable", post(disable_user))
        // The token is checked before anything else, the body included: a caller without it
        // learns nothing, not even whether its body would have been accepted.
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token))
        .with_state(state)
}

async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, InternalError> {
    if request.uri().path().starts_with("/internal/") {
        authorize(&state, request.headers())?;
    }
    Ok(next.run(request).await)
}

/// The one place where internal errors become HTTP answers.
#[derive(Debug)]
pub enum InternalError {
    Unauthorized,
    BadRequest(String),
    Write(WriteError),
}

impl From<WriteError> for InternalError {
    fn from(e: WriteError) -> Self {
        InternalError::Write(e)
    }
}

impl IntoResponse for InternalError {
    fn into_response(self) -> Response {
        let (status, kind, message) = match self {
            InternalError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "bad internal token".to_string(),
            ),
            InternalError::BadRequest(m) => (StatusCode::BAD_REQUEST, "bad_request", m),
            InternalError::Write(WriteError::NotLeader) => (
                StatusCode::MISDIRECTED_REQUEST,
                "not_leader",
                "this manager is not the leader".into(),
            ),
            InternalError::Write(WriteError::Unavailable(m)) => {
                tracing::warn!(error = %m, "write failed: dependency unavailable");
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable", m)
            }
            InternalError::Write(WriteError::Conflict(m)) => (StatusCode::CONFLICT, "conflict", m),
            InternalError::Write(WriteError::NotFound(m)) => {
                (StatusCode::NOT_FOUND, "not_found", m)
            }
            InternalError::Write(WriteError::Internal(e)) => {
                tracing::error!(error = format!("{e:#}"), "internal write failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error".into(),
                )
            }
        };
        (
            status,
            Json(ErrorBody {
                error: message,
                kind: kind.into(),
            }),
        )
            .into_response()
    }
}

fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), InternalError> {
    let presented = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(InternalError::Unauthorized)?;
    // Comparing digests keeps the comparison's timing independent of the secret's prefix.
    let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
    if digest == *state.internal_token_sha256 {
        Ok(())
    } else {
        Err(InternalError::Unauthorized)
    }
}

fn leader(state: &AppState) -> Result<Arc<Leader>, InternalError> {
    state
        .slot
        .get()
        .ok_or(InternalError::Write(WriteError::NotLeader))
}

async fn healthz(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "status": "ok",
        "manager_id": state.manager_id,
        "leader": state.slot.get().is_some(),
    }))
}

async fn create_job(
    State(state): State<AppState>,
    Json(req): Json<CreateJob>,
) -> Result<Response, InternalError> {
    let leader = leader(&state)?;
    req.job
        .spec
        .validate()
        .map_err(|e| InternalError::BadRequest(e.to_string()))?;
    if req.job.status != JobStatus::Scheduled || req.job.version != 1 {
        return Err(InternalError::BadRequest(
            "a new job is `scheduled` at version 1".into(),
        ));
    }
    let (job, created) = leader.create_job(req.job, &req.actor).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(job)).into_response())
}

async fn finish_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(req): Json<FinishJob>,
) -> Result<Response, InternalError> {
    let leader = leader(&state)?;
    let id: JobId = id
        .parse()
        .map_err(|e: distcron_core::job::JobError| InternalError::BadRequest(e.to_string()))?;
    let job = leader.finish_job(&id, &req.actor).await?;
    Ok(Json(job).into_response())
}

async fn create_user(
    State(state): State<AppState>,
    Json(req): Json<CreateUser>,
) -> Result<Response, InternalError> {
    let leader = leader(&state)?;
    let user = leader
        .create_user(&req.name, req.admin, &req.token_sha256, &req.actor)
        .await?;
    Ok((StatusCode::CREATED, Json(user)).into_response())
}

fn user_name(name: &str) -> Result<UserName, InternalError> {
    UserName::parse(name).map_err(|e| InternalError::BadRequest(e.to_string()))
}

async fn rotate_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Json(req): Json<RotateToken>,
) -> Result<Response, InternalError> {
    authorize(&state, &headers)?;
    let leader = leader(&state)?;
    let user = leader
        .rotate_token(&user_name(&name)?, &req.token_sha256, &req.actor)
        .await?;
    Ok(Json(user).into_response())
}

async fn disable_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Json(req): Json<DisableUser>,
) -> Result<Response, InternalError> {
    authorize(&state, &headers)?;
    let leader = leader(&state)?;
    let user = leader.disable_user(&user_name(&name)?, &req.actor).await?;
    Ok(Json(user).into_response())
}
