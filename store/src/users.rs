//! Users, their API tokens (stored as sha256 only) and the uid each one's runs get.

use crate::audit::{self, AuditEntry};
use crate::{Result, Store, StoreError};
use chrono::{DateTime, Utc};
use distcron_core::{UidRange, UserName};
use sha2::{Digest, Sha256};
use sqlx::{MySql, Transaction};
use std::collections::HashMap;

/// An authenticated principal.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct User {
    pub name: UserName,
    pub is_admin: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct UserRow {
    name: String,
    is_admin: bool,
    created_at: DateTime<Utc>,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;
    fn try_from(r: UserRow) -> Result<User> {
        Ok(User {
            name: UserName::parse(&r.name).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            is_admin: r.is_admin,
            created_at: r.created_at,
        })
    }
}

/// The stored form of an API token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Store {
    /// The enabled user holding this token hash, if any.
    pub async fn user_by_token_hash(&self, token_sha256: &str) -> Result<Option<User>> {
        let row: Option<UserRow> = sqlx::query_as(
            "SELECT name, is_admin, created_at FROM users \
             WHERE token_sha256 = ? AND disabled_at IS NULL",
        )
        .bind(token_sha256)
        .fetch_optional(self.pool())
        .await?;
        row.map(User::try_from).transpose()
    }

    /// Every user's run uid.
    pub async fn run_uids(&self) -> Result<HashMap<UserName, u32>> {
        let rows: Vec<(String, u32)> = sqlx::query_as("SELECT name, run_uid FROM users")
            .fetch_all(self.pool())
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(name, uid)| Some((UserName::parse(&name).ok()?, uid)))
            .collect())
    }

    /// The user's run uid, if the user exists.
    pub async fn run_uid_of(&self, name: &UserName) -> Result<Option<u32>> {
        let row: Option<(u32,)> = sqlx::query_as("SELECT run_uid FROM users WHERE name = ?")
            .bind(name.as_str())
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|(uid,)| uid))
    }

    /// Creates a user, with the next run uid of `uids`; `Conflict` if the name is taken.
    pub async fn create_user(
        &self,
        name: &UserName,
        admin: bool,
        token_sha256: &str,
        actor: &UserName,
        uids: UidRange,
    ) -> Result<User> {
        let now = Utc::now();
        let mut tx = self.pool().begin().await?;
        match insert_user(&mut tx, name, admin, token_sha256, now, uids).await {
            Err(StoreError::Conflict(_)) => {
                let disabled: Option<(bool,)> =
                    sqlx::query_as("SELECT disabled_at IS NOT NULL FROM users WHERE name = ?")
                        .bind(name.as_str())
                        .fetch_optional(&mut *tx)
                        .await?;
                return Err(StoreError::Conflict(if disabled == Some((true,)) {
                    format!(
                        "user `{name}` exists and is disabled; the names of disabled users are not \
                         reused (their jobs, runs and run uid stay theirs): choose another name"
                    )
                } else {
                    format!("user `{name}` already exists")
                }));
            }
            other => other?,
        };
        audit::record(
            &mut tx,
            AuditEntry {
                at: now,
                actor: actor.as_str(),
                action: "user.create",
                object_type: "user",
                object_id: name.as_str(),
                detail: serde_json::json!({ "admin": admin }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(User {
            name: name.clone(),
            is_admin: admin,
            created_at: now,
        })
    }

    /// Makes `name` an admin holding exactly this token: the operator's bootstrap. Returns
    /// whether anything changed.
    pub async fn ensure_bootstrap_admin(
        &self,
        name: &UserName,
        token_sha256: &str,
        uids: UidRange,
    ) -> Result<bool> {
        let now = Utc::now();
        let mut tx = self.pool().begin().await?;
        let current: Option<(bool, String, bool)> = sqlx::query_as(
            "SELECT is_admin, token_sha256, disabled_at IS NOT NULL FROM users WHERE name = ? FOR UPDATE",
        )
        .bind(name.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let action = match current {
            Some((true, hash, false)) if hash == token_sha256 => return Ok(false),
            // The operator's file wins: an admin disabled by hand is enabled again.
            Some(_) => {
                sqlx::query("UPDATE users SET is_admin = TRUE, token_sha256 = ?, disabled_at = NULL, updated_at = ? WHERE name = ?")
                    .bind(token_sha256)
                    .bind(now)
                    .bind(name.as_str())
                    .execute(&mut *tx)
                    .await?;
                "user.bootstrap_reset"
            }
            None => {
                insert_user(&mut tx, name, true, token_sha256, now, uids).await?;
                "user.bootstrap"
            }
        };
        audit::record(
            &mut tx,
            AuditEntry {
                at: now,
                actor: "distcron-manager",
                action,
                object_type: "user",
                object_id: name.as_str(),
                detail: serde_json::json!({ "admin": true }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// Inserts a user with the next free run uid of `uids` (one above the highest given, so uids
/// are never reused). Two creations at once may pick the same uid: the unique key refuses the
/// second, which tries again.
async fn insert_user(
    tx: &mut Transaction<'static, MySql>,
    name: &UserName,
    admin: bool,
    token_sha256: &str,
    now: DateTime<Utc>,
    uids: UidRange,
) -> Result<u32> {
    for attempt in 1..=5 {
        sqlx::query("SAVEPOINT new_user").execute(&mut **tx).await?;
        let inserted = sqlx::query(
            "INSERT INTO users (name, is_admin, run_uid, token_sha256, created_at, updated_at) \
             SELECT ?, ?, GREATEST(COALESCE(MAX(run_uid) + 1, ?), ?), ?, ?, ? FROM users",
        )
        .bind(name.as_str())
        .bind(admin)
        .bind(uids.first)
        .bind(uids.first)
        .bind(token_sha256)
        .bind(now)
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(StoreError::from);
        match inserted {
            Ok(_) => break,
            Err(StoreError::Conflict(m)) if m.contains("users_run_uid") && attempt < 5 => {
                sqlx::query("ROLLBACK TO SAVEPOINT new_user")
                    .execute(&mut **tx)
                    .await?;
            }
            Err(e) => return Err(e),
        }
    }
    let (uid,): (u32,) = sqlx::query_as("SELECT run_uid FROM users WHERE name = ?")
        .bind(name.as_str())
        .fetch_one(&mut **tx)
        .await?;
    if !uids.contains(uid) {
        return Err(StoreError::Config(format!(
            "no run uid left for user `{name}`: the range {uids} is used up (widen the managers' run_uids)"
        )));
    }
    Ok(uid)
}
