//! Taking access away: a user's token replaced by a new one, or the user disabled, with its
//! jobs off the schedule and its running runs stopped. Users are never deleted, so their name and their run uid are never
//! given to anyone else.

use crate::audit::{self, AuditEntry};
use crate::jobs::{JobTx, finish_in};
use crate::{Result, Store, StoreError, User};
use chrono::{DateTime, Utc};
use distcron_core::{JobId, JobStatus, UserName};

/// A disabled user, and the jobs that went off the schedule with it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DisabledUser {
    pub name: UserName,
    pub is_admin: bool,
    pub disabled_at: DateTime<Utc>,
    /// The jobs this disable finished (none if the user was disabled already).
    pub jobs_finished: Vec<JobId>,
    /// How many of its runs were running, and were asked to stop (`runs.stop_reason`).
    pub runs_stopped: u64,
}

/// Why a disabled user's running runs are stopped: their `reason` once recorded `killed`.
pub const OWNER_DISABLED: &str = "killed: its owner was disabled";

#[derive(sqlx::FromRow)]
struct LockedUser {
    is_admin: bool,
    created_at: DateTime<Utc>,
    disabled_at: Option<DateTime<Utc>>,
}

impl Store {
    /// Gives the enabled user `name` the token whose hash is `token_sha256`; the old token stops
    /// authenticating when this commits. `None` if there is no such user, `Conflict` if it is
    /// disabled.
    pub async fn rotate_token(
        &self,
        name: &UserName,
        token_sha256: &str,
        actor: &UserName,
    ) -> Result<Option<User>> {
        let now = Utc::now();
        let mut tx = self.pool().begin().await?;
        let Some(user) = lock_user(&mut tx, name).await? else {
            tx.rollback().await?;
            return Ok(None);
        };
        if user.disabled_at.is_some() {
            tx.rollback().await?;
            return Err(StoreError::Conflict(format!(
                "user `{name}` is disabled; a disabled user gets no token"
            )));
        }
        sqlx::query("UPDATE users SET token_sha256 = ?, updated_at = ? WHERE name = ?")
            .bind(token_sha256)
            .bind(now)
            .bind(name.as_str())
            .execute(&mut *tx)
            .await?;
        audit::record(
            &mut tx,
            AuditEntry {
                at: now,
                actor: actor.as_str(),
                action: "user.token_rotate",
                object_type: "user",
                object_id: name.as_str(),
                detail: serde_json::json!({}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(Some(User {
            name: name.clone(),
            is_admin: user.is_admin,
            created_at: user.created_at,
        }))
    }

    /// Disables `name` in a transaction left open for the caller (who withdraws the finished
    /// jobs' tasks from ZooKeeper, then commits): its token stops authenticating, and every job
    /// it owns is finished, each row locked, so a worker's start check either waits for the
    /// commit or has already started its run. `None` if there is no such user; a user disabled
    /// already comes back as it is, with no transaction.
    pub async fn begin_disable_user(
        &self,
        name: &UserName,
        actor: &UserName,
    ) -> Result<Option<(DisabledUser, Option<JobTx>)>> {
        let now = Utc::now();
        let mut tx = self.pool().begin().await?;
        let Some(user) = lock_user(&mut tx, name).await? else {
            tx.rollback().await?;
            return Ok(None);
        };
        if let Some(disabled_at) = user.disabled_at {
            tx.rollback().await?;
            return Ok(Some((
                DisabledUser {
                    name: name.clone(),
                    is_admin: user.is_admin,
                    disabled_at,
                    jobs_finished: Vec::new(),
                    runs_stopped: 0,
                },
                None,
            )));
        }
        sqlx::query("UPDATE users SET disabled_at = ?, updated_at = ? WHERE name = ?")
            .bind(now)
            .bind(now)
            .bind(name.as_str())
            .execute(&mut *tx)
            .await?;
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, status FROM jobs WHERE owner = ? AND status <> 'finished' ORDER BY id FOR UPDATE",
        )
        .bind(name.as_str())
        .fetch_all(&mut *tx)
        .await?;
        let jobs = rows
            .into_iter()
            .map(|(id, status)| {
                let corrupt =
                    |e: &dyn std::fmt::Display| StoreError::Corrupt(format!("job {id}: {e}"));
                Ok((
                    id.parse::<JobId>().map_err(|e| corrupt(&e))?,
                    status.parse::<JobStatus>().map_err(|e| corrupt(&e))?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        finish_in(&mut tx, &jobs, now, actor, Some("the owner was disabled")).await?;
        // Its runs under way (of these jobs, or of jobs deleted earlier whose runs go on) are
        // asked to stop; each one's worker kills it at its next lease renewal. From the running
        // runs (the status index), not from the user's jobs, whose past runs may be many.
        let runs_stopped = sqlx::query(
            "UPDATE runs r JOIN jobs j ON j.id = r.job_id SET r.stop_reason = ? \
             WHERE r.status = 'running' AND j.owner = ? AND r.stop_reason IS NULL",
        )
        .bind(OWNER_DISABLED)
        .bind(name.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        audit::record(
            &mut tx,
            AuditEntry {
                at: now,
                actor: actor.as_str(),
                action: "user.disable",
                object_type: "user",
                object_id: name.as_str(),
                detail: serde_json::json!({ "jobs_finished": jobs.len(), "runs_stopped": runs_stopped }),
            },
        )
        .await?;
        Ok(Some((
            DisabledUser {
                name: name.clone(),
                is_admin: user.is_admin,
                disabled_at: now,
                jobs_finished: jobs.into_iter().map(|(id, _)| id).collect(),
                runs_stopped,
            },
            Some(JobTx { tx }),
        )))
    }
}

async fn lock_user(
    tx: &mut sqlx::Transaction<'static, sqlx::MySql>,
    name: &UserName,
) -> Result<Option<LockedUser>> {
    Ok(sqlx::query_as(
        "SELECT is_admin, created_at, disabled_at FROM users WHERE name = ? FOR UPDATE",
    )
    .bind(name.as_str())
    .fetch_optional(&mut **tx)
    .await?)
}
