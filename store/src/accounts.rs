//! distcron's MySQL accounts: one per role, each with only the grants it needs, so that a
//! process of one role (or anyone holding its password) cannot do another's work. An operator
//! (or `make up`, or the tests) creates them with an administrator's account, after the
//! migrations: `distcron-manager grant --role api --user distcron_api --password-file F`.
//!
//! - API servers only read: users (to authenticate), jobs, runs and their output, the jobs'
//!   pauses (the tick view), the audit log.
//!   Every write goes through the leader manager.
//! - Managers own the schema (they apply migrations at start) and write jobs, users, the audit
//!   log, and runs (the reaper interrupts them and queues retries).
//! - Workers read jobs (and share-lock them for a start), write runs and their output (and read
//!   the stops asked of their runs, `runs.stop_reason`, which managers set), and may change a
//!   job's status columns (the outcome of its runs) but nothing else of it. They cannot read
//!   users or the audit log: a disabled user's runs are stopped through its runs' rows.

use crate::{Result, Store, StoreError};
use secrecy::{ExposeSecret, SecretString};
use std::str::FromStr;

/// A distcron process's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Api,
    Manager,
    Worker,
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "api" => Ok(Role::Api),
            "manager" => Ok(Role::Manager),
            "worker" => Ok(Role::Worker),
            other => Err(format!("unknown role `{other}`: api, manager or worker")),
        }
    }
}

/// The grants of `role` on `database`, as `GRANT` clauses (`<privileges> ON <object>`).
pub fn grants(role: Role, database: &str) -> Vec<String> {
    let on = |table: &str| format!("`{database}`.`{table}`");
    match role {
        Role::Api => [
            "users",
            "jobs",
            "runs",
            "run_output_chunks",
            "job_pauses",
            "audit_log",
        ]
        .iter()
        .map(|t| format!("SELECT ON {}", on(t)))
        .collect(),
        Role::Manager => vec![format!(
            "SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP, REFERENCES ON `{database}`.*"
        )],
        Role::Worker => vec![
            format!(
                "SELECT, UPDATE (status, updated_at, finished_at) ON {}",
                on("jobs")
            ),
            format!("SELECT, INSERT, UPDATE ON {}", on("runs")),
            format!("SELECT, INSERT, UPDATE ON {}", on("run_output_chunks")),
        ],
    }
}

/// `user` and `host` go into SQL unquoted by binds (account names cannot be bound): only
/// letters, digits, `_`, `-`, `.` and `%` are taken.
fn check_name(what: &str, s: &str) -> Result<()> {
    let ok = !s.is_empty()
        && s.len() <= 80
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.%".contains(c));
    if ok {
        Ok(())
    } else {
        Err(StoreError::Config(format!(
            "{what} `{s}` must be 1-80 of A-Z, a-z, 0-9, _, -, . and %"
        )))
    }
}

impl Store {
    /// Creates (or updates) the account `user@host` with `password` and exactly the grants of
    /// `role` on `database`. Needs an administrator's connection. Idempotent: run it after
    /// every migration.
    pub async fn grant_role(
        &self,
        role: Role,
        user: &str,
        host: &str,
        password: &SecretString,
        database: &str,
    ) -> Result<()> {
        check_name("user", user)?;
        check_name("host", host)?;
        check_name("database", database)?;
        let account = format!("'{user}'@'{host}'");
        let mut conn = self.pool().acquire().await?;
        // Account statements take no placeholders: the password is bound to PASSWORD() and only
        // its hash (hex) goes into their text, so no statement logged holds it.
        let (hash,): (String,) = sqlx::query_as("SELECT PASSWORD(?)")
            .bind(password.expose_secret())
            .fetch_one(&mut *conn)
            .await?;
        if !hash.starts_with('*') || !hash[1..].chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(StoreError::Config("unexpected PASSWORD() hash".into()));
        }
        sqlx::query(&format!(
            "CREATE USER IF NOT EXISTS {account} IDENTIFIED BY PASSWORD '{hash}'"
        ))
        .execute(&mut *conn)
        .await?;
        sqlx::query(&format!(
            "ALTER USER {account} IDENTIFIED BY PASSWORD '{hash}'"
        ))
        .execute(&mut *conn)
        .await?;
        // Exactly this role's grants: whatever else the account had goes.
        sqlx::query(&format!(
            "REVOKE ALL PRIVILEGES, GRANT OPTION FROM {account}"
        ))
        .execute(&mut *conn)
        .await?;
        for grant in grants(role, database) {
            sqlx::query(&format!("GRANT {grant} TO {account}"))
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }
}
