//! Bearer-token authentication: the token's sha256 is looked up in `users`.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use distcron_store::{User, hash_token};

/// The authenticated caller of a request.
pub struct Caller(pub User);

impl Caller {
    pub fn require_admin(&self, what: &str) -> Result<(), ApiError> {
        if self.0.is_admin {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!("only admins may {what}")))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::Unauthorized)?;
        match state.store.user_by_token_hash(&hash_token(token)).await? {
            Some(user) => Ok(Caller(user)),
            None => Err(ApiError::Unauthorized),
        }
    }
}
