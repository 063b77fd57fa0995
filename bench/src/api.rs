//! The few calls of distcron's REST API the benchmark makes: create and delete jobs (many at
//! once, with progress), list jobs (to find strays), and read the live workers and their job
//! counts.

use anyhow::{Context, bail};
use futures::StreamExt;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[derive(Clone)]
pub struct Api {
    base: String,
    token: String,
    http: reqwest::Client,
}

/// A live worker, as `GET /workers` shows it.
#[derive(Clone, Debug, Deserialize)]
pub struct Worker {
    pub id: String,
    #[serde(default)]
    pub addr: Option<String>,
    #[serde(default)]
    pub jobs: u64,
}

/// What `GET /jobs` says of a job (the fields we use).
#[derive(Clone, Debug, Deserialize)]
pub struct JobSummary {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
}

/// A job to create.
pub struct NewJob {
    pub name: String,
    pub schedule: String,
    pub executable: String,
}

impl Api {
    pub fn new(base: &str, token: String) -> anyhow::Result<Api> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(64)
            .build()
            .context("building the HTTP client")?;
        Ok(Api {
            base: base.trim_end_matches('/').to_string(),
            token,
            http,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let bytes = resp.bytes().await?;
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }

    /// A streaming `GET` (Server-Sent Events): the response, once its headers are in, with no
    /// overall timeout.
    pub(crate) async fn stream(&self, path: &str) -> anyhow::Result<reqwest::Response> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()?;
        let resp = http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await?;
        if resp.status() != StatusCode::OK {
            bail!("GET {path} answered {}", resp.status());
        }
        Ok(resp)
    }

    /// `GET /workers`: fails unless it answers 200.
    pub async fn workers(&self) -> anyhow::Result<Vec<Worker>> {
        let (status, body) = self.call(Method::GET, "/workers", None).await?;
        if status != StatusCode::OK {
            bail!("GET /workers answered {status}: {body}");
        }
        Ok(serde_json::from_value(body)?)
    }

    /// The sum of the job counts of the live workers.
    pub async fn assigned(&self) -> anyhow::Result<u64> {
        Ok(self.workers().await?.iter().map(|w| w.jobs).sum())
    }

    /// Whether a worker says it runs jobs in cgroups (its own `/healthz`).
    pub async fn worker_cgroups(&self, addr: &str) -> Option<bool> {
        let resp = self
            .http
            .get(format!("{}/healthz", addr.trim_end_matches('/')))
            .timeout(Duration::from_secs(3))
            .send()
            .await
            .ok()?;
        let body: Value = resp.json().await.ok()?;
        body["cgroups"].as_bool()
    }

    /// Every live worker's own `/healthz`; fails if a worker has no address or does not
    /// answer.
    pub async fn worker_health(&self) -> anyhow::Result<Vec<Value>> {
        let mut out = Vec::new();
        for w in self.workers().await? {
            let addr = w
                .addr
                .with_context(|| format!("worker {} has no address", w.id))?;
            let resp = self
                .http
                .get(format!("{}/healthz", addr.trim_end_matches('/')))
                .timeout(Duration::from_secs(3))
                .send()
                .await?;
            out.push(resp.json().await.unwrap_or(Value::Null));
        }
        Ok(out)
    }

    /// How many runs the live workers have in flight (their `/healthz`); `None` if a worker
    /// does not say.
    pub async fn running(&self) -> anyhow::Result<Option<u64>> {
        let Ok(health) = self.worker_health().await else {
            return Ok(None);
        };
        Ok(health.iter().map(|b| b["running"].as_u64()).sum())
    }

