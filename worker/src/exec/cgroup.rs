//! cgroup v2 per run, where the host allows it: a run's whole process tree, `setsid` escapees
//! included, is in one cgroup, and `cgroup.kill` ends all of it at once. Creating and removing a
//! cgroup costs the kernel more than starting a small process, so emptied cgroups go back to a
//! pool and are reused by later runs. The run's bounds (`limits`) are written into its
//! cgroup's files before it starts.

use super::limits::{self, Controller, Controllers, Counters};
use distcron_core::Resources;
use std::fs;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Emptied cgroups kept for reuse (each holds an open file); more than this many are removed.
const POOL_MAX: usize = 1024;

/// The directory holding this worker's run cgroups, and the emptied ones ready for reuse.
#[derive(Debug)]
pub struct CgroupRoot {
    dir: PathBuf,
    pool: Mutex<Vec<RunCgroup>>,
    next: AtomicU64,
    controllers: Controllers,
}

/// Where the cgroup2 hierarchy is mounted, from /proc/self/mountinfo.
fn cgroup2_mount() -> Option<PathBuf> {
    let info = fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let fstype = right.split_whitespace().next()?;
        if fstype != "cgroup2" {
            return None;
        }
        left.split_whitespace().nth(4).map(PathBuf::from)
    })
}

/// This process's own cgroup v2 path, from /proc/self/cgroup (`0::/path`).
fn own_cgroup() -> Option<String> {
    let text = fs::read_to_string("/proc/self/cgroup").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(str::to_string)
}

