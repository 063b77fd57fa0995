//! The scenarios. Each creates its jobs (many requests in flight), waits until the workers
//! own all of them, lets the ticks it measures fire, collects the witness files and the `runs`
//! rows, and deletes its jobs again.
//!
//! * `burst-N`: N jobs `* * * * *`, all due at the same second. One tick is measured: the
//!   first minute boundary at least `--lead` seconds after the last job was assigned (the
//!   jobs also fire at the boundaries passed while they were being created or deleted; those
//!   ticks are not measured). Right after it, while the cluster is idle until the next
//!   boundary, the same process runs the floor (see `floor.rs`) with the same N.
//! * `spread-N`: N jobs `S * * * * *` with S = i % 60. One minute is measured: every job's
//!   next tick in the 60 seconds from the first whole second at least `--lead` seconds after
//!   the last assignment. Its
//!   floor, for context, is one second's jobs (N / 60) spawned at once, run after the jobs
//!   are deleted.
//!
//! * `held-N`: a burst whose runs each sleep `HOLD_SECONDS` after writing their witness line,
//!   so that the rows can be watched while the runs run (`starts.rs`): every run must show
//!   `running` with its start before its outcome.
//!
//! A floor that cannot run before the next minute's burst runs after the deletion, once the
//! workers report no run in flight. Every scenario also reports what the workers' start checks
//! cost (`starts.rs`).

use crate::api::{Api, NewJob};
use crate::cpu::{CpuUse, Snapshot};
use crate::floor::{self, Floor};
use crate::runs_db::{DbCheck, RunsDb};
use crate::starts::{self, CheckCost, CheckCounts, StartsShown};
use crate::stats::{Summary, summarize};
use crate::witness::{Tick, WitnessDir};
use anyhow::{Context, bail};
use chrono::{DateTime, DurationRound, SecondsFormat, TimeDelta, Timelike, Utc};
use serde::Serialize;
use std::collections::HashSet;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Burst,
    Spread,
}

/// A scenario as named on the command line: `burst-1000`, `spread-10000`, `held-1000`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scenario {
    pub kind: Kind,
    pub jobs: usize,
    /// How long each run lasts after writing its witness line (`held-N`), in seconds.
    pub hold_s: u32,
}

/// How long the runs of a `held-N` burst last after their witness line.
pub const HOLD_SECONDS: u32 = 3;

impl FromStr for Scenario {
    type Err = String;
    fn from_str(s: &str) -> Result<Scenario, String> {
        let expected = || format!("`{s}`: expected burst-N, spread-N or held-N");
        let (kind, n) = s.split_once('-').ok_or_else(expected)?;
        let (kind, hold_s) = match kind {
            "burst" => (Kind::Burst, 0),
            "spread" => (Kind::Spread, 0),
            "held" => (Kind::Burst, HOLD_SECONDS),
            _ => return Err(expected()),
        };
        let jobs: usize = n
            .replace('_', "")
            .parse()
            .map_err(|_| format!("`{s}`: N must be a number"))?;
        if jobs == 0 {
            return Err(format!("`{s}`: N must be positive"));
        }
        Ok(Scenario { kind, jobs, hold_s })
    }
}

impl Scenario {
    /// What each job runs.
    fn command(&self, dir: &WitnessDir) -> String {
        match self.hold_s {
            0 => dir.command(),
            s => format!("{}; sleep {s}", dir.command()),
        }
    }
}

impl std::fmt::Display for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.kind, self.hold_s) {
            (Kind::Burst, 0) => write!(f, "burst-{}", self.jobs),
            (Kind::Burst, _) => write!(f, "held-{}", self.jobs),
            (Kind::Spread, _) => write!(f, "spread-{}", self.jobs),
        }
    }
}

/// What every scenario needs.
pub struct Ctx {
    pub api: Api,
    pub db: RunsDb,
    /// Witness files go under here, one directory per scenario.
    pub witness_root: PathBuf,
    pub concurrency: usize,
    /// The measured instant is at least this far after the last assignment.
    pub lead: Duration,
    /// The job names' prefix: `bench-<stamp>`.
    pub name_prefix: String,
    pub keep_witness: bool,
    /// The cluster's workers and MySQL server on this machine, for CPU accounting.
    pub worker_pids: Vec<u32>,
    pub mysql_pids: Vec<u32>,
}

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

