//! Bounding a run's memory, CPU and processes with its cgroup. cgroup v2's controllers where
//! the host delegates them to the worker; on hosts that still mount memory, cpu and pids as
//! cgroup v1 hierarchies next to the v2 one (the "hybrid" layout), a run also joins a cgroup
//! of its own in each of those. A bound the worker cannot enforce is never promised: it is
//! absent from the ceilings the worker advertises, and a run whose job names it is refused.

use distcron_core::{Resource, Resources};
use std::fs;
use std::path::{Path, PathBuf};

/// CFS period for `cpu_millis`: 100 ms, the kernel's default.
const CPU_PERIOD_US: u64 = 100_000;

/// Where one controller lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Controller {
    /// In the run's cgroup v2.
    V2,
    /// In a v1 hierarchy: the directory holding this worker's run cgroups there.
    V1(PathBuf),
}

/// The controllers this worker can bound runs with, per resource.
#[derive(Clone, Debug, Default)]
pub struct Controllers {
    pub memory: Option<Controller>,
    pub cpu: Option<Controller>,
    pub pids: Option<Controller>,
}

impl Controllers {
    pub fn get(&self, r: Resource) -> Option<&Controller> {
        match r {
            Resource::Memory => self.memory.as_ref(),
            Resource::Cpu => self.cpu.as_ref(),
            Resource::Processes => self.pids.as_ref(),
        }
    }

    fn set(&mut self, r: Resource, c: Controller) {
        match r {
            Resource::Memory => self.memory = Some(c),
            Resource::Cpu => self.cpu = Some(c),
            Resource::Processes => self.pids = Some(c),
        }
    }

    /// The distinct v1 directories, for creating and sweeping run cgroups in them.
    pub fn v1_dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = Resource::ALL
            .iter()
            .filter_map(|r| match self.get(*r) {
                Some(Controller::V1(d)) => Some(d.clone()),
                _ => None,
            })
            .collect();
        dirs.dedup();
        dirs
    }

    /// Finds the controllers for runs under `v2_dir` (this worker's run cgroups in v2): v2's
    /// own where they can be enabled for it, else v1 hierarchies mounted by the host.
    pub fn detect(v2_dir: &Path, name: &str) -> Controllers {
        let mut found = Controllers::default();
        let enabled = enable_v2(v2_dir, name);
        for r in Resource::ALL {
            if enabled.iter().any(|c| c == v2_name(r)) {
                found.set(r, Controller::V2);
            } else if let Some(dir) = v1_dir(v1_name(r), name) {
                found.set(r, Controller::V1(dir));
            }
        }
        found
    }

    /// What one run may have at most here: `wanted` where enforced (the machine's own size
    /// where `wanted` names nothing), absent where not.
    pub fn ceilings(&self, wanted: &Resources) -> Resources {
        let mut out = Resources::default();
        for r in Resource::ALL {
            if self.get(r).is_some() {
                out.set(r, Some(wanted.get(r).unwrap_or_else(|| machine_size(r))));
            }
        }
        out
    }
}

fn v2_name(r: Resource) -> &'static str {
    match r {
        Resource::Memory => "memory",
        Resource::Cpu => "cpu",
        Resource::Processes => "pids",
    }
}

fn v1_name(r: Resource) -> &'static str {
    v2_name(r)
}

/// The machine's own size of a resource: its memory, its cores, the kernel's process limit.
fn machine_size(r: Resource) -> u32 {
    match r {
        Resource::Memory => fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
            .map_or(1024, |kb| (kb / 1024).min(u64::from(u32::MAX)) as u32),
        Resource::Cpu => {
            std::thread::available_parallelism().map_or(1000, |n| n.get() as u32 * 1000)
        }
        Resource::Processes => fs::read_to_string("/proc/sys/kernel/pid_max")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(32768),
    }
}

