//! The run guardian: a small process forked from the worker before it starts any thread. The
//! worker tells it, through a pipe, the process group of every run it starts and ends, and
//! pings it while it is in touch with ZooKeeper or MySQL. When the worker dies (the pipe
//! closes) or stops pinging for longer than the fence (it is paused, or cut off from both), the
//! guardian kills every run. So nothing a dead or fenced worker started keeps running while its
//! ticks are declared interrupted and retried elsewhere.

#![allow(unsafe_code)] // fork(2), before any thread exists

use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::{ForkResult, Pid, fork, pipe2, read, setsid};
use std::collections::HashSet;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The worker's handle on its guardian. Messages go through a dedicated thread, so a slow
/// guardian never blocks the runtime.
#[derive(Clone)]
pub struct Guardian {
    tx: mpsc::Sender<Message>,
    pid: i32,
}

enum Message {
    Started(i32),
    Ended(i32),
    Ping,
}

impl Guardian {
    /// Forks the guardian. Must be called before the process starts any thread.
    pub fn spawn(fence_after: Duration, cgroup_root: Option<PathBuf>) -> std::io::Result<Guardian> {
        // Close-on-exec: a job that inherited the write end would keep the pipe open after the
        // worker died, and the guardian would not notice.
        let (read_end, write_end) = pipe2(OFlag::O_CLOEXEC)?;
        // SAFETY: called from `main` before the runtime or any other thread exists, so the
        // child is a complete copy of a single-threaded process.
        match unsafe { fork() }? {
            ForkResult::Child => {
                drop(write_end);
                let code = guard(read_end, fence_after, cgroup_root);
                std::process::exit(code);
            }
            ForkResult::Parent { child } => {
                drop(read_end);
                let (tx, rx) = mpsc::channel::<Message>();
                let mut pipe = std::fs::File::from(write_end);
                std::thread::Builder::new().name("guardian-pipe".into()).spawn(move || {
                    while let Ok(first) = rx.recv() {
                        let mut batch = String::new();
                        for m in std::iter::once(first).chain(rx.try_iter()) {
                            match m {
                                Message::Started(p) => batch.push_str(&format!("+{p}\n")),
                                Message::Ended(p) => batch.push_str(&format!("-{p}\n")),
                                Message::Ping => batch.push_str("p\n"),
                            }
                        }
                        if pipe.write_all(batch.as_bytes()).is_err() {
                            eprintln!("distcron-worker: the run guardian is gone; runs are no longer fenced");
                            return;
                        }
                    }
                })?;
                Ok(Guardian {
                    tx,
                    pid: child.as_raw(),
                })
            }
        }
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    pub fn started(&self, pgid: i32) {
        let _ = self.tx.send(Message::Started(pgid));
    }

    pub fn ended(&self, pgid: i32) {
        let _ = self.tx.send(Message::Ended(pgid));
    }

    /// The worker is in touch: keep the runs alive.
    pub fn ping(&self) {
        let _ = self.tx.send(Message::Ping);
    }
}

/// Kills every run the guardian knows of, and everything in the runs' cgroups.
fn kill_all(groups: &mut HashSet<i32>, cgroup_root: Option<&PathBuf>, why: &str) {
    let mut killed = groups.len();
    for pgid in groups.drain() {
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
    }
    if let Some(root) = cgroup_root
        && let Ok(entries) = std::fs::read_dir(root)
    {
        for entry in entries.flatten() {
            if entry.path().is_dir()
                && std::fs::write(entry.path().join("cgroup.kill"), "1").is_ok()
            {
                killed += 1;
            }
        }
    }
    if killed > 0 {
        eprintln!("distcron-worker guardian: {why}: killed {killed} run(s)");
    }
}

fn guard(read_end: OwnedFd, fence_after: Duration, cgroup_root: Option<PathBuf>) -> i32 {
    // Its own session: a signal to the worker's process group (a terminal's ^Z, a test's
    // SIGSTOP) must not reach the guardian.
    let _ = setsid();
    let mut groups: HashSet<i32> = HashSet::new();
    let mut last_ping: Option<Instant> = None;
    let mut pending = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let timeout = match last_ping {
            Some(at) if !groups.is_empty() => {
                let left = fence_after.saturating_sub(at.elapsed());
                PollTimeout::try_from(left.as_millis().min(60_000) as i32 + 1)
                    .unwrap_or(PollTimeout::MAX)
            }
            _ => PollTimeout::NONE,
        };
        let mut fds = [PollFd::new(read_end.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, timeout) {
            Ok(0) => {
                // No ping within the fence: the worker is paused or cut off.
                if let Some(at) = last_ping
                    && at.elapsed() >= fence_after
                {
                    kill_all(
                        &mut groups,
                        cgroup_root.as_ref(),
                        "the worker stopped answering",
                    );
                    last_ping = None;
                }
                continue;
            }
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => {
                kill_all(
                    &mut groups,
                    cgroup_root.as_ref(),
                    "the worker's pipe failed",
                );
                return 1;
            }
        }
        let n = match read(read_end.as_fd(), &mut buf) {
            Ok(0) | Err(_) => {
                kill_all(&mut groups, cgroup_root.as_ref(), "the worker died");
                return 0;
            }
            Ok(n) => n,
        };
        pending.extend_from_slice(&buf[..n]);
        while let Some(pos) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=pos).collect();
            let line = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
            match line.as_bytes().first() {
                Some(b'p') => last_ping = Some(Instant::now()),
                Some(b'+') => {
                    if let Ok(p) = line[1..].parse() {
                        groups.insert(p);
                    }
                }
                Some(b'-') => {
                    if let Ok(p) = line[1..].parse::<i32>() {
                        groups.remove(&p);
                    }
                }
                _ => {}
            }
        }
    }
}
