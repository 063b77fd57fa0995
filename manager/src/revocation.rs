//! Taking access away, as the leader does it: a user's token replaced, or the user disabled and
//! its jobs off the schedule, the jobs' tasks and assignments withdrawn from ZooKeeper before
//! the change commits (as `finish_job` does for one job).

use crate::leader::Leader;
use crate::plan::Op;
use crate::reconcile;
use crate::writes::WriteError;
use distcron_core::internal::UserState;
use distcron_core::{JobId, UserName, layout};
use std::collections::HashSet;

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
            if let Err(e) = self.unpublish_many(&user.jobs_finished).await {
                let _ = tx.rollback().await;
                return Err(e);
            }
            tx.commit().await?;
            for id in &user.jobs_finished {
                self.forget(id);
            }
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

    /// Removes the tasks and assignments of `jobs`, tolerating any being absent already: one
    /// batch for what the placement knows, then one listing per worker for any assignment it
    /// did not know of (a stale cache would keep such a job scheduled).
    async fn unpublish_many(&self, jobs: &[JobId]) -> Result<(), WriteError> {
        if jobs.is_empty() {
            return Ok(());
        }
        let mut ops = Vec::with_capacity(jobs.len() * 2);
        for id in jobs {
            if let Some(worker) = self.owner_of(id) {
                ops.push(Op::Unassign { worker, job: *id });
            }
            ops.push(Op::DeleteTask { job: *id });
        }
        // `apply` retries a failed batch op by op and only counts ops that failed, which here
        // means "already gone": the state we want.
        reconcile::apply(&self.lock, &ops).await?;
        let wanted: HashSet<String> = jobs.iter().map(JobId::to_string).collect();
        let mut stray = Vec::new();
        for worker in self
            .client()
            .list_children(layout::ASSIGNMENTS)
            .await
            .map_err(distcron_zk::ZkError::from)?
        {
            let dir = layout::assignment_dir(&worker);
            let children = match self.client().list_children(&dir).await {
                Ok(children) => children,
                Err(distcron_zk::zk::Error::NoNode) => continue,
                Err(e) => return Err(distcron_zk::ZkError::from(e).into()),
            };
            for job in children.into_iter().filter(|c| wanted.contains(c)) {
                if let Ok(job) = job.parse() {
                    stray.push(Op::Unassign {
                        worker: worker.clone(),
                        job,
                    });
                }
            }
        }
        if !stray.is_empty() {
            reconcile::apply(&self.lock, &stray).await?;
        }
        Ok(())
    }
}
