//! A started process nobody follows any more ends with its handle: a run task that panicked,
//! anywhere (in `supervise` too), or was dropped, kills the run's process group and cgroup as
//! its `Started` is dropped, so no process of the run outlives the worker's knowledge of it.

use super::Started;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::time::Duration;

impl Drop for Started {
    fn drop(&mut self) {
        // Reaped: `supervise` saw the main process end and killed what it left behind.
        let reaped = self.process.status.is_some();
        if reaped && self.cgroup.is_none() && self.run_dir.is_none() && self.guardian.is_none() {
            return;
        }
        // Not reaped, the pid (and so the group's id) cannot have been given to anyone else.
        if !reaped {
            let _ = killpg(Pid::from_raw(self.pgid), Signal::SIGKILL);
        }
        if let Some(cg) = &self.cgroup {
            cg.kill();
        }
        tracing::warn!(
            pgid = self.pgid,
            "a run was abandoned before its end; killed its processes"
        );
        let pidfd = if reaped {
            None
        } else {
            self.process.pidfd.get_ref().try_clone().ok()
        };
        let (cgroup, run_dir, guardian, pgid) = (
            self.cgroup.take(),
            self.run_dir.take(),
            self.guardian.take(),
            self.pgid,
        );
        // Reaping blocks (briefly: SIGKILL): off the runtime.
        let _ = std::thread::Builder::new()
            .name("run-reaper".into())
            .spawn(move || {
                use nix::sys::wait::{Id, WaitPidFlag, waitid};
                use std::os::fd::AsFd;
                if let Some(fd) = &pidfd {
                    let _ = waitid(Id::PIDFd(fd.as_fd()), WaitPidFlag::WEXITED);
                }
                if let Some(cg) = cgroup {
                    for _ in 0..400 {
                        if !cg.populated() {
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    cg.try_remove();
                }
                if let Some(dir) = run_dir {
                    super::sandbox::remove_run_dir(&dir);
                }
                if let Some(g) = guardian {
                    g.ended(pgid);
                }
            });
    }
}