/// Enables memory, cpu and pids for the children of `dir`, from the top of the hierarchy
/// down, as far as each parent allows; returns those `dir`'s children get. cgroup v2 allows
/// controllers only in cgroups without processes of their own (the root excepted): where the
/// worker's own cgroup refuses (EBUSY, as under systemd's `Delegate=yes`), the worker moves
/// itself into a leaf of its own cgroup first. Call before any thread starts.
fn enable_v2(dir: &Path, name: &str) -> Vec<String> {
    let mut chain: Vec<&Path> = dir.ancestors().collect();
    chain.reverse();
    for d in chain {
        if !d.join("cgroup.subtree_control").exists() {
            continue;
        }
        let available = fs::read_to_string(d.join("cgroup.controllers")).unwrap_or_default();
        for c in ["memory", "cpu", "pids"] {
            if !available.split_whitespace().any(|a| a == c) {
                continue;
            }
            let control = d.join("cgroup.subtree_control");
            let busy = matches!(fs::write(&control, format!("+{c}")), Err(e) if e.raw_os_error() == Some(nix::libc::EBUSY));
            if busy && move_self_to_leaf(d, name) {
                let _ = fs::write(&control, format!("+{c}"));
            }
        }
    }
    fs::read_to_string(dir.join("cgroup.subtree_control"))
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// Moves this process into `<cgroup>/worker.<name>`, if it is in `cgroup` itself.
fn move_self_to_leaf(cgroup: &Path, name: &str) -> bool {
    let me = std::process::id().to_string();
    let here = fs::read_to_string(cgroup.join("cgroup.procs")).unwrap_or_default();
    if !here.lines().any(|p| p.trim() == me) {
        return false;
    }
    let leaf = cgroup.join(format!("worker.{name}"));
    let moved =
        fs::create_dir_all(&leaf).is_ok() && fs::write(leaf.join("cgroup.procs"), &me).is_ok();
    if moved {
        tracing::info!(cgroup = %leaf.display(), "moved the worker into a leaf cgroup, so runs can have memory, cpu and pids controllers");
    }
    moved
}

/// `<mount>/<own cgroup>/distcron-runs/<name>` in the v1 hierarchy of `controller`, created,
/// if the host mounts one and it is writable.
fn v1_dir(controller: &str, name: &str) -> Option<PathBuf> {
    let info = fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mount = info.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let mut right = right.split_whitespace();
        if right.next()? != "cgroup" {
            return None;
        }
        let options = right.nth(1)?;
        options
            .split(',')
            .any(|o| o == controller)
            .then(|| left.split_whitespace().nth(4).map(PathBuf::from))?
    })?;
    let own = fs::read_to_string("/proc/self/cgroup").ok()?;
    let own = own.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, list, path) = (parts.next()?, parts.next()?, parts.next()?);
        list.split(',').any(|c| c == controller).then_some(path)
    })?;
    let dir = mount
        .join(own.trim_start_matches('/'))
        .join("distcron-runs")
        .join(name);
    fs::create_dir_all(&dir).ok()?;
    dir.join("cgroup.procs").exists().then_some(dir)
}

/// One run's bounds, resolved: the job's values, else the worker's defaults.
pub fn resolve(
    job: &Resources,
    defaults: &Resources,
    ceilings: &Resources,
) -> Result<Resources, String> {
    if let Some(why) = job.exceeds(ceilings) {
        return Err(format!("this worker cannot grant the run: {why}"));
    }
    let mut out = Resources::default();
    for r in Resource::ALL {
        let value = job.get(r).or(defaults.get(r));
        // A default above the ceiling (or not enforced) is capped by it.
        out.set(
            r,
            match (value, ceilings.get(r)) {
                (Some(v), Some(most)) => Some(v.min(most)),
                _ => None,
            },
        );
    }
    Ok(out)
}

