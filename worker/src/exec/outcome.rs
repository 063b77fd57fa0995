//! How a run ended, in words: its status and the reason recorded with it.

use super::{Stop, limits};
use chrono::SecondsFormat;
use distcron_core::{Resources, RunStatus};
use nix::sys::signal::Signal;
use std::process::ExitStatus;
use std::time::Duration;

/// The status and reason of a run from why it was stopped (if it was: `Err` is its timeout)
/// and its exit status.
pub fn of(
    why: Option<Result<Stop, Duration>>,
    status: &std::io::Result<ExitStatus>,
) -> (RunStatus, Option<String>) {
    use std::os::unix::process::ExitStatusExt;
    match (why, status) {
        (Some(Err(t)), _) => (
            RunStatus::TimedOut,
            Some(format!(
                "timed out after {} s; its process tree was killed",
                t.as_secs()
            )),
        ),
        (Some(Ok(Stop::Replaced(next))), _) => (
            RunStatus::Killed,
            Some(format!(
                "replaced by the run for {}",
                next.to_rfc3339_opts(SecondsFormat::Secs, true)
            )),
        ),
        (Some(Ok(Stop::Fenced)), _) => (
            RunStatus::Interrupted,
            Some("stopped: the worker lost contact with ZooKeeper and MySQL".into()),
        ),
        (Some(Ok(Stop::Shutdown)), _) => (
            RunStatus::Interrupted,
            Some("stopped: the worker shut down before the run ended".into()),
        ),
        (Some(Ok(Stop::Requested(reason))), _) => (RunStatus::Killed, Some(reason)),
        (None, Err(e)) => (
            RunStatus::Failed,
            Some(format!("lost track of the process: {e}")),
        ),
        (None, Ok(s)) => match (s.code(), s.signal()) {
            (Some(0), _) => (RunStatus::Succeeded, None),
            (Some(code), _) => (RunStatus::Failed, Some(format!("exit code {code}"))),
            (None, Some(sig)) => (
                RunStatus::Failed,
                Some(format!("killed by signal {}", signal_name(sig))),
            ),
            (None, None) => (RunStatus::Failed, Some("ended without an exit code".into())),
        },
    }
}

/// A run that failed after the kernel enforced its bounds says so.
pub fn explain(
    status: RunStatus,
    reason: Option<String>,
    happened: &limits::Counters,
    bounds: &Resources,
) -> (RunStatus, Option<String>) {
    if status == RunStatus::Succeeded {
        return (status, reason);
    }
    let mut reason = reason;
    if happened.oom_kills > 0 && status == RunStatus::Failed {
        let mb = bounds.memory_mb.unwrap_or_default();
        reason = Some(format!(
            "killed by its memory limit: it needed more than {mb} MiB (memory_mb); {}",
            reason.unwrap_or_default()
        ));
    }
    if happened.pids_refused > 0 {
        let n = bounds.max_processes.unwrap_or_default();
        let note = format!(
            "{} forks were refused at its process limit of {n} (max_processes)",
            happened.pids_refused
        );
        reason = Some(match reason {
            Some(r) => format!("{r}; {note}"),
            None => note,
        });
    }
    (status, reason)
}

fn signal_name(sig: i32) -> String {
    Signal::try_from(sig)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| sig.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_run_names_the_bound_the_kernel_enforced() {
        let bounds = Resources {
            memory_mb: Some(64),
            max_processes: Some(10),
            ..Default::default()
        };
        let oom = limits::Counters {
            oom_kills: 1,
            pids_refused: 0,
        };
        let (status, reason) = explain(
            RunStatus::Failed,
            Some("killed by signal SIGKILL".into()),
            &oom,
            &bounds,
        );
        assert_eq!(status, RunStatus::Failed);
        assert_eq!(
            reason.as_deref(),
            Some(
                "killed by its memory limit: it needed more than 64 MiB (memory_mb); killed by signal SIGKILL"
            )
        );
        let forks = limits::Counters {
            oom_kills: 0,
            pids_refused: 7,
        };
        let (_, reason) = explain(
            RunStatus::TimedOut,
            Some("timed out after 5 s".into()),
            &forks,
            &bounds,
        );
        assert_eq!(
            reason.as_deref(),
            Some(
                "timed out after 5 s; 7 forks were refused at its process limit of 10 (max_processes)"
            )
        );
        let (status, reason) = explain(RunStatus::Succeeded, None, &forks, &bounds);
        assert_eq!((status, reason), (RunStatus::Succeeded, None));
    }
}
