//! What a scenario reports, and whether it met its goal.

use super::Kind;
use crate::cpu::CpuUse;
use crate::floor::Floor;
use crate::runs_db::DbCheck;
use crate::starts::{CheckCost, StartsShown};
use crate::stats::Summary;
use serde::Serialize;

/// CPU time per measured tick, from just before the first tick until every run's row was
/// final.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct TickCpu {
    /// The workers: own threads (scheduler side) and reaped children (the job processes,
    /// from fork to exit).
    pub workers: CpuUse,
    /// MySQL's own threads.
    pub mysql_ms: f64,
}

/// Goal of a burst: p99 lag within this factor of the floor's p99.
pub const BURST_GOAL_RATIO: f64 = 1.25;
/// Goal of a spread: p99 lag under this.
pub const SPREAD_GOAL_P99_MS: f64 = 20.0;

#[derive(Clone, Debug, Serialize)]
pub struct Timings {
    pub create_s: f64,
    pub create_per_s: f64,
    /// From the last creation until the workers' job counts added up.
    pub assign_s: f64,
    pub delete_s: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct ScenarioResult {
    pub name: String,
    pub kind: Kind,
    pub jobs: usize,
    pub schedule: String,
    pub command: String,
    /// What was measured: the tick (burst) or the minute (spread).
    pub measured: String,
    pub ticks_expected: usize,
    pub ran: usize,
    pub missed: usize,
    /// Ticks whose witness file has more than one line.
    pub duplicated: usize,
    /// Start lag (witness line minus scheduled time) of the ticks that ran.
    pub lag: Option<Summary>,
    pub floor: Option<Floor>,
    /// When the floor ran: `after-tick` (cluster idle until the next boundary) or
    /// `after-delete` (the jobs deleted, no run in flight).
    pub floor_run_at: Option<String>,
    /// Lag p99 / floor p99. For a spread (whose goal is absolute) it shows how far the
    /// machine's own floor for one second's jobs is from the goal.
    pub ratio: Option<f64>,
    pub goal: String,
    pub met: bool,
    pub db: DbCheck,
    /// CPU per tick that ran (`None` when the processes are not on this machine).
    pub cpu_per_tick: Option<TickCpu>,
    /// Jobs per worker when the measured ticks fired.
    pub per_worker: Vec<(String, u64)>,
    /// Jobs assigned that are not this scenario's (other users', or leftovers).
    pub other_jobs: u64,
    pub timings: Timings,
    /// `held-N`: whether the runs showed their start while they ran.
    pub starts_shown: Option<StartsShown>,
    /// What the workers' start checks cost during the measured ticks.
    pub start_checks: Option<CheckCost>,
    pub notes: Vec<String>,
}

/// Fills in the ratio and whether the goal was met.
pub(super) fn finish(r: &mut ScenarioResult) {
    let clean = r.missed == 0 && r.duplicated == 0 && r.ran == r.ticks_expected;
    match r.kind {
        Kind::Burst => {
            r.ratio = match (&r.lag, &r.floor) {
                (Some(l), Some(f)) if f.lag.p99_ms > 0.0 => Some(l.p99_ms / f.lag.p99_ms),
                _ => None,
            };
            r.met = match &r.starts_shown {
                // Its runs do more than the floor's (they sleep after `date`): the ratio is
                // context; the goal is that every run showed its start while it ran.
                Some(s) => clean && s.not_shown == 0 && s.shown_running == r.ran,
                None => clean && r.ratio.is_some_and(|x| x <= BURST_GOAL_RATIO),
            };
        }
        Kind::Spread => {
            r.ratio = match (&r.lag, &r.floor) {
                (Some(l), Some(f)) if f.lag.p99_ms > 0.0 => Some(l.p99_ms / f.lag.p99_ms),
                _ => None,
            };
            r.met = clean && r.lag.is_some_and(|l| l.p99_ms < SPREAD_GOAL_P99_MS);
        }
    }
}

/// The goal a scenario is measured against, in words.
pub(super) fn goal(kind: Kind, hold_s: u32) -> String {
    match (kind, hold_s) {
        (Kind::Burst, 0) => format!("p99 <= {BURST_GOAL_RATIO}x floor p99"),
        (Kind::Burst, _) => "every run shown running first".to_string(),
        (Kind::Spread, _) => format!("p99 < {SPREAD_GOAL_P99_MS} ms"),
    }
}
