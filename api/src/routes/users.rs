//! `/users`: admins create and disable users; a user (or an admin) replaces its token. A new
//! token is shown once, in the answer; only its sha256 is stored.

use crate::auth::{Admin, Caller};
use crate::error::ApiError;
use crate::extract::{JsonBody, PathParam};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use distcron_core::UserName;
use distcron_core::internal::{CreateUser, DisableUser, RotateToken};
use distcron_store::hash_token;
use rand::RngCore;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    name: String,
    #[serde(default)]
    admin: bool,
}

/// A new API token: 256 random bits, with a prefix that secret scanners can recognise.
fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("dct_{}", hex::encode(bytes))
}

pub async fn create_user(
    State(state): State<AppState>,
    Admin(caller): Admin,
    JsonBody(req): JsonBody<CreateUserRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let name = UserName::parse(&req.name)
        .map_err(|e| ApiError::bad_request("invalid_user", e.to_string()))?;
    let token = new_token();
    state
        .manager
        .create_user(&CreateUser {
            name: name.clone(),
            admin: req.admin,
            token_sha256: hash_token(&token),
            actor: caller.name.clone(),
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "name": name, "admin": req.admin, "token": token })),
    ))
}

/// `POST /users/{name}/token`: a new token for `name`, the old one revoked. A user may replace
/// its own; an admin anyone's. To anyone else the user does not exist (404), so a non-admin
/// cannot even tell which names are taken.
pub async fn rotate_token(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(name): PathParam<String>,
) -> Result<Json<Value>, ApiError> {
    if !caller.0.is_admin && name != caller.0.name.as_str() {
        return Err(no_user(&name));
    }
    let name =
        UserName::parse(&name).map_err(|e| ApiError::bad_request("invalid_user", e.to_string()))?;
    let token = new_token();
    let user = state
        .manager
        .rotate_token(
            &name,
            &RotateToken {
                token_sha256: hash_token(&token),
                actor: caller.0.name.clone(),
            },
        )
        .await?;
    state.known_tokens.forget_user(&name);
    Ok(Json(
        json!({ "name": user.name, "admin": user.admin, "token": token }),
    ))
}

/// `DELETE /users/{name}`: admins only. The user's token stops working, its jobs go off the
/// schedule, as `DELETE /jobs/{id}` takes one off, and its runs under way are killed by their
/// workers; the user stays, disabled, with its name and run uid never given to anyone else.
pub async fn disable_user(
    State(state): State<AppState>,
    Admin(caller): Admin,
    PathParam(name): PathParam<String>,
) -> Result<Json<Value>, ApiError> {
    let name =
        UserName::parse(&name).map_err(|e| ApiError::bad_request("invalid_user", e.to_string()))?;
    let user = state
        .manager
        .disable_user(
            &name,
            &DisableUser {
                actor: caller.name.clone(),
            },
        )
        .await?;
    state.known_tokens.forget_user(&name);
    Ok(Json(json!({
        "name": user.name,
        "admin": user.admin,
        "disabled": true,
        "disabled_at": user.disabled_at,
        "jobs_finished": user.jobs_finished,
        "runs_stopped": user.runs_stopped,
    })))
}

fn no_user(name: &str) -> ApiError {
    ApiError::NotFound(format!("no user {name}"))
}
