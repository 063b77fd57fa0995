//! Cluster-wide lists: the runs under way (admins: all of them; others: their own jobs'), and
//! the audit log. Both page by id, so a page never repeats or skips a row however many rows
//! arrive meanwhile.

use crate::bounds::bindable;
use crate::runs::{RUN_COLUMNS, RunRow};
use crate::{Result, Store};
use chrono::{DateTime, Utc};
use distcron_core::{Run, RunId, RunStatus, UserName};
use sqlx::{MySql, QueryBuilder};

/// Which runs under way to list, oldest first.
#[derive(Clone, Debug)]
pub struct RunFilter {
    /// `running` (claimed ones included) or `pending` (retries and manual runs waiting).
    pub status: RunStatus,
    /// Only the runs of this owner's jobs.
    pub owner: Option<UserName>,
    /// Page cursor: only ids greater than this.
    pub after: Option<RunId>,
    pub limit: u32,
}

/// Which audit rows to list, newest first.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub action: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Page cursor: only ids less than this.
    pub before: Option<u64>,
    pub limit: u32,
}

/// One audit row, with its id (the page cursor) and detail.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRecord {
    pub id: u64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    pub detail: Option<serde_json::Value>,
}

impl Store {
    /// Runs in `filter.status`, through the `(status, worker_id)` index.
    pub async fn runs_with_status(&self, filter: &RunFilter) -> Result<Vec<Run>> {
        let mut q: QueryBuilder<MySql> =
            QueryBuilder::new(format!("SELECT {RUN_COLUMNS} FROM runs WHERE status = "));
        q.push_bind(filter.status.as_str());
        if let Some(owner) = &filter.owner {
            q.push(" AND job_id IN (SELECT id FROM jobs WHERE owner = ")
                .push_bind(owner.as_str())
                .push(")");
        }
        if let Some(after) = filter.after {
            q.push(" AND id > ").push_bind(after.to_string());
        }
        q.push(" ORDER BY id LIMIT ").push_bind(filter.limit);
        let rows: Vec<RunRow> = q.build_query_as().fetch_all(self.pool()).await?;
        rows.into_iter().map(Run::try_from).collect()
    }

    /// How many runs each worker holds `running` (claimed ones included).
    pub async fn running_by_worker(&self) -> Result<std::collections::HashMap<String, u64>> {
        let rows: Vec<(Option<String>, i64)> = sqlx::query_as(
            "SELECT worker_id, COUNT(*) FROM runs WHERE status = 'running' GROUP BY worker_id",
        )
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(w, n)| Some((w?, n as u64)))
            .collect())
    }

    pub async fn audit_log(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>> {
        let mut q: QueryBuilder<MySql> = QueryBuilder::new(
            "SELECT id, at, actor, action, object_type, object_id, detail FROM audit_log WHERE 1=1",
        );
        let columns = [
            ("actor", &filter.actor),
            ("object_type", &filter.object_type),
            ("object_id", &filter.object_id),
            ("action", &filter.action),
        ];
        for (column, value) in columns {
            if let Some(v) = value {
                q.push(format!(" AND {column} = ")).push_bind(v.clone());
            }
        }
        if let Some(from) = filter.from {
            q.push(" AND at >= ").push_bind(bindable(from));
        }
        if let Some(to) = filter.to {
            q.push(" AND at < ").push_bind(bindable(to));
        }
        if let Some(before) = filter.before {
            q.push(" AND id < ").push_bind(before);
        }
        q.push(" ORDER BY id DESC LIMIT ").push_bind(filter.limit);
        Ok(q.build_query_as().fetch_all(self.pool()).await?)
    }
}
