//! What the figures came from: the machine (cores, CPU model, kernel, memory, OS) and the
//! cluster (build profile of the running workers, how many, cgroups or not).

use serde::Serialize;
use std::fs;

#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    pub nproc: usize,
    pub cpu_model: String,
    pub kernel: String,
    pub memory_gib: f64,
    pub os: String,
    /// The 1-minute load average when the benchmark started.
    pub load_at_start: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Cluster {
    pub url: String,
    /// `release` or `debug`: as told, else read from the workers' executables.
    pub profile: String,
    pub workers: usize,
    /// Whether the workers run jobs in their own cgroup (their `/healthz`); null if unknown.
    pub cgroups: Option<bool>,
}

impl Machine {
    pub fn probe() -> Machine {
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                (k.trim() == "model name").then(|| v.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        let meminfo = fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let mem_kib: f64 = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0);
        let os = fs::read_to_string("/etc/os-release")
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("PRETTY_NAME="))
            .map(|v| v.trim_matches('"').to_string())
            .unwrap_or_else(|| "unknown".into());
        let load_at_start = fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|l| l.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0);
        Machine {
            nproc: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model,
            kernel: fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| "unknown".into()),
            memory_gib: (mem_kib / 1024.0 / 1024.0 * 10.0).round() / 10.0,
            os,
            load_at_start,
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "{} cores ({}), {} GiB RAM, Linux {}, {}",
            self.nproc, self.cpu_model, self.memory_gib, self.kernel, self.os
        )
    }
}
