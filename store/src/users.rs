//! Users and their API tokens (stored as sha256 only).

use crate::audit::{self, AuditEntry};
use crate::{Result, Store, StoreError};
use chrono::{DateTime, Utc};
use distcron_core::UserName;
use sha2::{Digest, Sha256};

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
    /// The user holding this token hash, if any.
    pub async fn user_by_token_hash(&self, token_sha256: &str) -> Result<Option<User>> {
        let row: Option<UserRow> =
            sqlx::query_as("SELECT name, is_admin, created_at FROM users WHERE token_sha256 = ?")
                .bind(token_sha256)
                .fetch_optional(self.pool())
                .await?;
        row.map(User::try_from).transpose()
    }

    /// Creates a user; `Conflict` if the name is taken.
    pub async fn create_user(
        &self,
        name: &UserName,
        admin: bool,
        token_sha256: &str,
        actor: &UserName,
    ) -> Result<User> {
        let now = Utc::now();
        let mut tx = self.pool().begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO users (name, is_admin, token_sha256, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(name.as_str())
        .bind(admin)
        .bind(token_sha256)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await;
        match inserted.map_err(StoreError::from) {
            Err(StoreError::Conflict(_)) => {
                return Err(StoreError::Conflict(format!(
                    "user `{name}` already exists"
                )));
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
    ) -> Result<bool> {
        let now = Utc::now();
        let mut tx = self.pool().begin().await?;
        let current: Option<(bool, String)> =
            sqlx::query_as("SELECT is_admin, token_sha256 FROM users WHERE name = ? FOR UPDATE")
                .bind(name.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        let action = match current {
            Some((true, hash)) if hash == token_sha256 => return Ok(false),
            Some(_) => {
                sqlx::query("UPDATE users SET is_admin = TRUE, token_sha256 = ?, updated_at = ? WHERE name = ?")
                    .bind(token_sha256)
                    .bind(now)
                    .bind(name.as_str())
                    .execute(&mut *tx)
                    .await?;
                "user.bootstrap_reset"
            }
            None => {
                sqlx::query(
                    "INSERT INTO users (name, is_admin, token_sha256, created_at, updated_at) VALUES (?, TRUE, ?, ?, ?)",
                )
                .bind(name.as_str())
                .bind(token_sha256)
                .bind(now)
                .bind(now)
                .execute(&mut *tx)
                .await?;
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
