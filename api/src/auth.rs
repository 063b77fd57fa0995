//! Bearer-token authentication: the token's sha256 is looked up in `users`, and kept for a
//! minute once found.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use distcron_store::{User, hash_token};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Users recently authenticated, by token hash: a request does not cost a MySQL round trip for
/// its token, and a known caller still gets `/readyz`'s report (naming what is down) while
/// MySQL is down. Only tokens found are kept, for `TTL`; the API never deletes a user or
/// changes one's admin flag, so the minute bounds only hand edits of `users`.
#[derive(Default)]
pub struct KnownTokens {
    entries: Mutex<HashMap<String, (User, Instant)>>,
}

impl KnownTokens {
    const TTL: Duration = Duration::from_secs(60);
    /// More entries than this and the expired ones go (all of them, if none has expired).
    const MAX: usize = 10_000;

    fn get(&self, hash: &str) -> Option<User> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(hash)
            .filter(|(_, at)| at.elapsed() < Self::TTL)
            .map(|(user, _)| user.clone())
    }

    fn put(&self, hash: String, user: User) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= Self::MAX {
            entries.retain(|_, (_, at)| at.elapsed() < Self::TTL);
            if entries.len() >= Self::MAX {
                entries.clear();
            }
        }
        entries.insert(hash, (user, Instant::now()));
    }
}

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
        let hash = hash_token(token);
        if let Some(user) = state.known_tokens.get(&hash) {
            return Ok(Caller(user));
        }
        match state.store.user_by_token_hash(&hash).await? {
            Some(user) => {
                state.known_tokens.put(hash, user.clone());
                Ok(Caller(user))
            }
            None => Err(ApiError::Unauthorized),
        }
    }
}
