//! A run's main process, awaited through its pidfd (no SIGCHLD handler, no pid reuse).

use std::os::fd::{AsFd, OwnedFd};
use tokio::io::unix::AsyncFd;

/// A child process, awaited through its pidfd.
pub(super) struct Process {
    pub(super) pidfd: AsyncFd<OwnedFd>,
    pub(super) status: Option<std::process::ExitStatus>,
}

impl Process {
    /// Waits for the process to exit and reaps it.
    pub(super) async fn wait(&mut self) -> std::io::Result<std::process::ExitStatus> {
        use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
        use std::os::unix::process::ExitStatusExt;
        if let Some(status) = self.status {
            return Ok(status);
        }
        loop {
            let mut ready = self.pidfd.readable().await?;
            let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG;
            match waitid(Id::PIDFd(self.pidfd.get_ref().as_fd()), flags) {
                Ok(WaitStatus::Exited(_, code)) => {
                    self.status = Some(std::process::ExitStatus::from_raw(code << 8));
                }
                Ok(WaitStatus::Signaled(_, signal, core)) => {
                    self.status = Some(std::process::ExitStatus::from_raw(
                        signal as i32 | if core { 0x80 } else { 0 },
                    ));
                }
                Ok(_) => {
                    ready.clear_ready();
                    continue;
                }
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
            return self
                .status
                .ok_or_else(|| std::io::Error::other("no exit status"));
        }
    }
}
