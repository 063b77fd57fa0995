//! Starting and supervising one run: the process (as the right user, in its own process group
//! and cgroup, with a cleared environment), its captured output, its timeout, and ending its
//! whole process tree.

mod abandon;
pub mod account;
pub mod cgroup;
pub mod limits;
mod outcome;
pub mod output;
mod process;
pub mod sandbox;

use crate::guardian::Guardian;
use account::{Accounts, RunUser};
use cgroup::{CgroupRoot, RunCgroup};
use chrono::{DateTime, SecondsFormat, Utc};
use distcron_core::payload::JobTask;
use distcron_core::{Resources, UidRange};
use distcron_core::{RunEnd, Stream};
use distcron_spawn as spawn;
use nix::fcntl::OFlag;
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use process::Process;
use sandbox::Mode;
use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::unix::AsyncFd;
use tokio::sync::watch;

/// PATH for every run.
pub const RUN_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Why a run was stopped before it ended by itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stop {
    /// `concurrency: replace`: a newer tick took its place.
    Replaced(DateTime<Utc>),
    /// The worker lost contact with both ZooKeeper and MySQL for longer than the fence.
    Fenced,
    /// The worker is shutting down and the grace period is over.
    Shutdown,
    /// Someone asked for the run to stop (`runs.stop_reason`, say its owner was disabled):
    /// recorded `killed` with this reason.
    Requested(String),
}

/// What the worker keeps of a run in flight.
#[derive(Clone)]
pub struct RunControl {
    stop: watch::Sender<Option<Stop>>,
}

impl RunControl {
    pub fn stop(&self, why: Stop) {
        self.stop.send_if_modified(|s| {
            if s.is_none() {
                *s = Some(why);
                true
            } else {
                false
            }
        });
    }
}

/// What a run needs to know about itself.
#[derive(Clone, Debug)]
pub struct RunSpec {
    pub run_id: distcron_core::RunId,
    pub task: Arc<JobTask>,
    pub scheduled_at: DateTime<Utc>,
    pub attempt: u16,
}

/// What to execute.
#[derive(Clone, Debug)]
pub enum Program {
    /// A command line for `/bin/sh -c`.
    Shell(String),
    /// A verified executable file.
    File(PathBuf),
}

/// How the executor is set up.
pub struct ExecutorSettings {
    pub worker_id: String,
    /// The uids owners' runs may get.
    pub run_uids: UidRange,
    /// How runs see the file system (`Mode::probe`).
    pub mode: Mode,
    pub cgroups: Option<CgroupRoot>,
    /// What a run gets when its job names nothing, and the most it may have (only what the
    /// cgroups enforce: `Controllers::ceilings`).
    pub run_defaults: Resources,
    pub ceilings: Resources,
    pub max_output: usize,
    pub kill_grace: Duration,
    pub guardian: Option<Guardian>,
    /// Where runs' output goes while they run (the shipper writes it from there).
    pub outputs: Arc<output::LiveOutputs>,
}

/// Everything runs share.
pub struct Executor {
    pub worker_id: String,
    accounts: Accounts,
    mode: Mode,
    can_switch_user: bool,
    cgroups: Option<CgroupRoot>,
    run_defaults: Resources,
    ceilings: Resources,
    max_output: usize,
    kill_grace: Duration,
    guardian: Option<Guardian>,
    outputs: Arc<output::LiveOutputs>,
    /// Every run's stdin.
    devnull: std::fs::File,
}

/// A started process.
pub struct Started {
    process: Process,
    stdout: Option<OwnedFd>,
    stderr: Option<OwnedFd>,
    pgid: i32,
    cgroup: Option<RunCgroup>,
    /// The run's bounds, and its cgroup's counters when it started.
    bounds: Resources,
    before: limits::Counters,
    /// A directory of the run's own, removed when it ends.
    run_dir: Option<PathBuf>,
    started_at: DateTime<Utc>,
    /// Told when the run's process group is gone (by `supervise`, or by the drop of a run
    /// abandoned half-way).
    guardian: Option<Guardian>,
}

