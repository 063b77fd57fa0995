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

/// What in `events` the OpenAPI document `doc` does not describe, as schemathesis reads it: each
/// event as `{event, data, id}` against the `text/event-stream` schema of `GET /runs/{id}/log`,
/// and its `data`, parsed, against the `contentSchema` of its kind of event.
pub fn undescribed(doc: &Value, events: &[Followed]) -> Vec<String> {
    let content = &doc["paths"]["/runs/{id}/log"]["get"]["responses"]["200"]["content"];
    let with_components = |schema: &Value| {
        let mut schema = schema.clone();
        schema["components"] = doc["components"].clone();
        jsonschema::draft202012::new(&schema).expect("the document's schema compiles")
    };
    let resolve = |schema: &Value| match schema["$ref"].as_str() {
        Some(r) => doc
            .pointer(r.trim_start_matches('#'))
            .cloned()
            .unwrap_or(Value::Null),
        None => schema.clone(),
    };
    let stream = resolve(&content["text/event-stream"]["schema"]);
    let whole = with_components(&stream);
    let mut problems = Vec::new();
    for e in events {
        let mut event = serde_json::json!({"event": e.event, "data": e.data.to_string()});
        if !e.id.is_empty() {
            event["id"] = Value::String(e.id.clone());
        }
        if let Err(err) = whole.validate(&event) {
            problems.push(format!("{event}: {err}"));
            continue;
        }
        let kind = stream["oneOf"].as_array().into_iter().flatten().find(|k| {
            k["properties"]["event"]["enum"]
                .as_array()
                .is_some_and(|names| names.contains(&Value::String(e.event.clone())))
        });
        match kind.map(|k| &k["properties"]["data"]["contentSchema"]) {
            Some(data) if data.is_object() => {
                if let Err(err) = with_components(data).validate(&e.data) {
                    problems.push(format!("{} data {}: {err}", e.event, e.data));
                }
            }
            _ => problems.push(format!("no schema for the data of `{}` events", e.event)),
        }
    }
    problems
}
