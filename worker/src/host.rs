//! The host, before and at start: what must exist before the process starts any thread (the
//! runs' cgroup, the guardian), the descriptors and limits the worker runs with, and its work
//! directory.

use crate::exec::cgroup::CgroupRoot;
use crate::guardian::Guardian;
use crate::{CgroupMode, Settings};
use anyhow::Context;

/// What must exist before the process starts any thread: the runs' cgroup and the guardian
/// (a fork).
pub struct Prepared {
    pub cgroups: Option<CgroupRoot>,
    pub guardian: Option<Guardian>,
}

/// Call from `main` before the async runtime starts.
pub fn prepare(settings: &Settings) -> anyhow::Result<Prepared> {
    close_inherited_descriptors();
    raise_open_files_limit();
    let cgroups = match settings.cgroups {
        CgroupMode::Off => None,
        CgroupMode::Auto => {
            let name = format!(
                "{}.{}",
                settings
                    .zookeeper
                    .chroot
                    .trim_matches('/')
                    .replace('/', "_"),
                settings.worker_id
            );
            match CgroupRoot::prepare(&name) {
                Ok(root) => Some(root),
                Err(why) => {
                    tracing::warn!(%why, "no cgroup v2 for runs: a job that leaves its process group with setsid survives its timeout");
                    None
                }
            }
        }
    };
    let guardian = Guardian::spawn(
        settings.fence_after(),
        cgroups.as_ref().map(|c| c.dir().to_path_buf()),
    )
    .context("starting the run guardian")?;
    Ok(Prepared {
        cgroups,
        guardian: Some(guardian),
    })
}

/// The work directory: others may pass through it (to a per-run directory of their own, where
/// runs have no private /tmp) but not list it; the executable cache inside is root's alone.
pub(crate) fn prepare_work_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for d in [dir.to_path_buf(), dir.join("runs")] {
        std::fs::create_dir_all(&d)
            .and_then(|()| std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o711)))
            .with_context(|| format!("preparing the work directory {}", d.display()))?;
    }
    Ok(())
}

/// Marks every descriptor the worker inherited (beyond stdio) close-on-exec, so that no run
/// can get one, whatever started the worker. (Runs also mark every descriptor but stdio
/// close-on-exec before they exec; this covers the guardian and kernels without close_range.)
fn close_inherited_descriptors() {
    use nix::fcntl::{FcntlArg, FdFlag, fcntl};
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<i32> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd > 2)
        .collect();
    for fd in fds {
        // SAFETY: only the flag changes; an fd that vanished meanwhile just fails.
        #[allow(unsafe_code)]
        let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        let _ = fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC));
    }
}

/// Each run holds two pipes: allow thousands at once.
fn raise_open_files_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE)
        && soft < hard
        && let Err(e) = setrlimit(Resource::RLIMIT_NOFILE, hard, hard)
    {
        tracing::warn!(error = %e, soft, "cannot raise the open files limit");
    }
}
