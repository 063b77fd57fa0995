//! The floor: how fast this machine can start the benchmark's command at all. The same
//! `/bin/sh -c 'date +%s.%N >> <file>'` is spawned N times from a tight loop, as `nobody`, in
//! its own process group, with a cleared environment, without waiting between spawns, with the
//! fastest primitive there is for that — the worker's own `clone(CLONE_VM | CLONE_VFORK)`
//! spawner, which copies no address space — and the children are reaped after the loop. Each
//! process's `date` minus the loop's start is the floor's "lag": no scheduler starting N
//! processes at one instant can do better.

use crate::cpu::{self, CpuUse};
use crate::stats::{Summary, summarize};
use crate::witness::{floor_file, parse_lines};
use anyhow::Context;
use distcron_spawn::{Request, spawn};
use serde::Serialize;
use std::ffi::CString;
use std::os::fd::AsFd;
use std::path::Path;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

#[derive(Clone, Debug, Serialize)]
pub struct Floor {
    pub processes: usize,
    /// Each process's start (its `date`) minus the loop's start.
    pub lag: Summary,
    /// How long the spawn loop itself took.
    pub spawn_loop_ms: f64,
    /// From the end of the loop until every child was reaped.
    pub reap_ms: f64,
    /// Whether the children ran as `nobody` (only when the benchmark runs as root).
    pub as_nobody: bool,
    /// How many processes wrote nothing (should be 0).
    pub silent: usize,
    /// CPU time per process: of the benchmark process (the loop and the reaping), and of the
    /// processes themselves (from fork to exit).
    pub cpu_per_process: CpuUse,
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// The environment a worker gives a run, as the floor's processes get it.
fn run_env() -> anyhow::Result<Vec<CString>> {
    let env: [(&str, &str); 7] = [
        (
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        ),
        ("HOME", "/nonexistent"),
        ("USER", "nobody"),
        ("LOGNAME", "nobody"),
        ("SHELL", "/bin/sh"),
        ("LANG", "C.UTF-8"),
        ("TZ", "UTC"),
    ];
    env.iter()
        .map(|(k, v)| {
            CString::new(format!("{k}={v}")).context("a NUL byte in the floor's environment")
        })
        .collect()
}

/// Each process's lag (its file's first line minus `t0`), and how many wrote nothing; the
/// files are removed.
fn first_lines(dir: &Path, n: usize, t0: i64) -> anyhow::Result<(Vec<i64>, usize)> {
    let mut lags = Vec::with_capacity(n);
    let mut silent = 0;
    for i in 0..n {
        let lines = std::fs::read_to_string(floor_file(dir, i))
            .ok()
            .map(|t| parse_lines(&t))
            .transpose()?
            .unwrap_or_default();
        match lines.first() {
            Some(&at) => lags.push(at - t0),
            None => silent += 1,
        }
    }
    for i in 0..n {
        let _ = std::fs::remove_file(floor_file(dir, i));
    }
    Ok((lags, silent))
}

/// Runs the floor: blocking, call it from a blocking thread.
pub fn run(n: usize, dir: &Path) -> anyhow::Result<Floor> {
    let nobody = nix::unistd::User::from_name("nobody")
        .ok()
        .flatten()
        .filter(|_| nix::unistd::geteuid().is_root());
    let cstr = |s: &str| CString::new(s).context("a NUL byte in the floor's command");
    let env = run_env()?;
    let commands: Vec<Vec<CString>> = (0..n)
        .map(|i| {
            Ok(vec![
                cstr("/bin/sh")?,
                cstr("-c")?,
                cstr(&format!("date +%s.%N >> {}", floor_file(dir, i).display()))?,
            ])
        })
        .collect::<anyhow::Result<_>>()?;
    let program = cstr("/bin/sh")?;
    let cwd = cstr("/tmp")?;
    let devnull = std::fs::File::options()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    let user = nobody.as_ref().map(|u| (u.uid.as_raw(), u.gid.as_raw()));
    let mut children = Vec::with_capacity(n);
    let cpu0 = cpu::own_and_children();
    let t0 = now_ns();
    let loop_start = Instant::now();
    let mut failure = None;
    for args in &commands {
        let request = Request {
            program: &program,
            args,
            env: &env,
            cwd: &cwd,
            user,
            cgroup_procs: &[],
            stdin: devnull.as_fd(),
            stdout: devnull.as_fd(),
            stderr: devnull.as_fd(),
            sandbox: None,
        };
        match spawn(&request) {
            Ok(child) => children.push(child),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let spawn_loop = loop_start.elapsed();
    let reap_start = Instant::now();
    for c in children {
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(c.pid), None);
    }
    let reap = reap_start.elapsed();
    let cpu1 = cpu::own_and_children();
    if let Some(e) = failure {
        return Err(e).context("spawning the floor's processes");
    }
    let (lags, silent) = first_lines(dir, n, t0)?;
    Ok(Floor {
        processes: n,
        lag: summarize(lags).unwrap_or_default(),
        spawn_loop_ms: spawn_loop.as_secs_f64() * 1e3,
        reap_ms: reap.as_secs_f64() * 1e3,
        as_nobody: nobody.is_some(),
        silent,
        cpu_per_process: CpuUse {
            own_ms: (cpu1.own_ms - cpu0.own_ms) / n as f64,
            children_ms: (cpu1.children_ms - cpu0.children_ms) / n as f64,
        },
    })
}
