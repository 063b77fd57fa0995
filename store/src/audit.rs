//! The audit log: one row per change, written in the same transaction as the change itself.

use crate::Result;
use chrono::{DateTime, Utc};
use sqlx::MySqlConnection;

pub(crate) struct AuditEntry<'a> {
    pub at: DateTime<Utc>,
    pub actor: &'a str,
    pub action: &'a str,
    pub object_type: &'a str,
    pub object_id: &'a str,
    pub detail: serde_json::Value,
}

pub(crate) async fn record(conn: &mut MySqlConnection, entry: AuditEntry<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor, action, object_type, object_id, detail) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(entry.at)
    .bind(entry.actor)
    .bind(entry.action)
    .bind(entry.object_type)
    .bind(entry.object_id)
    .bind(entry.detail)
    .execute(conn)
    .await?;
    Ok(())
}

/// One audit row as read back.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct AuditRow {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
}

impl crate::Store {
    /// A transaction holding the audit row of a change made outside MySQL (a worker's drain,
    /// in ZooKeeper): commit it once the change is made, drop it if the change failed.
    pub async fn begin_audited(
        &self,
        actor: &str,
        action: &str,
        object_type: &str,
        object_id: &str,
        detail: serde_json::Value,
    ) -> Result<sqlx::Transaction<'static, sqlx::MySql>> {
        let mut tx = self.pool().begin().await?;
        record(
            &mut tx,
            AuditEntry {
                at: Utc::now(),
                actor,
                action,
                object_type,
                object_id,
                detail,
            },
        )
        .await?;
        Ok(tx)
    }

    /// The audit trail of one object, oldest first.
    pub async fn audit_trail(&self, object_type: &str, object_id: &str) -> Result<Vec<AuditRow>> {
        Ok(sqlx::query_as(
            "SELECT at, actor, action, object_type, object_id FROM audit_log \
             WHERE object_type = ? AND object_id = ? ORDER BY id",
        )
        .bind(object_type)
        .bind(object_id)
        .fetch_all(self.pool())
        .await?)
    }
}
