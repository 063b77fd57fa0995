//! Everything between creating a scenario's jobs and deleting them: wait for the workers to
//! own them, let the measured ticks fire, collect the witness files and the rows, and run the
//! floor at once if it can be over before the next burst.

use super::plan::{self, Planned, Tally};
use super::result::{self, ScenarioResult, TickCpu, Timings};
use super::{Ctx, Kind, Scenario};
use crate::cpu::{CpuUse, Snapshot};
use crate::floor::Floor;
use crate::runs_db::DbCheck;
use crate::starts::{self, CheckCounts, StartsShown};
use crate::witness::{Tick, WitnessDir};
use anyhow::Context;
use chrono::{DateTime, TimeDelta, Utc};
use std::time::{Duration, Instant};

/// What the measured ticks left behind, before it is judged.
struct Collected {
    tally: Tally,
    db: DbCheck,
    cpu_per_tick: Option<TickCpu>,
    starts_shown: Option<StartsShown>,
    start_checks: Option<crate::starts::CheckCost>,
    other_files: usize,
}

impl Ctx {
    pub(super) async fn measure(
        &self,
        scenario: Scenario,
        dir: &WitnessDir,
        prefix: &str,
        ids: &[String],
        baseline: u64,
    ) -> anyhow::Result<ScenarioResult> {
        let name = scenario.to_string();
        let n = scenario.jobs;
        let mut notes = Vec::new();
        let strays = self.remove_strays(prefix, ids).await?;
        if strays > 0 {
            notes.push(format!(
                "{strays} stray jobs from retried creations were deleted before measuring"
            ));
        }
        let t = Instant::now();
        let target = baseline + n as u64;
        if !self
            .wait_assigned(target, Duration::from_secs(60 + n as u64 / 100))
            .await?
        {
            notes.push(format!(
                "the workers' job counts never reached {target}; measured anyway"
            ));
        }
        let assign_s = t.elapsed().as_secs_f64();
        let workers = self.api.workers().await?;
        let per_worker: Vec<(String, u64)> =
            workers.iter().map(|w| (w.id.clone(), w.jobs)).collect();

        let earliest = Utc::now() + TimeDelta::from_std(self.lead)?;
        // A burst's tick is a whole minute; a spread's 60 seconds may start at any second.
        let first = match scenario.kind {
            Kind::Burst => plan::minute_at_or_after(earliest),
            Kind::Spread => plan::second_at_or_after(earliest),
        };
        let planned = plan::planned_ticks(scenario.kind, ids, first);
        eprintln!(
            "==> {name}: all assigned ({per_worker:?}); measuring {} (starts in {:.0} s)",
            planned.measured,
            (first - Utc::now()).as_seconds_f64()
        );
        let c = self.collect(scenario, dir, &planned.ticks, first).await?;
        notes.extend(notes_on(&c, planned.ticks.len()));
        let (floor, floor_run_at) = match scenario.kind {
            Kind::Burst => {
                self.floor_before_next_tick(&name, n, &c.tally, first)
                    .await?
            }
            Kind::Spread => (None, None),
        };
        let Planned {
            ticks,
            measured,
            schedule,
        } = planned;
        Ok(ScenarioResult {
            name,
            kind: scenario.kind,
            jobs: n,
            schedule,
            command: scenario.command(dir),
            measured,
            ticks_expected: ticks.len(),
            ran: c.tally.ran,
            missed: c.tally.missed,
            duplicated: c.tally.duplicated,
            lag: c.tally.lag,
            floor,
            floor_run_at,
            ratio: None,
            goal: result::goal(scenario.kind, scenario.hold_s),
            met: false,
            db: c.db,
            cpu_per_tick: c.cpu_per_tick,
            per_worker,
            other_jobs: baseline,
            timings: Timings {
                create_s: 0.0,
                create_per_s: 0.0,
                assign_s,
                delete_s: 0.0,
            },
            starts_shown: c.starts_shown,
            start_checks: c.start_checks,
            notes,
        })
    }

