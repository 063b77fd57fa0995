//! Following a run's output as a client does: `GET /runs/{id}/log?follow=true`, read as
//! Server-Sent Events, each event stamped with the moment it arrived.

use crate::ApiClient;
use crate::client::Answer;
use eventsource_stream::Eventsource;
use futures::{Stream, StreamExt};
use serde_json::Value;
use std::pin::Pin;
use std::time::Duration;

/// One event as it arrived.
#[derive(Debug, Clone)]
pub struct Followed {
    /// `output`, `end` or `error`.
    pub event: String,
    pub id: String,
    pub data: Value,
    /// When it arrived, in seconds since the epoch.
    pub at: f64,
}

type Events = Pin<Box<dyn Stream<Item = Result<eventsource_stream::Event, String>> + Send>>;

pub struct Follower {
    events: Events,
}

impl ApiClient {
    /// Starts following `path` (with `headers`, say `Last-Event-ID`); an answer that is not a
    /// stream (a 404, say) comes back as it is.
    pub async fn follow(&self, path: &str, headers: &[(&str, &str)]) -> Result<Follower, Answer> {
        // No overall timeout: a follow lasts as long as the run.
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .expect("HTTP client");
        let mut req = http.get(format!("{}{path}", self.base));
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("follow request");
        let is_stream = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if !resp.status().is_success() || !is_stream {
            let status = resp.status();
            let headers = resp.headers().clone();
            let bytes = resp.bytes().await.unwrap_or_default();
            return Err(Answer {
                status,
                body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
                headers,
            });
        }
        let events = resp
            .bytes_stream()
            .eventsource()
            .map(|e| e.map_err(|e| e.to_string()));
        Ok(Follower {
            events: Box::pin(events),
        })
    }
}

impl Follower {
    /// The next event, or `None` once the stream ends or `timeout` passes without one.
    pub async fn next(&mut self, timeout: Duration) -> Option<Followed> {
        let e = tokio::time::timeout(timeout, self.events.next())
            .await
            .ok()??
            .expect("a well-formed event stream");
        Some(Followed {
            at: crate::epoch_now(),
            data: serde_json::from_str(&e.data).unwrap_or(Value::String(e.data)),
            event: e.event,
            id: e.id,
        })
    }

    /// Every event until the stream ends (at most `timeout` in all).
    pub async fn all(&mut self, timeout: Duration) -> Vec<Followed> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut all = Vec::new();
        while let Some(e) = self
            .next(deadline.saturating_duration_since(tokio::time::Instant::now()))
            .await
        {
            all.push(e);
        }
        all
    }
}