impl CgroupRoot {
    /// Prepares `<own cgroup>/distcron-runs/<name>` under the cgroup2 mount, killing anything a
    /// previous life of this worker left there. `None` (with the reason) where cgroup v2 is
    /// not available or not writable.
    pub fn prepare(name: &str) -> Result<CgroupRoot, String> {
        let mount = cgroup2_mount().ok_or("no cgroup2 file system is mounted")?;
        let own = own_cgroup().unwrap_or_else(|| "/".into());
        let dir = mount
            .join(own.trim_start_matches('/'))
            .join("distcron-runs")
            .join(name);
        fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        if !dir.join("cgroup.kill").exists() {
            return Err("the kernel lacks cgroup.kill (Linux 5.14 or later)".into());
        }
        let controllers = Controllers::detect(&dir, name);
        let root = CgroupRoot {
            dir,
            pool: Mutex::new(Vec::new()),
            next: AtomicU64::new(0),
            controllers,
        };
        root.sweep();
        Ok(root)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The controllers runs are bounded with.
    pub fn controllers(&self) -> &Controllers {
        &self.controllers
    }

    /// Writes a run's bounds into its cgroup, unless a pooled cgroup has them already (most
    /// runs have the defaults: no file is written on their start).
    pub fn limit(&self, cg: &mut RunCgroup, bounds: &Resources) -> Result<(), String> {
        if cg.bounds == Some(*bounds) {
            return Ok(());
        }
        cg.bounds = None;
        limits::apply(&self.controllers, |c| cg.dir_of(c), bounds)?;
        cg.bounds = Some(*bounds);
        Ok(())
    }

    /// The counters of a run's cgroup that explain how it ended.
    pub fn counters(&self, cg: &RunCgroup) -> Counters {
        Counters::read(&self.controllers, |c| cg.dir_of(c))
    }

    /// Kills and removes every run cgroup left here.
    pub fn sweep(&self) {
        if let Ok(entries) = fs::read_dir(&self.dir) {
            for e in entries.flatten() {
                if e.path().is_dir() {
                    let _ = fs::write(e.path().join("cgroup.kill"), "1");
                    remove_when_empty(&e.path(), Duration::from_secs(2));
                }
            }
        }
        for v1 in self.controllers.v1_dirs() {
            if let Ok(entries) = fs::read_dir(&v1) {
                for e in entries.flatten().filter(|e| e.path().is_dir()) {
                    remove_when_empty(&e.path(), Duration::from_secs(2));
                }
            }
        }
    }

    /// An empty cgroup for one run, with an open `cgroup.procs` for the child to join it with:
    /// from the pool, or new.
    pub fn create(&self) -> io::Result<RunCgroup> {
        if let Some(cg) = self.pool.lock().unwrap_or_else(|p| p.into_inner()).pop() {
            return Ok(cg);
        }
        let name = format!("run-{}", self.next.fetch_add(1, Ordering::Relaxed));
        let open = |dir: &Path| -> io::Result<OwnedFd> {
            fs::create_dir(dir)?;
            let procs = fs::OpenOptions::new()
                .write(true)
                .open(dir.join("cgroup.procs"))?;
            Ok(OwnedFd::from(procs))
        };
        let dir = self.dir.join(&name);
        let procs = open(&dir)?;
        let mut cg = RunCgroup {
            dir,
            procs,
            v1: Vec::new(),
            bounds: None,
        };
        for root in self.controllers.v1_dirs() {
            let dir = root.join(&name);
            match open(&dir) {
                Ok(procs) => cg.v1.push(V1Cgroup { root, dir, procs }),
                Err(e) => {
                    cg.try_remove();
                    return Err(e);
                }
            }
        }
        Ok(cg)
    }

    /// Takes back a cgroup that never held a process (the start failed).
    pub fn release_now(&self, cg: RunCgroup) {
        self.pool.lock().unwrap_or_else(|p| p.into_inner()).push(cg);
    }

    /// Takes back a run's cgroup once everything in it has exited (waiting up to two seconds
    /// for killed processes to go), for reuse.
    pub async fn release(&self, cg: RunCgroup) {
        for _ in 0..400 {
            if !cg.populated() {
                let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
                if pool.len() < POOL_MAX {
                    pool.push(cg);
                } else {
                    drop(pool);
                    cg.try_remove();
                }
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tracing::warn!(cgroup = %cg.path().display(), "a run's cgroup did not empty; left in place");
    }
}

/// Removes the directory of an empty cgroup, waiting up to `patience` for killed processes to
/// be reaped. Blocking: for startup.
fn remove_when_empty(dir: &Path, patience: Duration) {
    let deadline = Instant::now() + patience;
    loop {
        match fs::remove_dir(dir) {
            Ok(()) => return,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => {
                tracing::warn!(cgroup = %dir.display(), error = %e, "cannot remove a run's cgroup");
                return;
            }
        }
    }
}

/// One run's cgroup.
#[derive(Debug)]
pub struct RunCgroup {
    dir: PathBuf,
    /// Its `cgroup.procs`, open for the child to write itself into.
    procs: OwnedFd,
    /// Its cgroups in the host's v1 hierarchies, where bounds are enforced there.
    v1: Vec<V1Cgroup>,
    /// The bounds last written into its files, if all were.
    bounds: Option<Resources>,
}

#[derive(Debug)]
struct V1Cgroup {
    /// This worker's directory in the hierarchy (`Controller::V1`'s).
    root: PathBuf,
    dir: PathBuf,
    procs: OwnedFd,
}

impl RunCgroup {
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Every `cgroup.procs` the child writes itself into: v2's, then the v1 ones.
    pub fn procs(&self) -> Vec<BorrowedFd<'_>> {
        std::iter::once(self.procs.as_fd())
            .chain(self.v1.iter().map(|c| c.procs.as_fd()))
            .collect()
    }

    /// The run's directory for a controller.
    fn dir_of(&self, c: &Controller) -> PathBuf {
        match c {
            Controller::V2 => self.dir.clone(),
            Controller::V1(root) => self
                .v1
                .iter()
                .find(|v| &v.root == root)
                .map_or_else(|| root.clone(), |v| v.dir.clone()),
        }
    }

    /// SIGKILL to every process in it.
    pub fn kill(&self) {
        let _ = fs::write(self.dir.join("cgroup.kill"), "1");
    }

    /// Whether any process is still in it.
    pub fn populated(&self) -> bool {
        fs::read_to_string(self.dir.join("cgroup.events"))
            .map(|e| e.lines().any(|l| l == "populated 1"))
            .unwrap_or(false)
    }

    /// Removes it if it is empty; false while processes are still in it.
    pub fn try_remove(&self) -> bool {
        let gone = |dir: &Path| match fs::remove_dir(dir) {
            Ok(()) => true,
            Err(e) => e.kind() == io::ErrorKind::NotFound,
        };
        let v2 = gone(&self.dir);
        self.v1.iter().fold(v2, |all, c| gone(&c.dir) && all)
    }
}
