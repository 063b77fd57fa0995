//! Live-output latency: a run prints the time (`date +%s.%N`) every 100 ms, `n` lines, and a
//! follower of its log (`GET /runs/{id}/log?follow=true`, through HAProxy) notes when each
//! line arrives; the worker and the follower share this machine's clock.

use crate::api::Api;
use anyhow::{Context, bail};
use eventsource_stream::Eventsource;
use futures::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;

/// Each line's lag, in nanoseconds.
pub async fn lags(api: &Api, name: &str, n: usize) -> anyhow::Result<Vec<i64>> {
    let (status, job) = api
        .call(
            Method::POST,
            "/jobs",
            Some(&json!({
                "type": "command", "name": format!("{name}-output"), "schedule": "0 0 1 1 *",
                "executable": format!("for i in $(seq {n}); do date +%s.%N; sleep 0.1; done"),
            })),
        )
        .await?;
    if status != StatusCode::CREATED {
        bail!("creating the live-output job answered {status}: {job}");
    }
    let id = job["id"].as_str().context("the job's id")?.to_string();
    let result = follow(api, &id, n).await;
    let _ = api.delete_job(&id).await;
    result
}

async fn follow(api: &Api, job: &str, n: usize) -> anyhow::Result<Vec<i64>> {
    let (status, run) = api
        .call(
            Method::POST,
            &format!("/jobs/{job}/trigger"),
            Some(&json!({})),
        )
        .await?;
    if status != StatusCode::ACCEPTED {
        bail!("the live-output trigger answered {status}: {run}");
    }
    let run = run["id"].as_str().context("the run's id")?.to_string();
    let mut events = api
        .stream(&format!("/runs/{run}/log?follow=true"))
        .await?
        .bytes_stream()
        .eventsource();
    let mut lags = Vec::with_capacity(n);
    let deadline = Duration::from_secs(30) + Duration::from_millis(150) * n as u32;
    let read = async {
        while let Some(event) = events.next().await {
            let event = event.context("reading the log's events")?;
            let now = chrono::Utc::now();
            match event.event.as_str() {
                "output" => {
                    let chunk: Value = serde_json::from_str(&event.data)?;
                    for line in chunk["text"].as_str().unwrap_or("").lines() {
                        let printed: f64 = line.parse().context("a printed time")?;
                        let printed_ns = (printed * 1e9) as i64;
                        let now_ns = now.timestamp_nanos_opt().unwrap_or(i64::MAX);
                        lags.push(now_ns - printed_ns);
                    }
                }
                "end" => return Ok(()),
                other => bail!("the log stream sent `{other}`: {}", event.data),
            }
        }
        bail!("the log stream closed before the run's end")
    };
    tokio::time::timeout(deadline, read)
        .await
        .context("the live-output run did not end in time")??;
    if lags.len() != n {
        bail!("the follower saw {} lines of {n}", lags.len());
    }
    Ok(lags)
}
