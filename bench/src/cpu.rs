//! CPU time accounting, to tell where a burst's time goes: the workers' own threads (the
//! scheduler side: claims, forks, pipes, cgroups, supervision), their reaped children (the
//! job processes, from fork to exit), and MySQL; and for the floor, the spawning loop and its
//! children. Read from /proc/<pid>/stat (utime, stime, cutime, cstime) of processes on this
//! machine, found by the TCP port they listen on.

use serde::Serialize;
use std::collections::HashSet;
use std::fs;

/// Clock ticks of /proc/<pid>/stat: USER_HZ, 100 on every Linux we know of.
const TICK_MS: f64 = 10.0;

/// CPU used by a set of processes between two snapshots, in milliseconds.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct CpuUse {
    /// The processes' own threads.
    pub own_ms: f64,
    /// Their children, counted once reaped (for the workers: the job processes).
    pub children_ms: f64,
}

/// (own, children) ticks of one process.
fn ticks(pid: u32) -> Option<(u64, u64)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which may hold spaces: `... ) S ppid ...`.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // rest[0] is field 3 (state): utime is field 14, so rest[11].
    Some((f.get(11)? + f.get(12)?, f.get(13)? + f.get(14)?))
}

/// A snapshot of the CPU time of some processes.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    per_pid: Vec<(u32, u64, u64)>,
}

impl Snapshot {
    pub fn take(pids: &[u32]) -> Snapshot {
        Snapshot {
            per_pid: pids
                .iter()
                .filter_map(|&p| ticks(p).map(|(o, c)| (p, o, c)))
                .collect(),
        }
    }

    /// What the same processes used since `self` (processes gone since are left out).
    pub fn since(&self, later: &Snapshot) -> CpuUse {
        let mut u = CpuUse::default();
        for &(pid, o0, c0) in &self.per_pid {
            if let Some(&(_, o1, c1)) = later.per_pid.iter().find(|(p, _, _)| *p == pid) {
                u.own_ms += o1.saturating_sub(o0) as f64 * TICK_MS;
                u.children_ms += c1.saturating_sub(c0) as f64 * TICK_MS;
            }
        }
        u
    }
}

/// The pids of the processes listening on these TCP ports of this machine (IPv4 and IPv6).
pub fn pids_listening_on(ports: &[u16]) -> Vec<u32> {
    let mut inodes = HashSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // local_address is "HEXIP:HEXPORT"; st 0A is LISTEN; inode is field 9.
            let (Some(local), Some(st), Some(inode)) = (f.get(1), f.get(3), f.get(9)) else {
                continue;
            };
            let port = local
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            if *st == "0A" && port.is_some_and(|p| ports.contains(&p)) {
                inodes.insert(format!("socket:[{inode}]"));
            }
        }
    }
    let mut pids = Vec::new();
    let Ok(procs) = fs::read_dir("/proc") else {
        return pids;
    };
    for p in procs.flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(fds) = fs::read_dir(p.path().join("fd")) else {
            continue;
        };
        let listens = fds.flatten().any(|fd| {
            fs::read_link(fd.path())
                .ok()
                .is_some_and(|l| inodes.contains(l.to_string_lossy().as_ref()))
        });
        if listens {
            pids.push(pid);
        }
    }
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// The port of an `http://host:port` address.
pub fn port_of(addr: &str) -> Option<u16> {
    addr.trim_end_matches('/').rsplit(':').next()?.parse().ok()
}

/// The build profile of these processes, from their executables' paths
/// (`.../release/distcron-worker`): `release`, `debug`, or `mixed`.
pub fn profile_of(pids: &[u32]) -> Option<String> {
    let mut found: Option<String> = None;
    for pid in pids {
        let exe = fs::read_link(format!("/proc/{pid}/exe")).ok()?;
        let exe = exe.to_string_lossy().into_owned();
        let profile = exe.rsplit('/').nth(1).unwrap_or_default().to_string();
        match &found {
            None => found = Some(profile),
            Some(p) if *p != profile => return Some("mixed".into()),
            Some(_) => {}
        }
    }
    found
}

/// The CPU time this process and its reaped children used so far (getrusage).
pub fn own_and_children() -> CpuUse {
    use nix::sys::resource::{UsageWho, getrusage};
    let ms = |u: nix::sys::resource::Usage| {
        let t = |tv: nix::sys::time::TimeVal| tv.tv_sec() as f64 * 1e3 + tv.tv_usec() as f64 / 1e3;
        t(u.user_time()) + t(u.system_time())
    };
    CpuUse {
        own_ms: getrusage(UsageWho::RUSAGE_SELF).map_or(0.0, ms),
        children_ms: getrusage(UsageWho::RUSAGE_CHILDREN).map_or(0.0, ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_stat_parses() {
        let me = std::process::id();
        assert!(ticks(me).is_some());
        assert_eq!(port_of("http://127.0.0.1:30201"), Some(30201));
        assert_eq!(port_of("http://127.0.0.1:30201/"), Some(30201));
    }
}
