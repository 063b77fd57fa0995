//! `distcron logs RUN [-f]`: a run's output, stdout to stdout and stderr to stderr. Without
//! `-f` the pages of `GET /runs/{id}/log`; with `-f` its Server-Sent Events, live, resumed
//! with `Last-Event-ID` when the connection drops, until the `end` event: the run's outcome
//! goes to stderr and the exit code says whether it succeeded.

use super::Ctx;
use crate::client::{ApiError, seg};
use crate::output::print_json;
use anyhow::{Result, bail};
use clap::Args;
use eventsource_stream::Eventsource;
use futures::StreamExt;
use serde_json::Value;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The run's id.
    pub run: String,
    /// Follow the output live until the run ends; exit 0 if it succeeded, 1 otherwise.
    #[arg(short, long)]
    pub follow: bool,
}

/// Reconnections in a row without a new event before giving up.
const MAX_RETRIES: u32 = 10;

pub async fn run(ctx: &Ctx, a: LogsArgs) -> Result<ExitCode> {
    if a.follow {
        follow(ctx, &a.run).await
    } else {
        pages(ctx, &a.run).await?;
        Ok(ExitCode::SUCCESS)
    }
}

/// Every page of the output written so far.
async fn pages(ctx: &Ctx, run: &str) -> Result<()> {
    let path = format!("/runs/{}/log", seg(run));
    let mut after: Option<u64> = None;
    let mut all = Vec::new();
    loop {
        let mut q = vec![("limit", "1000".to_string())];
        if let Some(a) = after {
            q.push(("after", a.to_string()));
        }
        let page = ctx.client.get(&path, &q).await?;
        let chunks = page["chunks"].as_array().cloned().unwrap_or_default();
        if ctx.out.json() {
            all.extend(chunks);
        } else {
            chunks.iter().try_for_each(write_chunk)?;
        }
        match page["next_after"].as_u64() {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    if ctx.out.json() {
        print_json(&Value::Array(all));
    }
    Ok(())
}

async fn follow(ctx: &Ctx, run: &str) -> Result<ExitCode> {
    let path = format!("/runs/{}/log?follow=true", seg(run));
    let mut last_id: Option<String> = None;
    let mut retries = 0;
    // Connection failures are retried only once a stream has been opened: a first connection
    // that fails (a wrong URL, refused) is an error at once.
    let mut opened = false;
    loop {
        let headers: Vec<(&str, String)> = last_id
            .iter()
            .map(|id| ("last-event-id", id.clone()))
            .collect();
        match ctx.client.stream(&path, &headers).await {
            Ok(resp) if resp.status() == reqwest::StatusCode::NO_CONTENT => {
                // Resumed after the last chunk of a run that has ended: only its outcome is left.
                let run = ctx.client.get(&format!("/runs/{}", seg(run)), &[]).await?;
                return Ok(outcome(&run));
            }
            Ok(resp) => {
                opened = true;
                let mut events = resp.bytes_stream().eventsource();
                loop {
                    let Some(Ok(event)) = events.next().await else {
                        eprintln!(
                            "distcron: the stream was cut before the run's end; reconnecting"
                        );
                        break;
                    };
                    let data: Value = serde_json::from_str(&event.data).unwrap_or(Value::Null);
                    match event.event.as_str() {
                        "output" => {
                            write_chunk(&data)?;
                            last_id = Some(event.id);
                            retries = 0;
                        }
                        "end" => return Ok(outcome(&data)),
                        "error" => {
                            eprintln!(
                                "distcron: the stream stopped: {} ({}); reconnecting",
                                data["error"].as_str().unwrap_or("no reason given"),
                                data["code"].as_str().unwrap_or("no_code")
                            );
                            break;
                        }
                        _ => {}
                    }
                }
            }
            Err(e) if opened && retryable(&e) => eprintln!("distcron: {e}; reconnecting"),
            Err(e) => return Err(e.into()),
        }
        retries += 1;
        if retries > MAX_RETRIES {
            bail!("lost the output stream of run {run} {MAX_RETRIES} times in a row");
        }
        let backoff = Duration::from_millis(250 << retries.min(4));
        tokio::time::sleep(backoff).await;
    }
}

/// Worth trying again: no answer, or an API or leader that is unavailable for now.
fn retryable(e: &ApiError) -> bool {
    matches!(e.status(), None | Some(502..=504))
}

/// One chunk of output on its own stream.
fn write_chunk(chunk: &Value) -> Result<()> {
    let text = chunk["text"].as_str().unwrap_or("");
    let stderr = chunk["stream"] == "stderr";
    if stderr {
        let mut err = std::io::stderr().lock();
        err.write_all(text.as_bytes())?;
        err.flush()?;
    } else {
        crate::output::emit(text);
    }
    if chunk["truncated"] == true {
        let name = if stderr { "stderr" } else { "stdout" };
        eprintln!("distcron: the rest of this run's {name} was dropped (its output limit)");
    }
    Ok(())
}

/// The run's end on stderr; success only if it succeeded.
fn outcome(run: &Value) -> ExitCode {
    let status = run["status"].as_str().unwrap_or("unknown");
    let mut line = format!("run {} {status}", run["id"].as_str().unwrap_or("?"));
    if let Some(code) = run["exit_code"].as_i64() {
        line.push_str(&format!(", exit code {code}"));
    }
    if let Some(signal) = run["signal"].as_i64() {
        line.push_str(&format!(", signal {signal}"));
    }
    if let Some(reason) = run["reason"].as_str() {
        line.push_str(&format!(": {reason}"));
    }
    eprintln!("{line}");
    if status == "succeeded" {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
