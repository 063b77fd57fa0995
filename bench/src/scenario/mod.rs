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

mod measure;
mod plan;
mod result;
mod waits;

use crate::api::{Api, NewJob};
use crate::floor::{self, Floor};
use crate::runs_db::RunsDb;
use crate::witness::WitnessDir;
use anyhow::{Context, bail};
use serde::Serialize;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, Instant};

pub use result::ScenarioResult;
use result::Timings;

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

impl Ctx {
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
        result::finish(&mut result);
        if !self.keep_witness {
            dir.remove();
        }
        Ok(result)
    }

    pub(super) async fn floor(&self, name: &str, n: usize) -> anyhow::Result<Floor> {
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
}
