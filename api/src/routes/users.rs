//! `/users`: admins create and disable users; a user (or an admin) replaces its token. A new
//! token is shown once, in the answer; only its sha256 is stored. `GET /whoami` names the caller.

use crate::auth::{Admin, Caller};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{JsonBody, PathParam};
use crate::openapi::examples;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use distcron_core::UserName;
use distcron_core::internal::{CreateUser, DisableUser, RotateToken};
use distcron_store::hash_token;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!(examples::create_user()))]
pub struct CreateUserRequest {
    /// 1 to 64 of a-z, 0-9, `.`, `_` and `-`, starting with a letter or digit; never given
    /// twice (a disabled user keeps its name).
    #[schema(pattern = r"^[a-z0-9][a-z0-9._-]{0,63}$")]
    name: String,
    /// Default `false`.
    #[serde(default)]
    admin: bool,
}

/// A user and its new token, shown this once (only its sha256 is stored).
#[derive(Serialize, ToSchema)]
#[schema(example = json!(examples::user_token()))]
pub struct UserToken {
    #[schema(value_type = String)]
    pub name: UserName,
    pub admin: bool,
    /// `Authorization: Bearer <token>` from now on.
    pub token: String,
}

/// A user disabled, and what that took off the schedule.
#[derive(Serialize, ToSchema)]
#[schema(example = json!(examples::disabled_user()))]
pub struct DisabledUser {
    #[schema(value_type = String)]
    pub name: UserName,
    pub admin: bool,
    pub disabled: bool,
    pub disabled_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Its jobs this disable finished (none if it was disabled already).
    #[schema(value_type = Vec<String>)]
    pub jobs_finished: Vec<distcron_core::JobId>,
    /// Its runs under way asked to stop: their workers kill them at their next lease renewal.
    pub runs_stopped: u64,
}

/// Who a token belongs to.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"name": "alice", "admin": false}))]
pub struct Me {
    #[schema(value_type = String)]
    pub name: UserName,
    pub admin: bool,
}

/// `GET /whoami`: the caller's own name and whether it is an admin, so a client (the web
/// page) can say who is signed in and offer only what that user may do.
#[utoipa::path(
    get,
    path = "/whoami",
    tag = "users",
    summary = "Who am I?",
    description = "The user the token belongs to: its name and whether it is an admin.",
    security(("bearer" = [])),
    responses((status = 200, description = "The caller", body = Me)),
)]
pub async fn whoami(Caller(user): Caller) -> Json<Me> {
    Json(Me {
        name: user.name,
        admin: user.is_admin,
    })
}

/// A new API token: 256 random bits, with a prefix that secret scanners can recognise.
fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("dct_{}", hex::encode(bytes))
}

#[utoipa::path(
    post,
    path = "/users",
    tag = "users",
    summary = "Create a user",
    description = "Admins only. The answer holds the new user's token, shown once.",
    security(("bearer" = [])),
    request_body(content = CreateUserRequest, example = json!(examples::create_user())),
    responses(
        (status = 201, description = "The user and its token", body = UserToken,
            links(
                ("rotate_token" = (operation_id = "rotate_token", parameters(("name" = "$response.body#/name")))),
                ("disable_user" = (operation_id = "disable_user", parameters(("name" = "$response.body#/name")))),
            ),
        ),
        (status = 400, description = "The body or the name is invalid", body = ErrorBody),
        (status = 403, description = "Only admins may create users", body = ErrorBody),
        (status = 409, description = "A user of that name exists, disabled or not", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
    ),
)]
pub async fn create_user(
    State(state): State<AppState>,
    Admin(caller): Admin,
    JsonBody(req): JsonBody<CreateUserRequest>,
) -> Result<(StatusCode, Json<UserToken>), ApiError> {
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
        Json(UserToken {
            name,
            admin: req.admin,
            token,
        }),
    ))
}

/// `POST /users/{name}/token`: a new token for `name`, the old one revoked. A user may replace
/// its own; an admin anyone's. To anyone else the user does not exist (404), so a non-admin
/// cannot even tell which names are taken.
#[utoipa::path(
    post,
    path = "/users/{name}/token",
    tag = "users",
    summary = "Replace a user's token",
    description = "The user itself, or an admin: a new token, in the answer, shown once; the \
        old one stops working (within 2 s on every API server). The bootstrap admin's token is \
        the managers' `bootstrap_admin_token_file`'s: change it there.",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The user's name", pattern = r"^[a-z0-9][a-z0-9._-]{0,63}$", example = "alice")),
    responses(
        (status = 200, description = "The user and its new token", body = UserToken),
        (status = 400, description = "`name` is not a user name", body = ErrorBody),
        (status = 404, description = "No such user, or (to a non-admin) another user", body = ErrorBody),
        (status = 409, description = "The user is disabled, or is the bootstrap admin", body = ErrorBody),
    ),
)]
pub async fn rotate_token(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(name): PathParam<String>,
) -> Result<Json<UserToken>, ApiError> {
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
    Ok(Json(UserToken {
        name: user.name,
        admin: user.admin,
        token,
    }))
}

/// `DELETE /users/{name}`: admins only. The user's token stops working, its jobs go off the
/// schedule, as `DELETE /jobs/{id}` takes one off, and its runs under way are killed by their
/// workers; the user stays, disabled, with its name and run uid never given to anyone else.
#[utoipa::path(
    delete,
    path = "/users/{name}",
    tag = "users",
    summary = "Disable a user",
    description = "Admins only. Its token stops working; all its jobs are taken off the \
        schedule as `DELETE /jobs/{id}` takes one, in one transaction; its runs under way are \
        killed by their workers (\"killed: its owner was disabled\"). The user stays, disabled: \
        its name and run uid are never given to anyone else. Again: 200, nothing changes.",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The user's name", pattern = r"^[a-z0-9][a-z0-9._-]{0,63}$", example = "alice")),
    responses(
        (status = 200, description = "The user, disabled", body = DisabledUser),
        (status = 400, description = "`name` is not a user name", body = ErrorBody),
        (status = 403, description = "Only admins may disable users", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "Not yourself, nor the bootstrap admin", body = ErrorBody),
    ),
)]
pub async fn disable_user(
    State(state): State<AppState>,
    Admin(caller): Admin,
    PathParam(name): PathParam<String>,
) -> Result<Json<DisabledUser>, ApiError> {
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
    Ok(Json(DisabledUser {
        name: user.name,
        admin: user.admin,
        disabled: true,
        disabled_at: user.disabled_at,
        jobs_finished: user.jobs_finished,
        runs_stopped: user.runs_stopped,
    }))
}

fn no_user(name: &str) -> ApiError {
    ApiError::NotFound(format!("no user {name}"))
}