impl Started {
    /// When the process was spawned.
    pub fn started_at(&self) -> DateTime<Utc> {
        self.started_at
    }
}

impl Executor {
    pub fn new(s: ExecutorSettings) -> Executor {
        Executor {
            worker_id: s.worker_id,
            accounts: Accounts::new(s.run_uids),
            mode: s.mode,
            can_switch_user: nix::unistd::geteuid().is_root(),
            cgroups: s.cgroups,
            run_defaults: s.run_defaults,
            ceilings: s.ceilings,
            max_output: s.max_output,
            kill_grace: s.kill_grace,
            guardian: s.guardian,
            outputs: s.outputs,
            devnull: std::fs::File::open("/dev/null").expect("/dev/null exists"),
        }
    }

    pub fn uses_cgroups(&self) -> bool {
        self.cgroups.is_some()
    }

    /// The most one run may have here (what the worker advertises).
    pub fn ceilings(&self) -> Resources {
        self.ceilings
    }

    /// Whether runs get a private /tmp and /proc.
    pub fn private_tmp(&self) -> bool {
        self.mode.is_private()
    }

    /// The environment of a run: nothing of the worker's own, a few basics, and the run's
    /// identity, which jobs can use as a fencing token.
    fn environment(&self, spec: &RunSpec, user: &RunUser, home: &Path) -> Vec<(String, String)> {
        let (name, home) = (user.name.clone(), home.display().to_string());
        let mut env = vec![
            ("PATH".into(), RUN_PATH.into()),
            ("HOME".into(), home),
            ("USER".into(), name.clone()),
            ("LOGNAME".into(), name),
            ("SHELL".into(), "/bin/sh".into()),
            ("LANG".into(), "C.UTF-8".into()),
            ("TZ".into(), spec.task.spec.timezone.name().into()),
            ("DISTCRON_JOB_ID".into(), spec.task.id.to_string()),
            ("DISTCRON_RUN_ID".into(), spec.run_id.to_string()),
            (
                "DISTCRON_SCHEDULED_AT".into(),
                // Whole seconds for cron ticks; a one-shot job's tick keeps its fraction, so the
                // value always names the run's row exactly.
                spec.scheduled_at
                    .to_rfc3339_opts(SecondsFormat::AutoSi, true),
            ),
            ("DISTCRON_ATTEMPT".into(), spec.attempt.to_string()),
            ("DISTCRON_WORKER_ID".into(), self.worker_id.clone()),
        ];
        if let Some(n) = &spec.task.spec.name {
            env.push(("DISTCRON_JOB_NAME".into(), n.clone()));
        }
        env
    }

    /// Starts the process. Synchronous (a `clone` and an `exec`, see `spawn`), so the scheduler
    /// can start the runs of an instant back to back.
    pub fn start(&self, spec: &RunSpec, program: &Program) -> Result<Started, String> {
        let job = &spec.task.spec;
        if job.privileged && !self.can_switch_user {
            return Err("privileged jobs need the worker to run as root".into());
        }
        // A privileged run keeps the worker's identity (root) and gets root's account: its
        // home, its name in the environment.
        let (user, switch) = self.accounts.of(spec)?;
        let view = self
            .mode
            .prepare_for(program, &user, &spec.run_id.to_string())?;
        let started = self.start_as(spec, program, &user, switch, &view);
        if started.is_err()
            && let Some(dir) = &view.run_dir
        {
            sandbox::remove_run_dir(dir);
        }
        started
    }

