//! The run guardian: the runs of a worker killed with kill -9 end at once, and hold nothing of the
//! worker.

use distcron_e2e::checks::*;
use distcron_e2e::{ClusterOptions, TestCluster, eventually};
use serde_json::json;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The pipes a process holds open, by inode (`pipe:[N]`), with the fds that hold them.
fn pipes_of(pid: i32) -> HashMap<String, Vec<String>> {
    let mut pipes: HashMap<String, Vec<String>> = HashMap::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
    {
        if let Ok(target) = std::fs::read_link(entry.path()) {
            let target = target.display().to_string();
            if target.starts_with("pipe:") {
                pipes
                    .entry(target)
                    .or_default()
                    .push(entry.file_name().to_string_lossy().into_owned());
            }
        }
    }
    pipes
}

/// Whether a process runs (a zombie, dead but not yet reaped by whoever inherited it, does
/// not).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let (_, rest) = stat.split_once(") ")?;
            Some(!rest.starts_with('Z') && !rest.starts_with('X'))
        })
        .unwrap_or(false)
}

/// The run guardian of a worker: the child process forked from it, named like it.
fn guardian_of(worker: i32) -> i32 {
    std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .find(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            // pid (comm) state ppid ...
            let Some((comm, rest)) = stat.split_once(") ") else {
                return false;
            };
            comm.ends_with("(distcron-worker")
                && rest.split_whitespace().nth(1) == Some(worker.to_string().as_str())
        })
        .unwrap_or_else(|| panic!("no guardian process under worker {worker}"))
}

#[tokio::test]
async fn the_runs_of_a_killed_worker_end_at_once_and_hold_nothing_of_its_guardian() {
    // 10 s sessions: the fence, the guardian's backstop, is 2/3 of that.
    let mut cluster = TestCluster::start_with(ClusterOptions {
        workers: 1,
        session_timeout_ms: 10_000,
        ..Default::default()
    })
    .await;
    let admin = cluster.admin();
    let witness = cluster.witness("guardian");
    let long = id_of(
        &admin
            .create_job(&json!({"type": "command", "schedule": "@once", "executable": format!("{}; sleep 300", witness.command("long"))}))
            .await,
    );
    let run = each_runs_after(
        &witness,
        std::slice::from_ref(&long),
        0.0,
        "the long run to start",
        Duration::from_secs(20),
    )
    .await
    .remove(&long)
    .expect("the run");
    let worker = cluster.pid("worker-1").expect("worker-1 runs");
    let guardian = guardian_of(worker);
    // The guardian's end of its pipe from the worker (not counting what this test process
    // passed down to the worker): the run must not hold the other end.
    let ours = pipes_of(std::process::id() as i32);
    let control: Vec<String> = pipes_of(guardian)
        .into_keys()
        .filter(|p| !ours.contains_key(p))
        .collect();
    assert!(!control.is_empty(), "the guardian holds its pipe");
    let held: Vec<(String, Vec<String>)> = pipes_of(run.pid)
        .into_iter()
        .filter(|(pipe, _)| control.contains(pipe))
        .collect();

    // kill -9: the guardian sees its pipe close and ends the run at once.
    cluster.kill("worker-1");
    let killed = Instant::now();
    eventually(
        "the dead worker's run to end",
        Duration::from_secs(30),
        || {
            let gone = !alive(run.pid);
            async move { gone.then_some(()) }
        },
    )
    .await;
    let took = killed.elapsed();
    eprintln!("the run ended {took:?} after its worker was killed");
    assert!(
        held.is_empty(),
        "the run (pid {}) held the guardian's control pipe: {held:?}",
        run.pid
    );
    assert!(
        took < Duration::from_secs(2),
        "the run outlived its worker by {took:?}: the guardian waited for the fence"
    );
}
