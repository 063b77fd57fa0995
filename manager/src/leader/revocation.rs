//! Taking access away, as the leader does it: a user's token replaced, or the user disabled and
//! its jobs off the schedule, the jobs' tasks and assignments withdrawn from ZooKeeper before
//! the change commits (as `finish_job` does for one job).

use super::Leader;
use super::writes::WriteError;
use distcron_core::UserName;
use distcron_core::internal::UserState;
use std::collections::BTreeMap;

impl Leader {
    /// Gives `name` the token whose hash is `token_sha256`; the old one stops authenticating at
    /// once in MySQL (API servers forget what they had verified within their cache's bound).
    pub async fn rotate_token(
        &self,
        name: &UserName,
        token_sha256: &str,
        actor: &UserName,
    ) -> Result<UserState, WriteError> {
        self.refuse_bootstrap_admin(name, "have its token replaced")?;
        if !distcron_core::job::is_sha256_hex(token_sha256) {
            return Err(WriteError::Internal(anyhow::anyhow!(
                "token hash is not a sha256"
            )));
        }
        let Some(user) = self.store.rotate_token(name, token_sha256, actor).await? else {
            return Err(WriteError::NotFound(format!("no user {name}")));
        };
        tracing::info!(user = %name, actor = %actor, "token replaced");
        Ok(UserState {
            name: user.name,
            admin: user.is_admin,
            disabled_at: None,
            jobs_finished: Vec::new(),
            runs_stopped: 0,
        })
    }

    /// Disables `name`: its token stops authenticating, every job it owns is finished, its
    /// task and assignment withdrawn, and its running runs are asked to stop, before the
    /// answer. Disabling a disabled user changes nothing.
    pub async fn disable_user(
        &self,
        name: &UserName,
        actor: &UserName,
    ) -> Result<UserState, WriteError> {
        if name == actor {
            return Err(WriteError::Conflict(
                "you cannot disable yourself; another admin can".into(),
            ));
        }
        self.refuse_bootstrap_admin(name, "be disabled")?;
        let _shared = self.ops.read().await;
        let Some((user, tx)) = self.store.begin_disable_user(name, actor).await? else {
            return Err(WriteError::NotFound(format!("no user {name}")));
        };
        if let Some(tx) = tx {
            if let Err(e) = self.publish(&user.jobs_finished, BTreeMap::new()).await {
                let _ = tx.rollback().await;
                return Err(e);
            }
            // As for one job: a failed commit leaves the jobs withdrawn (see `finish_job`).
            tx.commit().await?;
            tracing::info!(
                user = %name,
                actor = %actor,
                jobs_finished = user.jobs_finished.len(),
                runs_stopped = user.runs_stopped,
                "user disabled"
            );
        }
        Ok(UserState {
            name: user.name,
            admin: user.is_admin,
            disabled_at: Some(user.disabled_at),
            jobs_finished: user.jobs_finished,
            runs_stopped: user.runs_stopped,
        })
    }

    fn refuse_bootstrap_admin(&self, name: &UserName, what: &str) -> Result<(), WriteError> {
        if self.bootstrap_admin.as_ref() == Some(name) {
            return Err(WriteError::Conflict(format!(
                "user `{name}` is the bootstrap admin, whose token the managers' \
                 bootstrap_admin_token_file sets at every change of leader: it cannot {what} \
                 through the API; change or remove that file instead"
            )));
        }
        Ok(())
    }
}
