//! Control latencies, measured on one job run by hand `n` times: how long a run asked for
//! now (`POST /jobs/{id}/trigger`) takes to start its process, seen by the process itself,
//! and how long a kill (`POST /runs/{id}/kill`) takes from its request to the moment no
//! process of the run is left (the run's shell and a child it put in the background, watched
//! in `/proc`). One at a time, so each figure is the path's own, not a queue's. Then live
//! output: one run prints its clock every 100 ms, `n` lines, and a follower of
//! `GET /runs/{id}/log?follow=true` notes when each line arrives.

use crate::api::Api;
use crate::stats::{Summary, summarize};
use anyhow::{Context, bail};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

#[derive(Clone, Debug, Serialize)]
pub struct ControlResult {
    /// Trigger request sent → the run's process wrote its line.
    pub trigger: Option<Summary>,
    /// Kill request sent → neither of the run's processes is left.
    pub kill: Option<Summary>,
    /// A line printed by a run → read by a follower of its log.
    #[serde(default)]
    pub live_output: Option<Summary>,
    /// Why the live-output latency could not be measured (the others stand).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_output_error: Option<String>,
}

/// Polls `what` every millisecond until it gives a value, for `timeout` at most.
async fn poll<T>(timeout: Duration, mut what: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = what() {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Whether process `pid` is gone (or only a zombie waiting to be reaped).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

pub async fn measure(api: &Api, dir: &Path, name: &str, n: usize) -> anyhow::Result<ControlResult> {
    std::fs::create_dir_all(dir)?;
    let pids = dir.join("pids");
    std::fs::write(&pids, b"")?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o1777))?;
    std::fs::set_permissions(&pids, std::fs::Permissions::from_mode(0o666))?;
    let (status, job) = api
        .call(
            Method::POST,
            "/jobs",
            Some(&json!({
                "type": "command", "name": name, "schedule": "0 0 1 1 *",
                "executable": format!("sleep 600 & echo \"$$ $!\" >> {}; wait", pids.display()),
            })),
        )
        .await?;
    if status != StatusCode::CREATED {
        bail!("creating the control job answered {status}: {job}");
    }
    let id = job["id"].as_str().context("the job's id")?.to_string();
    let result = runs(api, &id, &pids, n).await;
    let _ = api.delete_job(&id).await;
    let mut result = result?;
    match crate::live_output::lags(api, name, n).await {
        Ok(lags) => result.live_output = summarize(lags),
        Err(e) => result.live_output_error = Some(format!("{e:#}")),
    }
    Ok(result)
}

async fn runs(api: &Api, job: &str, pids: &Path, n: usize) -> anyhow::Result<ControlResult> {
    let (mut triggers, mut kills) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        let asked = Instant::now();
        let (status, run) = api
            .call(
                Method::POST,
                &format!("/jobs/{job}/trigger"),
                Some(&json!({})),
            )
            .await?;
        if status != StatusCode::ACCEPTED {
            bail!("trigger {i} answered {status}: {run}");
        }
        let run = run["id"].as_str().context("the run's id")?.to_string();
        let line = poll(Duration::from_secs(10), || {
            let text = std::fs::read_to_string(pids).ok()?;
            text.lines().nth(i).map(str::to_string)
        })
        .await
        .with_context(|| format!("run {i} did not start within 10 s"))?;
        triggers.push(asked.elapsed().as_nanos() as i64);
        let procs: Vec<u32> = line
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect();
        let killing = Instant::now();
        let (status, body) = api
            .call(Method::POST, &format!("/runs/{run}/kill"), Some(&json!({})))
            .await?;
        if status != StatusCode::ACCEPTED {
            bail!("kill {i} answered {status}: {body}");
        }
        poll(Duration::from_secs(30), || {
            procs.iter().all(|p| gone(*p)).then_some(())
        })
        .await
        .with_context(|| format!("run {i}'s processes {procs:?} outlived its kill by 30 s"))?;
        kills.push(killing.elapsed().as_nanos() as i64);
    }
    Ok(ControlResult {
        trigger: summarize(triggers),
        kill: summarize(kills),
        live_output: None,
        live_output_error: None,
    })
}
