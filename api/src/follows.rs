//! Who may follow runs' output on this server: at most `max_follows` followers in all (more:
//! 503), and at most `max_follows_per_user` of one user's (more: 429), so that one user cannot
//! take every place, nor load MySQL with polls for everyone else.

use crate::error::ApiError;
use crate::state::AppState;
use distcron_core::UserName;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub struct Follows {
    all: Arc<Semaphore>,
    per_user: usize,
    by_user: Mutex<HashMap<UserName, usize>>,
}

/// A follower's place, given back when its stream ends.
pub struct Permit {
    _all: OwnedSemaphorePermit,
    follows: Arc<Follows>,
    user: UserName,
}

impl Follows {
    pub fn new(max: usize, per_user: usize) -> Arc<Follows> {
        Arc::new(Follows {
            all: Arc::new(Semaphore::new(max)),
            per_user,
            by_user: Mutex::default(),
        })
    }

    /// A place for one more follower of `user`'s.
    pub fn admit(state: &AppState, user: &UserName) -> Result<Permit, ApiError> {
        let follows = state.follows.clone();
        let all = follows
            .all
            .clone()
            .try_acquire_owned()
            .map_err(|_| ApiError::Unavailable {
                what: "following a run's output",
                cause: "this API server has as many followers as it takes".into(),
            })?;
        {
            let mut by_user = follows.by_user.lock().unwrap_or_else(|p| p.into_inner());
            let n = by_user.entry(user.clone()).or_default();
            if *n >= follows.per_user {
                return Err(ApiError::TooMany(format!(
                    "{user} already follows {n} runs' output on this server; close one first"
                )));
            }
            *n += 1;
        }
        Ok(Permit {
            _all: all,
            user: user.clone(),
            follows,
        })
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut by_user = self
            .follows
            .by_user
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(n) = by_user.get_mut(&self.user) {
            *n -= 1;
            if *n == 0 {
                by_user.remove(&self.user);
            }
        }
    }
}
