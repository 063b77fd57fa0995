//! The internal API: API servers forward writes here. Only the leader accepts them; a standby
//! answers 421 so the caller looks up the leader again. Errors map to HTTP in one place.

use crate::leader::writes::WriteError;
use crate::leader::{Leader, LeaderSlot};
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use distcron_core::internal::{
    CreateJob, CreateUser, DisableUser, EditJob, ErrorBody, ErrorKind, FinishJob, Kill, PauseJob,
    RotateToken, TriggerAnswer, TriggerJob, WorkerAction,
};
use distcron_core::{Job, JobId, RunId, UserName};
use distcron_store::Pause;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub slot: LeaderSlot,
    pub manager_id: String,
    internal_token_sha256: Arc<[u8; 32]>,
    metrics: distcron_service::metrics::Metrics,
    store: distcron_store::Store,
}

impl AppState {
    pub fn new(
        slot: LeaderSlot,
        manager_id: String,
        internal_token: &SecretString,
        metrics: distcron_service::metrics::Metrics,
        store: distcron_store::Store,
    ) -> AppState {
        let digest: [u8; 32] = Sha256::digest(internal_token.expose_secret().as_bytes()).into();
        AppState {
            slot,
            manager_id,
            internal_token_sha256: Arc::new(digest),
            metrics,
            store,
        }
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/internal/jobs", post(create_job))
        .route("/internal/jobs/{id}/edit", post(edit_job))
        .route("/internal/jobs/{id}/finish", post(finish_job))
        .route("/internal/jobs/{id}/kill", post(kill_job))
        .route("/internal/jobs/{id}/pause", post(pause_job))
        .route("/internal/jobs/{id}/resume", post(resume_job))
        .route("/internal/jobs/{id}/trigger", post(trigger_job))
        .route("/internal/runs/{id}/kill", post(kill_run))
        .route("/internal/workers/{id}/drain", post(drain_worker))
        .route("/internal/workers/{id}/undrain", post(undrain_worker))
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

/// The one place where the manager's failures become internal API answers: a typed
/// `ErrorBody`, its kind deciding the status.
#[derive(Debug)]
pub struct InternalError(ErrorBody);

impl InternalError {
    fn unauthorized() -> InternalError {
        InternalError(ErrorBody::new(
            ErrorKind::Unauthorized,
            "bad internal token",
        ))
    }

    fn invalid(message: impl Into<String>) -> InternalError {
        InternalError(ErrorBody::new(ErrorKind::Invalid, message))
    }
}

impl From<WriteError> for InternalError {
    fn from(e: WriteError) -> Self {
        let (kind, message) = match e {
            WriteError::NotLeader => (ErrorKind::NotLeader, e.to_string()),
            WriteError::Unavailable(m) => {
                tracing::warn!(error = %m, "write failed: dependency unavailable");
                (ErrorKind::Unavailable, m)
            }
            WriteError::Conflict(m) => (ErrorKind::Conflict, m),
            WriteError::NotFound(m) => (ErrorKind::NotFound, m),
            WriteError::KeyReused(m) => (ErrorKind::KeyReused, m),
            WriteError::Internal(e) => {
                tracing::error!(error = format!("{e:#}"), "internal write failed");
                (ErrorKind::Internal, "internal error".into())
            }
        };
        InternalError(ErrorBody::new(kind, message))
    }
}

impl IntoResponse for InternalError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.kind.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(self.0)).into_response()
    }
}

/// A JSON body; one that cannot be read is an `invalid` answer in the internal API's shape.
struct Body<T>(T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = InternalError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Json::<T>::from_request(req, state)
            .await
            .map(|Json(v)| Body(v))
            .map_err(|e| InternalError::invalid(e.body_text()))
    }
}

fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), InternalError> {
    let presented = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(InternalError::unauthorized)?;
    // Comparing digests keeps the comparison's timing independent of the secret's prefix.
    let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
    if digest == *state.internal_token_sha256 {
        Ok(())
    } else {
        Err(InternalError::unauthorized())
    }
}

fn leader(state: &AppState) -> Result<Arc<Leader>, InternalError> {
    state.slot.get().ok_or_else(|| WriteError::NotLeader.into())
}

async fn healthz(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "status": "ok",
        "manager_id": state.manager_id,
        "leader": state.slot.get().is_some(),
    }))
}