    /// Lets the ticks fire at `first` and after, then collects every witness file and every
    /// row final, with the CPU and start checks they cost. A burst must be done before the
    /// next minute's tick; a spread's last tick gets 20 s.
    async fn collect(
        &self,
        scenario: Scenario,
        dir: &WitnessDir,
        ticks: &[Tick],
        first: DateTime<Utc>,
    ) -> anyhow::Result<Collected> {
        let last = ticks.iter().map(|t| t.1).max().unwrap_or(first);
        plan::sleep_until(first - TimeDelta::milliseconds(800)).await;
        let checks_before = CheckCounts::read(&self.api).await;
        plan::sleep_until(first - TimeDelta::milliseconds(500)).await;
        let cpu_workers = Snapshot::take(&self.worker_pids);
        let cpu_mysql = Snapshot::take(&self.mysql_pids);
        plan::sleep_until(first).await;

        let (files_until, rows_until) = match scenario.kind {
            Kind::Burst => (
                first + TimeDelta::seconds(45),
                first + TimeDelta::seconds(52),
            ),
            Kind::Spread => (last + TimeDelta::seconds(20), last + TimeDelta::seconds(30)),
        };
        let watch = (scenario.hold_s > 0).then(|| {
            tokio::spawn(starts::watch(
                self.db.pool().clone(),
                ticks.to_vec(),
                rows_until,
            ))
        });
        self.wait_witnessed(dir, ticks, files_until).await;
        let patience = (rows_until - Utc::now()).to_std().unwrap_or_default();
        let db = self.db.check(ticks, patience).await?;
        let workers_used = cpu_workers.since(&Snapshot::take(&self.worker_pids));
        let mysql_used = cpu_mysql.since(&Snapshot::take(&self.mysql_pids));
        let start_checks = match (checks_before, CheckCounts::read(&self.api).await) {
            (Some(before), Some(after)) => after.cost_since(&before),
            _ => None,
        };
        let starts_shown = match watch {
            Some(w) => Some(w.await.context("the start watch")??),
            None => None,
        };
        // Anything run twice has been by now: the runs are short, and all rows are final.
        let tally = plan::tally(ticks, &dir.read(ticks)?);
        let ran = tally.ran;
        let cpu_per_tick = (!self.worker_pids.is_empty() && ran > 0).then(|| TickCpu {
            workers: CpuUse {
                own_ms: workers_used.own_ms / ran as f64,
                children_ms: workers_used.children_ms / ran as f64,
            },
            mysql_ms: mysql_used.own_ms / ran as f64,
        });
        Ok(Collected {
            other_files: dir.total_files().saturating_sub(ran),
            tally,
            db,
            cpu_per_tick,
            starts_shown,
            start_checks,
        })
    }

    /// A burst's floor, right away if it can be over before the next minute's burst.
    async fn floor_before_next_tick(
        &self,
        name: &str,
        n: usize,
        tally: &Tally,
        first: DateTime<Utc>,
    ) -> anyhow::Result<(Option<Floor>, Option<String>)> {
        let spread_s = tally
            .lag
            .map_or(0.0, |l| (l.max_ms - l.min_ms.min(0.0)) / 1e3);
        let estimate =
            TimeDelta::milliseconds(((spread_s.max(n as f64 * 1e-3) * 1.5 + 2.0) * 1e3) as i64);
        if Utc::now() + estimate < first + TimeDelta::seconds(57) {
            eprintln!("==> {name}: floor: spawning the command {n} times");
            let floor = self.floor(name, n).await?;
            Ok((Some(floor), Some("after-tick".into())))
        } else {
            eprintln!(
                "==> {name}: not enough time before the next tick for the floor; it runs after the deletion"
            );
            Ok((None, None))
        }
    }
}

/// What the report should say about a collection that was not clean.
fn notes_on(c: &Collected, ticks: usize) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(s) = &c.starts_shown
        && s.not_shown > 0
    {
        notes.push(format!(
            "{} of {} runs had their outcome before their start was seen",
            s.not_shown, s.ended
        ));
    }
    if c.db.succeeded != c.tally.ran {
        notes.push(format!(
            "MySQL has {} succeeded rows of attempt 1 for the {ticks} ticks; the witness files say {} ran",
            c.db.succeeded, c.tally.ran
        ));
    }
    if c.db.timed_out {
        notes.push("some rows were still not final when collection ended".into());
    }
    if c.other_files > 0 {
        notes.push(format!(
            "{} witness files of unmeasured ticks (while creating, or after) ignored",
            c.other_files
        ));
    }
    notes
}
