//! The tokens an API server has verified lately, so that a burst of requests does not cost a
//! MySQL round trip each; see `KnownTokens` for the bound this puts on revocation.

use crate::error::ApiError;
use distcron_core::UserName;
use distcron_store::{Store, User, hash_token};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Users recently authenticated, by token hash, so that a burst of requests does not cost a
/// MySQL round trip each.
///
/// Revocation is bounded by time, not pushed: a token replaced (`POST /users/{name}/token`) or
/// whose user was disabled (`DELETE /users/{name}`) is forgotten at once by the API server that
/// forwarded the change, and stops working on every other API server within `FRESH` of the
/// change's commit, when their entry must be verified against MySQL again. An entry's age
/// counts from the moment its lookup was sent, so even a lookup that read the row just before
/// the change committed is trusted no longer. No ZooKeeper watch is needed for that, and none
/// can be missed: the bound holds by construction.
///
/// One exception, for operators: while MySQL cannot be reached, `/readyz` (and only it) still
/// accepts a token verified within `STALE` (a minute), so a known caller gets its report of what
/// is down; without MySQL nothing can tell whether that token was revoked meanwhile, and the
/// report is all it opens: every other route takes a fresh entry or MySQL's word.
#[derive(Default)]
pub struct KnownTokens {
    entries: Mutex<HashMap<String, (User, Instant)>>,
}

impl KnownTokens {
    /// How long a verified token is taken on trust: the bound on revocation.
    pub const FRESH: Duration = Duration::from_secs(2);
    /// How long a verified token still opens `/readyz` while MySQL is down.
    const STALE: Duration = Duration::from_secs(60);
    /// More entries than this and the expired ones go (all of them, if none has expired).
    const MAX: usize = 10_000;

    fn get(&self, hash: &str, within: Duration) -> Option<User> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(hash)
            .filter(|(_, at)| at.elapsed() < within)
            .map(|(user, _)| user.clone())
    }

    /// Keeps `user` for `hash`, verified by a lookup sent at `asked`.
    fn put(&self, hash: String, user: User, asked: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= Self::MAX {
            entries.retain(|_, (_, at)| at.elapsed() < Self::STALE);
            if entries.len() >= Self::MAX {
                entries.clear();
            }
        }
        entries.insert(hash, (user, asked));
    }

    fn remove(&self, hash: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.remove(hash);
    }

    /// Forgets every token of `name`: its token was just replaced, or it was disabled.
    pub fn forget_user(&self, name: &UserName) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.retain(|_, (user, _)| user.name != *name);
    }

    /// The user holding `token`: a fresh entry, else MySQL's answer. With `stale_ok`, an entry
    /// up to `STALE` old stands in for MySQL while MySQL is unavailable.
    pub async fn authenticate(
        &self,
        store: &Store,
        token: &str,
        stale_ok: bool,
    ) -> Result<User, ApiError> {
        let hash = hash_token(token);
        if let Some(user) = self.get(&hash, Self::FRESH) {
            return Ok(user);
        }
        let asked = Instant::now();
        match store.user_by_token_hash(&hash).await {
            Ok(Some(user)) => {
                self.put(hash, user.clone(), asked);
                Ok(user)
            }
            Ok(None) => {
                self.remove(&hash);
                Err(ApiError::Unauthorized)
            }
            Err(e) if stale_ok && e.is_unavailable() => {
                self.get(&hash, Self::STALE).ok_or_else(|| e.into())
            }
            Err(e) => Err(e.into()),
        }
    }
}