/// Prometheus' scrape: the counters recorded as things happen, and the gauges of now.
async fn metrics(State(state): State<AppState>) -> Response {
    metrics::gauge!("distcron_leader").set(f64::from(u8::from(state.slot.get().is_some())));
    let pool = state.store.pool();
    state
        .metrics
        .scrape(pool.size(), pool.num_idle())
        .into_response()
}

async fn create_job(
    State(state): State<AppState>,
    Body(req): Body<CreateJob>,
) -> Result<Response, InternalError> {
    let leader = leader(&state)?;
    req.spec
        .validate()
        .map_err(|e| InternalError::invalid(e.to_string()))?;
    let job = Job::new(req.id, req.owner, req.spec, Utc::now());
    let actor = job.owner.clone();
    let (job, created) = leader
        .create_job(job, &actor, req.idempotency_key.as_deref())
        .await?;
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
    Body(req): Body<FinishJob>,
) -> Result<Response, InternalError> {
    let leader = leader(&state)?;
    let job = leader.finish_job(&job_id(&id)?, &req.actor).await?;
    Ok(Json(job).into_response())
}

async fn edit_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(req): Body<EditJob>,
) -> Result<Response, InternalError> {
    let leader = leader(&state)?;
    req.spec
        .validate()
        .map_err(|e| InternalError::invalid(e.to_string()))?;
    let job = leader.edit_job(&job_id(&id)?, &req).await?;
    Ok(Json(job).into_response())
}

async fn pause_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(req): Body<PauseJob>,
) -> Result<Response, InternalError> {
    let leader = leader(&state)?;
    let job = leader
        .pause_job(&job_id(&id)?, Pause::Pause, &req.actor)
        .await?;
    Ok(Json(job).into_response())
}

async fn resume_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(req): Body<PauseJob>,
) -> Result<Response, InternalError> {
    let leader = leader(&state)?;
    let job = leader
        .pause_job(&job_id(&id)?, Pause::Resume, &req.actor)
        .await?;
    Ok(Json(job).into_response())
}

async fn trigger_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(req): Body<TriggerJob>,
) -> Result<Response, InternalError> {
    let leader = leader(&state)?;
    let (run, queued) = leader
        .trigger_job(&job_id(&id)?, &req.actor, req.idempotency_key.as_deref())
        .await?;
    Ok(Json(TriggerAnswer { run, queued }).into_response())
}

fn job_id(id: &str) -> Result<JobId, InternalError> {
    id.parse()
        .map_err(|e: distcron_core::job::JobError| InternalError::invalid(e.to_string()))
}

async fn kill_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(req): Body<Kill>,
) -> Result<Response, InternalError> {
    let leader = leader(&state)?;
    let answer = leader.kill_job(&job_id(&id)?, &req.actor).await?;
    Ok(Json(answer).into_response())
}

async fn kill_run(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(req): Body<Kill>,
) -> Result<Response, InternalError> {
    let leader = leader(&state)?;
    let run: RunId = id.parse().map_err(InternalError::invalid)?;
    let answer = leader.kill_run(&run, &req.actor).await?;
    Ok(Json(answer).into_response())
}

async fn drain_worker(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(req): Body<WorkerAction>,
) -> Result<Response, InternalError> {
    let leader = leader(&state)?;
    Ok(Json(leader.drain_worker(&id, true, &req.actor).await?).into_response())
}

async fn undrain_worker(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(req): Body<WorkerAction>,
) -> Result<Response, InternalError> {
    let leader = leader(&state)?;
    Ok(Json(leader.drain_worker(&id, false, &req.actor).await?).into_response())
}

async fn create_user(
    State(state): State<AppState>,
    Body(req): Body<CreateUser>,
) -> Result<Response, InternalError> {
    let leader = leader(&state)?;
    let user = leader
        .create_user(&req.name, req.admin, &req.token_sha256, &req.actor)
        .await?;
    Ok((StatusCode::CREATED, Json(user)).into_response())
}

fn user_name(name: &str) -> Result<UserName, InternalError> {
    UserName::parse(name).map_err(|e| InternalError::invalid(e.to_string()))
}

async fn rotate_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Body(req): Body<RotateToken>,
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
    Body(req): Body<DisableUser>,
) -> Result<Response, InternalError> {
    authorize(&state, &headers)?;
    let leader = leader(&state)?;
    let user = leader.disable_user(&user_name(&name)?, &req.actor).await?;
    Ok(Json(user).into_response())
}
