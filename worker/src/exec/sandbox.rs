//! What a run sees of the worker's file system. Where the host allows it (a worker running as
//! root that may create mount namespaces, probed once at start), every run gets a private
//! `/tmp`, a `/proc` showing only its own user's processes, and its executable bound into that
//! `/tmp` (`spawn::Sandbox`): the executable cache stays closed to run users, and a file another
//! run planted in `/tmp` cannot be seen, let alone followed. Elsewhere runs share the host's
//! `/tmp`; then an owner's run gets a directory of its own as its home, and a copy of its
//! executable there, removed when the run ends.

use super::Program;
use super::account::RunUser;
use distcron_spawn as spawn;
use std::ffi::CString;
use std::os::unix::fs::{PermissionsExt, chown};
use std::path::{Path, PathBuf};

/// Where a script or binary appears inside a run's private /tmp.
pub const EXEC_TARGET: &str = "/tmp/.distcron-job";

/// How runs see the file system on this worker.
#[derive(Debug)]
pub enum Mode {
    /// Mount namespaces: a private /tmp of this many bytes.
    Private { tmp_bytes: u64 },
    /// The host's /tmp; per-run directories under `runs_dir`.
    Shared { runs_dir: PathBuf },
}

/// What one run's start needs: the program to execute, where it starts, and its sandbox.
pub struct RunView {
    pub program: PathBuf,
    /// A home (and working directory) of its own, when the run has one.
    pub home: Option<PathBuf>,
    tmp_options: Option<CString>,
    exec_bind: Option<(CString, CString)>,
    /// The per-run directory to remove when the run ends.
    pub run_dir: Option<PathBuf>,
}

impl RunView {
    pub fn sandbox(&self) -> Option<spawn::Sandbox<'_>> {
        self.tmp_options.as_deref().map(|tmp| spawn::Sandbox {
            tmp_options: tmp,
            executable: self
                .exec_bind
                .as_ref()
                .map(|(a, b)| (a.as_c_str(), b.as_c_str())),
        })
    }
}

fn cstring(s: &str) -> Result<CString, String> {
    CString::new(s).map_err(|_| format!("`{s}` contains a NUL byte"))
}

impl Mode {
    /// Private if a trial run in a sandbox of its own works here, else shared (with the reason
    /// logged).
    pub fn probe(tmp_bytes: u64, runs_dir: PathBuf) -> Mode {
        let mode = Mode::Private { tmp_bytes };
        let outcome = if nix::unistd::geteuid().is_root() {
            mode.trial()
        } else {
            Err("the worker does not run as root".into())
        };
        match outcome {
            Ok(()) => mode,
            Err(why) => {
                tracing::warn!(%why, "runs get no private /tmp and /proc: they share the host's /tmp");
                Mode::Shared { runs_dir }
            }
        }
    }

    /// Runs `/bin/true`, bound into a private /tmp, as root.
    fn trial(&self) -> Result<(), String> {
        use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
        use std::os::fd::AsFd;
        let root = RunUser::lookup("root")?;
        let view = self.prepare_for(&Program::File(PathBuf::from("/bin/true")), &root, "probe")?;
        let devnull = std::fs::File::open("/dev/null").map_err(|e| e.to_string())?;
        let program = cstring(&view.program.display().to_string())?;
        let args = [program.clone()];
        let cwd = cstring("/tmp")?;
        let spawned = spawn::spawn(&spawn::Request {
            program: &program,
            args: &args,
            env: &[],
            cwd: &cwd,
            user: None,
            cgroup_procs: &[],
            stdin: devnull.as_fd(),
            stdout: devnull.as_fd(),
            stderr: devnull.as_fd(),
            sandbox: view.sandbox(),
        })
        .map_err(|e| e.to_string())?;
        match waitid(Id::PIDFd(spawned.pidfd.as_fd()), WaitPidFlag::WEXITED) {
            Ok(WaitStatus::Exited(_, 0)) => Ok(()),
            other => Err(format!("a trial run in a sandbox ended with {other:?}")),
        }
    }

    pub fn is_private(&self) -> bool {
        matches!(self, Mode::Private { .. })
    }

    /// Prepares a run of `program` as `user`.
    pub fn prepare_for(
        &self,
        program: &Program,
        user: &RunUser,
        run_id: &str,
    ) -> Result<RunView, String> {
        let file = match program {
            Program::Shell(_) => None,
            Program::File(path) => Some(path),
        };
        let mut view = RunView {
            program: file.cloned().unwrap_or_else(|| PathBuf::from("/bin/sh")),
            home: None,
            tmp_options: None,
            exec_bind: None,
            run_dir: None,
        };
        match self {
            Mode::Private { tmp_bytes } => {
                view.tmp_options = Some(cstring(&format!("mode=1777,size={tmp_bytes}"))?);
                if let Some(path) = file {
                    view.exec_bind =
                        Some((cstring(&path.display().to_string())?, cstring(EXEC_TARGET)?));
                    view.program = PathBuf::from(EXEC_TARGET);
                }
            }
            Mode::Shared { runs_dir } => {
                if user.uid != 0 && (user.owner_uid || file.is_some()) {
                    let dir = runs_dir.join(run_id);
                    make_run_dir(&dir, user)?;
                    view.run_dir = Some(dir.clone());
                    if user.owner_uid {
                        view.home = Some(dir.clone());
                    }
                    if let Some(source) = file {
                        view.program = copy_executable(source, &dir, user)?;
                    }
                }
            }
        }
        Ok(view)
    }
}

/// A copy of the executable only the run's user can read.
fn copy_executable(source: &Path, dir: &Path, user: &RunUser) -> Result<PathBuf, String> {
    let copy = dir.join("job");
    std::fs::copy(source, &copy)
        .and_then(|_| std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o500)))
        .and_then(|()| chown(&copy, Some(user.uid), Some(user.gid)))
        .map_err(|e| format!("cannot give the run its executable: {e}"))?;
    Ok(copy)
}

/// A directory only the run's user may enter.
fn make_run_dir(dir: &Path, user: &RunUser) -> Result<(), String> {
    let made = std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)))
        .and_then(|()| chown(dir, Some(user.uid), Some(user.gid)));
    made.map_err(|e| format!("cannot create the run's directory {}: {e}", dir.display()))
}

/// Removes a run's directory once it has ended (whatever the run left in it).
pub fn remove_run_dir(dir: &Path) {
    if let Err(e) = std::fs::remove_dir_all(dir)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(dir = %dir.display(), error = %e, "cannot remove a run's directory");
    }
}
