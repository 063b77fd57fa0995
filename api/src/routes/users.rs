//! `POST /users`: admins create users; the new user's token is shown once, in the answer.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use distcron_core::UserName;
use distcron_core::internal::CreateUser;
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
    caller: Caller,
    JsonBody(req): JsonBody<CreateUserRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require_admin("create users")?;
    let name = UserName::parse(&req.name)
        .map_err(|e| ApiError::bad_request("invalid_user", e.to_string()))?;
    let token = new_token();
    state
        .manager
        .create_user(&CreateUser {
            name: name.clone(),
            admin: req.admin,
            token_sha256: hash_token(&token),
            actor: caller.0.name.clone(),
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "name": name, "admin": req.admin, "token": token })),
    ))
}