/// Writes `bounds` into a run's cgroup files (`dir_of` gives the run's directory for a
/// controller); an absent bound is written as unlimited, since cgroups are reused.
pub fn apply(
    controllers: &Controllers,
    dir_of: impl Fn(&Controller) -> PathBuf,
    bounds: &Resources,
) -> Result<(), String> {
    let write = |dir: &Path, file: &str, value: String| {
        fs::write(dir.join(file), &value)
            .map_err(|e| format!("cannot write {value} to {}/{file}: {e}", dir.display()))
    };
    if let Some(c) = &controllers.memory {
        let dir = dir_of(c);
        let bytes = bounds.memory_mb.map(|mb| u64::from(mb) << 20);
        match c {
            Controller::V2 => {
                write(
                    &dir,
                    "memory.max",
                    bytes.map_or("max".into(), |b| b.to_string()),
                )?;
                if dir.join("memory.swap.max").exists() {
                    write(
                        &dir,
                        "memory.swap.max",
                        if bytes.is_some() { "0" } else { "max" }.into(),
                    )?;
                }
            }
            Controller::V1(_) => {
                let limit = bytes.map_or("-1".into(), |b| b.to_string());
                let memsw = dir.join("memory.memsw.limit_in_bytes").exists();
                // memory+swap may never be below memory alone: lift it, set memory, lower it.
                if memsw {
                    write(&dir, "memory.memsw.limit_in_bytes", "-1".into())?;
                }
                write(&dir, "memory.limit_in_bytes", limit.clone())?;
                if memsw {
                    write(&dir, "memory.memsw.limit_in_bytes", limit)?;
                }
            }
        }
    }
    if let Some(c) = &controllers.cpu {
        let dir = dir_of(c);
        let quota = bounds
            .cpu_millis
            .map(|m| u64::from(m) * CPU_PERIOD_US / 1000);
        match c {
            Controller::V2 => write(
                &dir,
                "cpu.max",
                format!(
                    "{} {CPU_PERIOD_US}",
                    quota.map_or("max".into(), |q| q.to_string())
                ),
            )?,
            Controller::V1(_) => {
                write(&dir, "cpu.cfs_period_us", CPU_PERIOD_US.to_string())?;
                write(
                    &dir,
                    "cpu.cfs_quota_us",
                    quota.map_or("-1".into(), |q| q.to_string()),
                )?;
            }
        }
    }
    if let Some(c) = &controllers.pids {
        let dir = dir_of(c);
        write(
            &dir,
            "pids.max",
            bounds.max_processes.map_or("max".into(), |n| n.to_string()),
        )?;
    }
    Ok(())
}

/// Counters of a run's cgroup that explain how it ended; read before and after the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Processes the OOM killer ended for the memory bound.
    pub oom_kills: u64,
    /// Forks refused by the process bound.
    pub pids_refused: u64,
}

impl Counters {
    pub fn read(controllers: &Controllers, dir_of: impl Fn(&Controller) -> PathBuf) -> Counters {
        let field = |path: PathBuf, key: &str| -> u64 {
            fs::read_to_string(path)
                .ok()
                .and_then(|t| {
                    t.lines().find_map(|l| {
                        let (k, v) = l.split_once(' ')?;
                        (k == key).then(|| v.trim().parse().ok())?
                    })
                })
                .unwrap_or(0)
        };
        let oom_kills = controllers.memory.as_ref().map_or(0, |c| match c {
            Controller::V2 => field(dir_of(c).join("memory.events"), "oom_kill"),
            Controller::V1(_) => field(dir_of(c).join("memory.oom_control"), "oom_kill"),
        });
        let pids_refused = controllers
            .pids
            .as_ref()
            .map_or(0, |c| field(dir_of(c).join("pids.events"), "max"));
        Counters {
            oom_kills,
            pids_refused,
        }
    }

    /// What happened between `before` and `self`.
    pub fn since(&self, before: &Counters) -> Counters {
        Counters {
            oom_kills: self.oom_kills.saturating_sub(before.oom_kills),
            pids_refused: self.pids_refused.saturating_sub(before.pids_refused),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_gets_its_jobs_values_else_the_defaults_capped_by_the_ceilings() {
        let ceilings = Resources {
            memory_mb: Some(4096),
            cpu_millis: Some(2000),
            max_processes: None,
        };
        let defaults = Resources {
            memory_mb: Some(8192),
            cpu_millis: None,
            max_processes: Some(1024),
        };
        let job = Resources {
            cpu_millis: Some(500),
            ..Default::default()
        };
        let got = resolve(&job, &defaults, &ceilings).expect("fits");
        assert_eq!(got.memory_mb, Some(4096), "the default, capped");
        assert_eq!(got.cpu_millis, Some(500));
        assert_eq!(got.max_processes, None, "not enforced here");
        let too_much = Resources {
            memory_mb: Some(5000),
            ..Default::default()
        };
        let e = resolve(&too_much, &defaults, &ceilings).expect_err("over");
        assert!(
            e.contains("memory_mb 5000 is above the ceiling of 4096"),
            "{e}"
        );
        let unenforced = Resources {
            max_processes: Some(10),
            ..Default::default()
        };
        let e = resolve(&unenforced, &defaults, &ceilings).expect_err("not enforced");
        assert!(e.contains("max_processes is not enforced here"), "{e}");
    }

    #[test]
    fn counters_tell_what_happened_during_the_run() {
        let before = Counters {
            oom_kills: 2,
            pids_refused: 5,
        };
        let after = Counters {
            oom_kills: 3,
            pids_refused: 5,
        };
        assert_eq!(
            after.since(&before),
            Counters {
                oom_kills: 1,
                pids_refused: 0
            }
        );
    }
}
