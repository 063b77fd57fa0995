//! Whether runs show their start while they run, and what the start check costs.
//!
//! * The watch: while a `held-N` burst's runs last (each sleeps a few seconds after writing
//!   its witness line), the `runs` rows of its tick are read every 100 ms. A run counts as
//!   shown started when a read finds it `running` with a `started_at`, before any read finds
//!   its outcome. The delay until then (first such read minus `started_at`) is an upper bound
//!   on how long the start took to be recorded, to the watch's 100 ms.
//! * The cost: the workers count their start checks (the share lock on the jobs' rows taken
//!   for each instant's starts, `/healthz` `start_checks`), and the time to take the locks
//!   (50 ms ahead of the tick, so off the lag unless it takes longer) and to let them go
//!   (after the starts).

use crate::api::Api;
use crate::stats::{Summary, summarize};
use crate::witness::Tick;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{MySql, MySqlPool, QueryBuilder};
use std::collections::HashMap;
use std::time::Duration;

/// What the watch saw.
#[derive(Clone, Debug, Default, Serialize)]
pub struct StartsShown {
    /// Runs of the tick with an outcome by the end.
    pub ended: usize,
    /// Of those, how many were seen `running` with their start before their outcome.
    pub shown_running: usize,
    /// Seen with their outcome first (or never seen running): the start was not visible.
    pub not_shown: usize,
    /// First read showing the start, minus the start.
    pub visible_after: Option<Summary>,
}

#[derive(Default)]
struct Seen {
    started_seen: Option<(DateTime<Utc>, DateTime<Utc>)>,
    ended_first: bool,
    ended: bool,
}

type Row = (String, String, Option<DateTime<Utc>>);

async fn read(pool: &MySqlPool, jobs: &[String], at: DateTime<Utc>) -> anyhow::Result<Vec<Row>> {
    let mut out = Vec::new();
    for chunk in jobs.chunks(1000) {
        let mut q: QueryBuilder<MySql> =
            QueryBuilder::new("SELECT id, status, started_at FROM runs WHERE scheduled_at = ");
        q.push_bind(at).push(" AND attempt = 1 AND job_id IN (");
        let mut ids = q.separated(", ");
        for j in chunk {
            ids.push_bind(j);
        }
        q.push(")");
        out.extend(q.build_query_as::<Row>().fetch_all(pool).await?);
    }
    Ok(out)
}

/// Reads the tick's rows every 100 ms until every one of them has ended, or `until`.
pub async fn watch(
    pool: MySqlPool,
    ticks: Vec<Tick>,
    until: DateTime<Utc>,
) -> anyhow::Result<StartsShown> {
    let Some(at) = ticks.first().map(|t| t.1) else {
        return Ok(StartsShown::default());
    };
    let jobs: Vec<String> = ticks.into_iter().map(|t| t.0).collect();
    let mut seen: HashMap<String, Seen> = HashMap::new();
    loop {
        let rows = read(&pool, &jobs, at).await?;
        // After the read: a start it shows was recorded by then (an upper bound).
        let now = Utc::now();
        for (id, status, started) in &rows {
            let s = seen.entry(id.clone()).or_default();
            if status == "running" {
                if let (Some(started), None) = (started, s.started_seen) {
                    s.started_seen = Some((*started, now));
                }
            } else if status != "pending" && !s.ended {
                s.ended = true;
                s.ended_first = s.started_seen.is_none();
            }
        }
        let all_ended = rows.len() == jobs.len() && seen.values().all(|s| s.ended);
        if all_ended || Utc::now() >= until {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ended: Vec<&Seen> = seen.values().filter(|s| s.ended).collect();
    let lags = ended
        .iter()
        .filter_map(|s| s.started_seen)
        .map(|(started, seen)| (seen - started).num_nanoseconds().unwrap_or(i64::MAX))
        .collect();
    Ok(StartsShown {
        ended: ended.len(),
        shown_running: ended.iter().filter(|s| !s.ended_first).count(),
        not_shown: ended.iter().filter(|s| s.ended_first).count(),
        visible_after: summarize(lags),
    })
}

/// The workers' start checks, summed.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct CheckCounts {
    pub checks: u64,
    pub runs: u64,
    pub lock_seconds: f64,
    pub release_seconds: f64,
}

/// What the start checks cost over a scenario.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct CheckCost {
    pub checks: u64,
    pub runs: u64,
    /// Taking the locks, per check (one per worker and instant, ahead of it).
    pub lock_ms_per_check: f64,
    /// Letting them go after the starts, per check.
    pub release_ms_per_check: f64,
    /// Both, per run started.
    pub us_per_run: f64,
}

impl CheckCounts {
    pub async fn read(api: &Api) -> Option<CheckCounts> {
        let mut total = CheckCounts::default();
        for body in api.worker_health().await.ok()? {
            let c = &body["start_checks"];
            total.checks += c["checks"].as_u64()?;
            total.runs += c["runs"].as_u64()?;
            total.lock_seconds += c["lock_seconds"].as_f64()?;
            total.release_seconds += c["release_seconds"].as_f64()?;
        }
        Some(total)
    }

    pub fn cost_since(&self, before: &CheckCounts) -> Option<CheckCost> {
        let checks = self.checks.checked_sub(before.checks)?;
        let runs = self.runs.checked_sub(before.runs)?;
        let lock = self.lock_seconds - before.lock_seconds;
        let release = self.release_seconds - before.release_seconds;
        (checks > 0 && runs > 0).then(|| CheckCost {
            checks,
            runs,
            lock_ms_per_check: lock * 1e3 / checks as f64,
            release_ms_per_check: release * 1e3 / checks as f64,
            us_per_run: (lock + release) * 1e6 / runs as f64,
        })
    }
}