    /// `POST /jobs`. Retries a few times on transport errors and 5xx answers; a retried request
    /// that had in fact gone through leaves a stray job, which [`Api::stray_jobs`] finds by name.
    pub async fn create_job(&self, job: &NewJob) -> anyhow::Result<String> {
        let body = json!({
            "type": "command",
            "name": job.name,
            "schedule": job.schedule,
            "executable": job.executable,
        });
        let mut last = String::new();
        for attempt in 0..5u64 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
            }
            match self.call(Method::POST, "/jobs", Some(&body)).await {
                Ok((StatusCode::CREATED, v)) => {
                    return v["id"]
                        .as_str()
                        .map(str::to_string)
                        .context("POST /jobs answered without an id");
                }
                Ok((s, v)) if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS => {
                    last = format!("{s}: {v}");
                }
                Ok((s, v)) => bail!("POST /jobs answered {s}: {v}"),
                Err(e) => last = format!("{e:#}"),
            }
        }
        bail!("POST /jobs failed 5 times; last: {last}")
    }

    /// `DELETE /jobs/{id}`; a job already gone counts as deleted.
    pub async fn delete_job(&self, id: &str) -> anyhow::Result<()> {
        let mut last = String::new();
        for attempt in 0..5u64 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
            }
            match self
                .call(Method::DELETE, &format!("/jobs/{id}"), None)
                .await
            {
                Ok((s, _)) if s.is_success() || s == StatusCode::NOT_FOUND => return Ok(()),
                Ok((s, v)) if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS => {
                    last = format!("{s}: {v}");
                }
                Ok((s, v)) => bail!("DELETE /jobs/{id} answered {s}: {v}"),
                Err(e) => last = format!("{e:#}"),
            }
        }
        bail!("DELETE /jobs/{id} failed 5 times; last: {last}")
    }

    /// Every job on the schedule (status `scheduled` or `error`) whose name starts with
    /// `prefix`.
    pub async fn stray_jobs(&self, prefix: &str) -> anyhow::Result<Vec<JobSummary>> {
        let mut out = Vec::new();
        for status in ["scheduled", "error"] {
            let mut cursor: Option<String> = None;
            loop {
                let mut path = format!("/jobs?status={status}&limit=1000");
                if let Some(c) = &cursor {
                    path.push_str(&format!("&cursor={c}"));
                }
                let (s, body) = self.call(Method::GET, &path, None).await?;
                if s != StatusCode::OK {
                    bail!("GET {path} answered {s}: {body}");
                }
                let page: Vec<JobSummary> = serde_json::from_value(body)?;
                let full = page.len() == 1000;
                cursor = page.last().map(|j| j.id.clone());
                out.extend(
                    page.into_iter()
                        .filter(|j| j.name.as_deref().is_some_and(|n| n.starts_with(prefix))),
                );
                if !full {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Creates the jobs with `concurrency` requests in flight, printing a line every 1,000.
    /// Returns the ids in the order of `jobs`.
    pub async fn create_all(
        &self,
        jobs: Vec<NewJob>,
        concurrency: usize,
    ) -> anyhow::Result<Vec<String>> {
        let total = jobs.len();
        let done = Arc::new(AtomicUsize::new(0));
        let t0 = Instant::now();
        let results: Vec<(usize, anyhow::Result<String>)> =
            futures::stream::iter(jobs.into_iter().enumerate())
                .map(|(i, job)| {
                    let done = done.clone();
                    async move {
                        let r = self.create_job(&job).await;
                        progress("created", &done, total, t0);
                        (i, r)
                    }
                })
                .buffer_unordered(concurrency)
                .collect()
                .await;
        let mut ids = vec![String::new(); total];
        let mut errors = Vec::new();
        for (i, r) in results {
            match r {
                Ok(id) => ids[i] = id,
                Err(e) => errors.push(format!("{e:#}")),
            }
        }
        if !errors.is_empty() {
            // Do not leave what was created on the schedule.
            let created: Vec<String> = ids.into_iter().filter(|id| !id.is_empty()).collect();
            let _ = self.delete_all(&created, concurrency).await;
            bail!(
                "{} of {total} jobs could not be created; first error: {}",
                errors.len(),
                errors[0]
            );
        }
        Ok(ids)
    }

    /// Deletes the jobs with `concurrency` requests in flight, printing a line every 1,000.
    pub async fn delete_all(&self, ids: &[String], concurrency: usize) -> anyhow::Result<()> {
        let total = ids.len();
        let done = Arc::new(AtomicUsize::new(0));
        let t0 = Instant::now();
        let errors: Vec<String> = futures::stream::iter(ids.iter())
            .map(|id| {
                let done = done.clone();
                async move {
                    let r = self.delete_job(id).await;
                    progress("deleted", &done, total, t0);
                    r.err().map(|e| format!("{e:#}"))
                }
            })
            .buffer_unordered(concurrency)
            .filter_map(|e| async move { e })
            .collect()
            .await;
        if let Some(first) = errors.first() {
            bail!(
                "{} of {total} jobs could not be deleted; first error: {first}",
                errors.len()
            );
        }
        Ok(())
    }
}

fn progress(what: &str, done: &AtomicUsize, total: usize, t0: Instant) {
    let n = done.fetch_add(1, Ordering::Relaxed) + 1;
    if n.is_multiple_of(1000) || n == total {
        let secs = t0.elapsed().as_secs_f64();
        eprintln!(
            "    {what} {n:>6} / {total} jobs ({:.0}/s)",
            n as f64 / secs.max(1e-3)
        );
    }
}
