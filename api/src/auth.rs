//! Bearer-token authentication: the token's sha256 is looked up in `users` (enabled users only),
//! and kept for `KnownTokens::FRESH` (2 s) once found (`tokens.rs`).

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use distcron_store::User;

/// The bearer token of a request, or 401.
pub(crate) fn bearer(headers: &axum::http::HeaderMap) -> Result<&str, ApiError> {
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::Unauthorized)
}

/// The authenticated caller of a request.
pub struct Caller(pub User);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(&parts.headers)?;
        state
            .known_tokens
            .authenticate(&state.store, token, false)
            .await
            .map(Caller)
    }
}

/// An authenticated caller who is an admin, or 403, decided before the body is read: a
/// non-admin learns nothing from how its body would have been judged.
pub struct Admin(pub User);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Caller(user) = Caller::from_request_parts(parts, state).await?;
        if !user.is_admin {
            return Err(ApiError::Forbidden(format!(
                "only admins may {} {}",
                parts.method,
                parts.uri.path()
            )));
        }
        Ok(Admin(user))
    }
}

/// The caller of `/readyz`: as `Caller`, but while MySQL is down a token verified within the
/// last minute still gets the report (see `KnownTokens`).
pub struct Operator(pub User);

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(&parts.headers)?;
        state
            .known_tokens
            .authenticate(&state.store, token, true)
            .await
            .map(Operator)
    }
}
