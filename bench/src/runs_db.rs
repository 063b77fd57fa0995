//! The cross-check against MySQL: for every expected tick, the `runs` rows distcron wrote.
//! One `succeeded` row of attempt 1 per tick is what the witness files should agree with.

use crate::stats::{Summary, summarize};
use crate::witness::Tick;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{MySql, MySqlPool, QueryBuilder};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// What MySQL says of the expected ticks.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DbCheck {
    /// Ticks with exactly one row, attempt 1, `succeeded`.
    pub succeeded: usize,
    /// Ticks without any row.
    pub no_row: usize,
    /// Ticks with more than one row (retries or attempts beyond the first).
    pub several_rows: usize,
    /// Rows by status, of every expected tick.
    pub statuses: BTreeMap<String, usize>,
    /// Whether the check waited in vain for rows still `running`.
    pub timed_out: bool,
    /// When the row was written (its `created_at`, MySQL's clock) minus the scheduled time:
    /// the claim's part of the start lag.
    pub row_written_lag: Option<Summary>,
    /// When the worker had started the process (`started_at`, taken right after the spawn
    /// returned) minus the scheduled time.
    pub spawned_lag: Option<Summary>,
}

pub struct RunsDb {
    pool: MySqlPool,
}

type Row = (
    String,
    DateTime<Utc>,
    u16,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);

impl RunsDb {
    pub fn connect(url: &str) -> anyhow::Result<RunsDb> {
        let pool = sqlx::mysql::MySqlPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .connect_lazy(url)?;
        Ok(RunsDb { pool })
    }

    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    pub async fn ping(&self) -> anyhow::Result<()> {
        sqlx::query("SELECT 1 FROM runs LIMIT 1")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The rows of these jobs scheduled within [from, to].
    async fn rows(
        &self,
        jobs: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> anyhow::Result<Vec<Row>> {
        let mut out = Vec::new();
        for chunk in jobs.chunks(1000) {
            let mut q: QueryBuilder<MySql> = QueryBuilder::new(
                "SELECT job_id, scheduled_at, attempt, status, created_at, started_at FROM runs WHERE scheduled_at >= ",
            );
            q.push_bind(from)
                .push(" AND scheduled_at <= ")
                .push_bind(to)
                .push(" AND job_id IN (");
            let mut ids = q.separated(", ");
            for j in chunk {
                ids.push_bind(j);
            }
            q.push(")");
            out.extend(q.build_query_as::<Row>().fetch_all(&self.pool).await?);
        }
        Ok(out)
    }

    /// Waits (up to `patience`) until every expected tick has a row and none is `running` any
    /// more, then tells what the rows say.
    pub async fn check(&self, ticks: &[Tick], patience: Duration) -> anyhow::Result<DbCheck> {
        let (Some(from), Some(to)) = (
            ticks.iter().map(|t| t.1).min(),
            ticks.iter().map(|t| t.1).max(),
        ) else {
            return Ok(DbCheck::default());
        };
        let mut jobs: Vec<String> = ticks.iter().map(|t| t.0.clone()).collect();
        jobs.sort();
        jobs.dedup();
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let rows = self.rows(&jobs, from, to).await?;
            let mut by_tick: HashMap<Tick, Vec<(u16, String)>> = HashMap::new();
            let (mut written, mut spawned) = (Vec::new(), Vec::new());
            let nanos = |d: chrono::TimeDelta| d.num_nanoseconds().unwrap_or(i64::MAX);
            for (job, at, attempt, status, created, started) in rows {
                if attempt == 1 {
                    written.push(nanos(created - at));
                    if let Some(s) = started {
                        spawned.push(nanos(s - at));
                    }
                }
                by_tick
                    .entry((job, at))
                    .or_default()
                    .push((attempt, status));
            }
            let mut check = DbCheck {
                row_written_lag: summarize(written),
                spawned_lag: summarize(spawned),
                ..DbCheck::default()
            };
            let mut pending = false;
            for t in ticks {
                match by_tick.get(t).map(Vec::as_slice) {
                    None | Some([]) => {
                        check.no_row += 1;
                        pending = true;
                    }
                    Some(rows) => {
                        if rows.len() > 1 {
                            check.several_rows += 1;
                        }
                        if rows.len() == 1 && rows[0].0 == 1 && rows[0].1 == "succeeded" {
                            check.succeeded += 1;
                        }
                        for (_, s) in rows {
                            *check.statuses.entry(s.clone()).or_default() += 1;
                            pending |= s == "running" || s == "pending";
                        }
                    }
                }
            }
            if !pending {
                return Ok(check);
            }
            if tokio::time::Instant::now() >= deadline {
                check.timed_out = true;
                return Ok(check);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}
