//! Who a run runs as: root for a privileged job, the named local account for `run_as` (both
//! admins only), and otherwise its owner's own uid, which the task carries: runs of different
//! owners never share a uid, so the kernel keeps them apart. An owner's uid has no account in
//! `/etc/passwd`: its runs get the owner's name in the environment and no home but their
//! private `/tmp`.

use super::RunSpec;
use distcron_core::UidRange;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

/// The account a run executes as.
#[derive(Clone, Debug)]
pub struct RunUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
    /// Where runs start: the home directory if it exists, else /tmp.
    pub cwd: PathBuf,
    /// An owner's own uid (no local account): it gets a home of its own per run.
    pub owner_uid: bool,
}

impl RunUser {
    pub fn lookup(name: &str) -> Result<RunUser, String> {
        let user = nix::unistd::User::from_name(name)
            .map_err(|e| format!("cannot look up user `{name}`: {e}"))?
            .ok_or_else(|| format!("no user `{name}` on this worker"))?;
        let cwd = if user.dir.is_dir() {
            user.dir.clone()
        } else {
            PathBuf::from("/tmp")
        };
        Ok(RunUser {
            name: user.name,
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
            home: user.dir,
            cwd,
            owner_uid: false,
        })
    }

    /// An owner's runs: uid and gid the owner's own, home and working directory /tmp (the
    /// run's private one, or a per-run directory the executor puts there instead).
    fn owner(name: &str, uid: u32) -> RunUser {
        RunUser {
            name: name.to_string(),
            uid,
            gid: uid,
            home: PathBuf::from("/tmp"),
            cwd: PathBuf::from("/tmp"),
            owner_uid: true,
        }
    }
}

/// Resolves runs' accounts; local accounts are looked up once.
pub struct Accounts {
    uids: UidRange,
    local: Mutex<HashMap<String, RunUser>>,
}

impl Accounts {
    pub fn new(uids: UidRange) -> Accounts {
        Accounts {
            uids,
            local: Mutex::new(HashMap::new()),
        }
    }

    /// The account of a run, and whether the worker switches to it (a privileged run keeps
    /// the worker's own identity, root).
    pub fn of(&self, spec: &RunSpec) -> Result<(RunUser, bool), String> {
        let job = &spec.task.spec;
        if job.privileged {
            return Ok((self.local("root")?, false));
        }
        if let Some(name) = &job.run_as {
            return Ok((self.local(name)?, true));
        }
        let uid = spec.task.run_uid.ok_or(
            "the job's task carries no run uid for its owner (published by an older manager?): \
             not started, since it would share a uid with other owners' runs",
        )?;
        if !self.uids.contains(uid) {
            return Err(format!(
                "the owner's run uid {uid} is outside this worker's run_uids {}",
                self.uids
            ));
        }
        Ok((RunUser::owner(spec.task.owner.as_str(), uid), true))
    }

    /// The local account `name`, looked up once. A failed lookup is not kept: an account
    /// created later (or an NSS source that was briefly unavailable) works from the next run
    /// on.
    fn local(&self, name: &str) -> Result<RunUser, String> {
        let mut users = self.local.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(user) = users.get(name) {
            return Ok(user.clone());
        }
        let user = RunUser::lookup(name)?;
        users.insert(name.to_string(), user.clone());
        Ok(user)
    }
}