fn secs(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn ns(t: DateTime<Utc>) -> i64 {
    t.timestamp_nanos_opt().unwrap_or(0)
}

/// Sleeps until the wall clock reads `t`.
async fn sleep_until(t: DateTime<Utc>) {
    if let Ok(d) = (t - Utc::now()).to_std() {
        tokio::time::sleep(d).await;
    }
}

/// The first whole second at or after `t`.
fn second_at_or_after(t: DateTime<Utc>) -> DateTime<Utc> {
    let floor = t.duration_trunc(TimeDelta::seconds(1)).unwrap_or(t);
    if floor == t {
        t
    } else {
        floor + TimeDelta::seconds(1)
    }
}

/// The first whole minute at or after `t`.
fn minute_at_or_after(t: DateTime<Utc>) -> DateTime<Utc> {
    let floor = t.duration_trunc(TimeDelta::minutes(1)).unwrap_or(t);
    if floor == t {
        t
    } else {
        floor + TimeDelta::minutes(1)
    }
}

impl Ctx {
    /// Polls `GET /workers` until the live workers own at least `target` jobs.
    async fn wait_assigned(&self, target: u64, patience: Duration) -> anyhow::Result<bool> {
        let deadline = Instant::now() + patience;
        let mut last_print = Instant::now();
        loop {
            let n = self.api.assigned().await?;
            if n >= target {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            if last_print.elapsed() >= Duration::from_secs(5) {
                eprintln!("    assigned: {n} / {target}");
                last_print = Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Polls until the workers own at most `target` jobs.
    async fn wait_unassigned(&self, target: u64, patience: Duration) -> anyhow::Result<bool> {
        let deadline = Instant::now() + patience;
        loop {
            if self.api.assigned().await? <= target {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Waits until no worker has a run in flight (and then a second more), up to `patience`.
    async fn wait_idle(&self, patience: Duration) -> bool {
        let deadline = Instant::now() + patience;
        loop {
            match self.api.running().await {
                Ok(Some(0)) => {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    return true;
                }
                Ok(None) | Err(_) if Instant::now() >= deadline => return false,
                Ok(Some(_)) if Instant::now() >= deadline => return false,
                _ => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
    }

    /// Waits until every tick has its witness file, or `until`.
    async fn wait_witnessed(&self, dir: &WitnessDir, ticks: &[Tick], until: DateTime<Utc>) {
        loop {
            let present = dir.count_present(ticks);
            if present == ticks.len() || Utc::now() >= until {
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Removes stray jobs of this scenario (created by a retried request that had in fact
    /// gone through) so exactly the intended jobs are on the schedule.
    async fn remove_strays(&self, prefix: &str, ids: &[String]) -> anyhow::Result<usize> {
        let ours: HashSet<&str> = ids.iter().map(String::as_str).collect();
        let strays: Vec<String> = self
            .api
            .stray_jobs(prefix)
            .await?
            .into_iter()
            .filter(|j| !ours.contains(j.id.as_str()))
            .map(|j| j.id)
            .collect();
        if !strays.is_empty() {
            self.api.delete_all(&strays, self.concurrency).await?;
        }
        Ok(strays.len())
    }

    pub async fn run(&self, scenario: Scenario) -> anyhow::Result<ScenarioResult> {
        let name = scenario.to_string();
        let n = scenario.jobs;
        let dir = WitnessDir::create(self.witness_root.join(&name))?;
        let prefix = format!("{}-{name}-", self.name_prefix);
        let schedule_of = |i: usize| match scenario.kind {
            Kind::Burst => "* * * * *".to_string(),
            Kind::Spread => format!("{} * * * * *", i % 60),
        };
        let command = scenario.command(&dir);
        let jobs: Vec<NewJob> = (0..n)
            .map(|i| NewJob {
                name: format!("{prefix}{i}"),
                schedule: schedule_of(i),
                executable: command.clone(),
            })
            .collect();
        let baseline = self.api.assigned().await?;
        eprintln!(
            "==> {name}: creating {n} jobs ({} requests in flight; {baseline} other jobs assigned)",
            self.concurrency
        );
        let t = Instant::now();
        let ids = self.api.create_all(jobs, self.concurrency).await?;
        let create_s = t.elapsed().as_secs_f64();

        let measured = self.measure(scenario, &dir, &prefix, &ids, baseline).await;

        eprintln!("==> {name}: deleting its {n} jobs");
        let t = Instant::now();
        let deleted = self.api.delete_all(&ids, self.concurrency).await;
        let strays = self.remove_strays(&prefix, &ids).await;
        let delete_s = t.elapsed().as_secs_f64();
        let settled = self
            .wait_unassigned(baseline, Duration::from_secs(120))
            .await;
        let mut result = measured?;
        deleted.context("deleting the scenario's jobs")?;
        if strays? > 0 {
            result
                .notes
                .push("stray jobs (from retried creations) were deleted".into());
        }
        if !settled.unwrap_or(false) {
            result.notes.push(
                "the workers still owned jobs of this scenario 2 min after the deletion".into(),
            );
        }
        result.timings = Timings {
            create_s,
            create_per_s: n as f64 / create_s.max(1e-3),
            assign_s: result.timings.assign_s,
            delete_s,
        };
        if result.floor.is_none() {
            // A burst whose next tick came too soon after the measured one, or a spread: the
            // floor runs now, with the jobs gone and their last runs over. A spread's floor is
            // one second's worth of its jobs, all at once.
            let processes = match scenario.kind {
                Kind::Burst => n,
                Kind::Spread => n.div_ceil(60),
            };
            if !self.wait_idle(Duration::from_secs(60)).await {
                result
                    .notes
                    .push("the workers still had runs in flight when the floor ran".into());
            }
            eprintln!("==> {name}: floor: spawning the command {processes} times");
            result.floor = Some(self.floor(&name, processes).await?);
            result.floor_run_at = Some("after-delete".into());
        }
        finish(&mut result);
        if !self.keep_witness {
            dir.remove();
        }
        Ok(result)
    }

    async fn floor(&self, name: &str, n: usize) -> anyhow::Result<Floor> {
        let floor_dir = WitnessDir::create(self.witness_root.join(format!("{name}-floor")))?;
        let path = floor_dir.path.clone();
        let floor = tokio::task::spawn_blocking(move || floor::run(n, &path))
            .await
            .context("the floor's thread")??;
        floor_dir.remove();
        if floor.silent > 0 {
            bail!("{} of the floor's processes wrote nothing", floor.silent);
        }
        Ok(floor)
    }

    /// Everything between creating the jobs and deleting them.
    async fn measure(
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
            Kind::Burst => minute_at_or_after(earliest),
            Kind::Spread => second_at_or_after(earliest),
        };
        let (ticks, measured, schedule): (Vec<Tick>, String, String) = match scenario.kind {
            Kind::Burst => (
                ids.iter().map(|id| (id.clone(), first)).collect(),
                format!("the tick at {}", secs(first)),
                "* * * * *".into(),
            ),
            Kind::Spread => (
                ids.iter()
                    .enumerate()
                    .map(|(i, id)| {
                        let s = (i % 60) as i64;
                        let wait = (s - i64::from(first.second())).rem_euclid(60);
                        (id.clone(), first + TimeDelta::seconds(wait))
                    })
                    .collect(),
                format!(
                    "every tick from {} to {}",
                    secs(first),
                    secs(first + TimeDelta::seconds(59))
                ),
                "S * * * * * (S = i % 60)".into(),
            ),
        };
        let last = ticks.iter().map(|t| t.1).max().unwrap_or(first);
        eprintln!(
            "==> {name}: all assigned ({per_worker:?}); measuring {measured} (starts in {:.0} s)",
            (first - Utc::now()).as_seconds_f64()
        );
        sleep_until(first - TimeDelta::milliseconds(800)).await;
        let checks_before = CheckCounts::read(&self.api).await;
        sleep_until(first - TimeDelta::milliseconds(500)).await;
        let cpu_workers = Snapshot::take(&self.worker_pids);
        let cpu_mysql = Snapshot::take(&self.mysql_pids);
        sleep_until(first).await;

        // Collect: every witness file, then every row final. A burst must be done before the
        // next minute's tick; a spread's last tick gets 20 s.
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
                ticks.clone(),
                rows_until,
            ))
        });
        self.wait_witnessed(dir, &ticks, files_until).await;
        let patience = (rows_until - Utc::now()).to_std().unwrap_or_default();
        let db = self.db.check(&ticks, patience).await?;
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
        if let Some(s) = &starts_shown
            && s.not_shown > 0
        {
            notes.push(format!(
                "{} of {} runs had their outcome before their start was seen",
                s.not_shown, s.ended
            ));
        }
        // Anything run twice has been by now: the runs are short, and all rows are final.
        let seen = dir.read(&ticks)?;
        let mut lags = Vec::with_capacity(ticks.len());
        let (mut ran, mut missed, mut duplicated) = (0, 0, 0);
        for t in &ticks {
            match seen.get(t).map(Vec::as_slice) {
                None | Some([]) => missed += 1,
                Some(lines) => {
                    ran += 1;
                    if lines.len() > 1 {
                        duplicated += 1;
                    }
                    let start = lines.iter().copied().min().unwrap_or(0);
                    lags.push(start - ns(t.1));
                }
            }
        }
        let lag = summarize(lags);
        let cpu_per_tick = (!self.worker_pids.is_empty() && ran > 0).then(|| TickCpu {
            workers: CpuUse {
                own_ms: workers_used.own_ms / ran as f64,
                children_ms: workers_used.children_ms / ran as f64,
            },
            mysql_ms: mysql_used.own_ms / ran as f64,
        });
        if db.succeeded != ran {
            notes.push(format!(
                "MySQL has {} succeeded rows of attempt 1 for the {} ticks; the witness files say {} ran",
                db.succeeded,
                ticks.len(),
                ran
            ));
        }
        if db.timed_out {
            notes.push("some rows were still not final when collection ended".into());
        }
        let other_files = dir.total_files().saturating_sub(ran);
        if other_files > 0 {
            notes.push(format!(
                "{other_files} witness files of unmeasured ticks (while creating, or after) ignored"
            ));
        }

        // The floor, right away if it can be over before the next minute's burst.
        let (mut floor, mut floor_run_at) = (None, None);
        if scenario.kind == Kind::Burst {
            let spread_s = lag.map_or(0.0, |l| (l.max_ms - l.min_ms.min(0.0)) / 1e3);
            let estimate =
                TimeDelta::milliseconds(((spread_s.max(n as f64 * 1e-3) * 1.5 + 2.0) * 1e3) as i64);
            if Utc::now() + estimate < first + TimeDelta::seconds(57) {
                eprintln!("==> {name}: floor: spawning the command {n} times");
                floor = Some(self.floor(&name, n).await?);
                floor_run_at = Some("after-tick".into());
            } else {
                eprintln!(
                    "==> {name}: not enough time before the next tick for the floor; it runs after the deletion"
                );
            }
        }
        let goal = match (scenario.kind, scenario.hold_s) {
            (Kind::Burst, 0) => format!("p99 <= {BURST_GOAL_RATIO}x floor p99"),
            (Kind::Burst, _) => "every run shown running first".to_string(),
            (Kind::Spread, _) => format!("p99 < {SPREAD_GOAL_P99_MS} ms"),
        };
        Ok(ScenarioResult {
            name,
            kind: scenario.kind,
            jobs: n,
            schedule,
            command: scenario.command(dir),
            measured,
            ticks_expected: ticks.len(),
            ran,
            missed,
            duplicated,
            lag,
            floor,
            floor_run_at,
            ratio: None,
            goal,
            met: false,
            db,
            cpu_per_tick,
            per_worker,
            other_jobs: baseline,
            timings: Timings {
                create_s: 0.0,
                create_per_s: 0.0,
                assign_s,
                delete_s: 0.0,
            },
            starts_shown,
            start_checks,
            notes,
        })
    }
}

/// Fills in the ratio and whether the goal was met.
fn finish(r: &mut ScenarioResult) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            "burst-1000".parse::<Scenario>().unwrap(),
            Scenario {
                kind: Kind::Burst,
                jobs: 1000,
                hold_s: 0,
            }
        );
        let held = "held-1000".parse::<Scenario>().unwrap();
        assert_eq!((held.kind, held.hold_s), (Kind::Burst, HOLD_SECONDS));
        assert_eq!(held.to_string(), "held-1000");
        assert_eq!(
            "spread-10_000".parse::<Scenario>().unwrap().to_string(),
            "spread-10000"
        );
        assert!("burst".parse::<Scenario>().is_err());
        assert!("storm-5".parse::<Scenario>().is_err());
        assert!("burst-0".parse::<Scenario>().is_err());
    }

    #[test]
    fn minutes() {
        let t: DateTime<Utc> = "2026-01-01T10:00:00Z".parse().unwrap();
        assert_eq!(minute_at_or_after(t), t);
        assert_eq!(second_at_or_after(t), t);
        assert_eq!(
            second_at_or_after("2026-01-01T10:00:00.5Z".parse().unwrap()),
            "2026-01-01T10:00:01Z".parse::<DateTime<Utc>>().unwrap()
        );
        let u: DateTime<Utc> = "2026-01-01T10:00:00.5Z".parse().unwrap();
        assert_eq!(
            minute_at_or_after(u),
            "2026-01-01T10:01:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }
}