    fn start_as(
        &self,
        spec: &RunSpec,
        program: &Program,
        user: &RunUser,
        switch: bool,
        view: &sandbox::RunView,
    ) -> Result<Started, String> {
        let cstring = |s: &str| CString::new(s).map_err(|_| format!("`{s}` contains a NUL byte"));
        let file = view.program.display().to_string();
        let args = match program {
            Program::Shell(line) => vec![cstring("/bin/sh")?, cstring("-c")?, cstring(line)?],
            Program::File(_) => vec![cstring(&file)?],
        };
        let home = view.home.as_deref().unwrap_or(&user.home);
        let env = self
            .environment(spec, user, home)
            .into_iter()
            .map(|(k, v)| cstring(&format!("{k}={v}")))
            .collect::<Result<Vec<_>, _>>()?;
        let cwd = view.home.as_deref().unwrap_or(&user.cwd);
        let cwd = cstring(&cwd.display().to_string())?;
        let pipe = || {
            nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| format!("cannot create a pipe: {e}"))
        };
        let bounds = limits::resolve(
            &spec.task.spec.resources,
            &self.run_defaults,
            &self.ceilings,
        )?;
        let (cgroup, before) = self.run_cgroup(&bounds)?;
        let (stdout_read, stdout_write) = pipe()?;
        let (stderr_read, stderr_write) = pipe()?;
        let procs = cgroup.as_ref().map(|cg| cg.procs()).unwrap_or_default();
        let program_c = cstring(&file)?;
        // The start is the moment of the spawn's call: the child may run (and print the time)
        // before the call returns to this thread, never before it is made.
        let started_at = Utc::now();
        let spawned = spawn::spawn(&spawn::Request {
            program: &program_c,
            args: &args,
            env: &env,
            cwd: &cwd,
            user: (switch && self.can_switch_user).then_some((user.uid, user.gid)),
            cgroup_procs: &procs,
            stdin: self.devnull.as_fd(),
            stdout: stdout_write.as_fd(),
            stderr: stderr_write.as_fd(),
            sandbox: view.sandbox(),
        });
        drop((stdout_write, stderr_write, procs));
        let spawned = match spawned {
            Ok(s) => s,
            Err(e) => {
                if let (Some(cg), Some(root)) = (cgroup, &self.cgroups) {
                    root.release_now(cg);
                }
                return Err(match program {
                    Program::Shell(_) => format!("cannot start /bin/sh: {e}"),
                    Program::File(p) => format!("cannot start {}: {e}", p.display()),
                });
            }
        };
        // SAFETY: an `OwnedFd` owns its descriptor and always reports the same one.
        #[allow(unsafe_code)]
        let pidfd = unsafe { AsyncFd::register(spawned.pidfd) }
            .map_err(|e| format!("cannot watch the process: {}", e.into_parts().1))?;
        if let Some(g) = &self.guardian {
            g.started(spawned.pid);
        }
        Ok(Started {
            process: Process {
                pidfd,
                status: None,
            },
            stdout: Some(stdout_read),
            stderr: Some(stderr_read),
            pgid: spawned.pid,
            cgroup,
            bounds,
            before,
            run_dir: view.run_dir.clone(),
            started_at,
            guardian: self.guardian.clone(),
        })
    }

    /// The run's own cgroup, bounded, and its counters before the run (for what the run used);
    /// none without cgroups, or, for a run with no bounds, when one cannot be made.
    fn run_cgroup(
        &self,
        bounds: &Resources,
    ) -> Result<(Option<cgroup::RunCgroup>, limits::Counters), String> {
        let mut cgroup = match &self.cgroups {
            Some(root) => match root.create() {
                Ok(created) => Some(created),
                Err(e) if bounds.is_empty() => {
                    tracing::warn!(error = %e, "cannot create a run cgroup; using its process group only");
                    None
                }
                Err(e) => {
                    return Err(format!(
                        "cannot create the run's cgroup for its bounds: {e}"
                    ));
                }
            },
            None => None,
        };
        let mut before = limits::Counters::default();
        if let (Some(cg), Some(root)) = (&mut cgroup, &self.cgroups) {
            if let Err(e) = root.limit(cg, bounds) {
                cg.try_remove();
                return Err(format!("cannot bound the run: {e}"));
            }
            before = root.counters(cg);
        }
        Ok((cgroup, before))
    }

    /// A new control for a run about to start.
    pub fn control() -> (RunControl, watch::Receiver<Option<Stop>>) {
        let (tx, rx) = watch::channel(None);
        (RunControl { stop: tx }, rx)
    }

    /// Waits for the run to end (by itself, by its timeout, or stopped), ends whatever it left
    /// behind, and reports how it ended.
    pub async fn supervise(
        &self,
        spec: &RunSpec,
        mut started: Started,
        mut stop: watch::Receiver<Option<Stop>>,
    ) -> RunEnd {
        let reader = |fd: Option<OwnedFd>| {
            fd.and_then(|fd| tokio::net::unix::pipe::Receiver::from_owned_fd(fd).ok())
        };
        let live = self.outputs.open(spec.run_id);
        let readers = [
            live.capture(
                reader(started.stdout.take()),
                Stream::Stdout,
                self.max_output,
            ),
            live.capture(
                reader(started.stderr.take()),
                Stream::Stderr,
                self.max_output,
            ),
        ];
        crate::test_hook::panic_in_run_task(&spec.task);

        let timeout = spec
            .task
            .spec
            .timeout_seconds
            .map(|s| Duration::from_secs(u64::from(s)));
        let deadline = async {
            match timeout {
                Some(t) => tokio::time::sleep(t).await,
                None => std::future::pending().await,
            }
        };
        let mut why: Option<Result<Stop, Duration>> = None;
        let status = tokio::select! {
            s = started.process.wait() => s,
            _ = deadline => {
                why = Some(Err(timeout.unwrap_or_default()));
                self.terminate(&mut started).await
            }
            _ = async {
                // A dropped control means nobody can stop the run any more: wait for its end.
                if stop.wait_for(Option::is_some).await.is_err() {
                    std::future::pending::<()>().await;
                }
            } => {
                why = stop.borrow().clone().map(Ok);
                self.terminate(&mut started).await
            }
        };
        // The run ends with its main process: anything it left behind goes too.
        self.kill_tree(&started);
        let finished_at = Utc::now();
        let output = live.finish(readers).await;
        let mut happened = limits::Counters::default();
        if let (Some(cg), Some(root)) = (started.cgroup.take(), &self.cgroups) {
            happened = root.counters(&cg).since(&started.before);
            root.release(cg).await;
        }
        if let Some(g) = started.guardian.take() {
            g.ended(started.pgid);
        }
        if let Some(dir) = started.run_dir.take() {
            sandbox::remove_run_dir(&dir);
        }
        let (exit_code, signal) = match &status {
            Ok(s) => (s.code(), std::os::unix::process::ExitStatusExt::signal(s)),
            Err(_) => (None, None),
        };
        let (status, reason) = outcome::of(why, &status);
        let (status, reason) = outcome::explain(status, reason, &happened, &started.bounds);
        RunEnd {
            status,
            reason,
            started_at: Some(started.started_at),
            finished_at,
            exit_code,
            signal,
            output,
        }
    }

    /// SIGTERM to the whole tree, then SIGKILL after the grace period.
    async fn terminate(&self, started: &mut Started) -> std::io::Result<std::process::ExitStatus> {
        let _ = killpg(Pid::from_raw(started.pgid), Signal::SIGTERM);
        if let Some(cg) = &started.cgroup {
            // Processes that left the group (setsid) are still in the cgroup.
            if let Ok(pids) = std::fs::read_to_string(cg_procs(cg)) {
                for pid in pids.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                    let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
                }
            }
        }
        match tokio::time::timeout(self.kill_grace, started.process.wait()).await {
            Ok(status) => status,
            Err(_) => {
                self.kill_tree(started);
                started.process.wait().await
            }
        }
    }

    fn kill_tree(&self, started: &Started) {
        let _ = killpg(Pid::from_raw(started.pgid), Signal::SIGKILL);
        if let Some(cg) = &started.cgroup {
            cg.kill();
        }
    }
}

fn cg_procs(cg: &RunCgroup) -> PathBuf {
    cg.path().join("cgroup.procs")
}
