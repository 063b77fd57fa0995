//! A run's output: `GET /runs/{id}/log` gives the chunks written so far (paged by sequence),
//! and with `follow=true` streams them as Server-Sent Events, from the start (or after
//! `after`, or the `Last-Event-ID` of a reconnecting client), then live as the worker writes
//! them, ending with an `end` event that carries the run as it ended.

use crate::auth::{Caller, bearer};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{PathParam, QueryParams};
use crate::openapi::events::LogEvent;
use crate::routes::params::page_limit;
use crate::routes::runs::visible_run;
use crate::state::AppState;
use crate::view::RunView;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use distcron_core::{OutputChunk, Run, RunId};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::time::Duration;
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// Stream the output as Server-Sent Events until the run ends.
    #[serde(default)]
    follow: bool,
    /// Only the chunks after this sequence number.
    after: Option<u32>,
    /// Chunks per page (without `follow`; default 100).
    #[param(minimum = 1, maximum = 1000, example = 100)]
    limit: Option<u32>,
}

/// A piece of a run's output.
#[derive(Serialize, ToSchema)]
pub struct ChunkView {
    /// Its place in the run's output: both streams share the sequence, from 0.
    pub seq: u32,
    #[schema(schema_with = stream_schema)]
    pub stream: &'static str,
    /// The chunk's bytes as UTF-8 (a byte that is not UTF-8 shows as U+FFFD).
    pub text: String,
    /// What the stream printed after this was dropped (the worker's per-run limit).
    pub truncated: bool,
}

impl From<&OutputChunk> for ChunkView {
    fn from(c: &OutputChunk) -> Self {
        ChunkView {
            seq: c.seq,
            stream: c.stream.as_str(),
            text: String::from_utf8_lossy(&c.data).into_owned(),
            truncated: c.truncated,
        }
    }
}

fn stream_schema() -> utoipa::openapi::Object {
    crate::openapi::string_enum(["stdout", "stderr"])
}

/// A page of a run's output.
#[derive(Serialize, ToSchema)]
pub struct LogPage {
    #[schema(format = Uuid)]
    pub run_id: String,
    #[schema(schema_with = crate::view::run_status_schema)]
    pub status: &'static str,
    pub chunks: Vec<ChunkView>,
    /// The run has ended and this page holds its last chunk: there is no more to come.
    pub complete: bool,
    /// `after` for the next page; null once there is nothing more so far.
    pub next_after: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/runs/{id}/log",
    tag = "runs",
    summary = "A run's output, or follow it live",
    description = "Without `follow`: the chunks written so far, a page at a time from `after`.         With `follow=true`: Server-Sent Events, every chunk from the start (or after `after`, or         a reconnecting client's `Last-Event-ID`) as an `output` event whose id is the chunk's         `seq`, then live (a line printed arrives within a second), then one `end` event holding         the run as it ended; an `error` event (`{error, code}`) ends it early (the token stopped         working, MySQL is unavailable, the server is shutting down).",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, format = Uuid, description = "The run's id"),
        ("Last-Event-ID" = Option<u32>, Header, description = "With `follow`: the last chunk the client has"),
        LogQuery,
    ),
    responses(
        (status = 200, description = "A page of chunks (JSON), or the event stream (`follow=true`)",
            content(
                (LogPage = "application/json"),
                (LogEvent = "text/event-stream"),
            )),
        (status = 204, description = "A follow resumed after the last chunk of a run that has ended: nothing more will come"),
        (status = 400, description = "`id` is not a run id, a query parameter or `Last-Event-ID` is invalid", body = ErrorBody),
        (status = 404, description = "No such run, or one of another user's jobs (to a non-admin)", body = ErrorBody),
        (status = 429, description = "The caller follows as many runs on this server as it may", body = ErrorBody),
        (status = 503, description = "This server has as many followers as it takes, or MySQL is unavailable", body = ErrorBody),
    ),
)]
pub async fn run_log(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    PathParam(id): PathParam<String>,
    QueryParams(q): QueryParams<LogQuery>,
) -> Result<Response, ApiError> {
    let run = visible_run(&state, &caller, &id).await?;
    if !q.follow {
        return Ok(Json(page(&state, run, q.after, page_limit(q.limit)?).await?).into_response());
    }
    if q.limit.is_some() {
        return Err(ApiError::bad_request(
            "invalid_query",
            "`limit` pages the log without `follow`; a follower gets every chunk",
        ));
    }
    let resume = match headers
        .get("last-event-id")
        .map(|v| v.to_str().map(str::trim))
    {
        None | Some(Ok("")) => None,
        Some(v) => Some(v.ok().and_then(|v| v.parse().ok()).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_header",
                "Last-Event-ID must be a chunk's sequence number",
            )
        })?),
    };
    let after = resume.max(q.after);
    // A client that reconnects to a run that has ended, with nothing after what it has, is
    // told to stop (an EventSource reconnects on every close, but not after a 204).
    if after.is_some()
        && run.status.is_final()
        && state
            .store
            .output_after(&run.id, after, 1)
            .await?
            .is_empty()
    {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let permit = crate::follows::Follows::admit(&state, &caller.0.name)?;
    let follow = Follow {
        token: bearer(&headers)?.to_owned(),
        run: run.id,
        after,
        events: VecDeque::new(),
        idle: 0,
        done: false,
        _permit: permit,
        state,
    };
    let stream = futures::stream::unfold(follow, |mut f| async move {
        f.next()
            .await
            .map(|e| (Ok::<_, std::convert::Infallible>(e), f))
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

/// A page of the log. The run is read before its chunks: the chunks of a run that had ended
/// are all written by then (its outcome carries the last of them), so `complete` is true.
async fn page(
    state: &AppState,
    run: Run,
    after: Option<u32>,
    limit: u32,
) -> Result<LogPage, ApiError> {
    let chunks = state.store.output_after(&run.id, after, limit + 1).await?;
    let more = chunks.len() > limit as usize;
    let chunks: Vec<ChunkView> = chunks
        .iter()
        .take(limit as usize)
        .map(ChunkView::from)
        .collect();
    Ok(LogPage {
        run_id: run.id.to_string(),
        status: run.shown_status(),
        complete: run.status.is_final() && !more,
        next_after: more.then(|| chunks.last().map(|c| c.seq)).flatten(),
        chunks,
    })
}

/// Chunks read per query while following.
const FOLLOW_BATCH: u32 = 100;
/// After this many looks in a row found nothing new (5 s at the default 200 ms), a follower
/// looks `IDLE_SLOWDOWN` times less often: a quiet run costs MySQL less, and a line it prints
/// still arrives within a second.
const IDLE_LOOKS: u32 = 25;
const IDLE_SLOWDOWN: u32 = 3;

/// One follower: polls the run and its chunks every `log_poll`, for as long as the caller's
/// token stays good (a disabled user's follow stops as its other requests do) and the server
/// is not shutting down.
struct Follow {
    state: AppState,
    token: String,
    run: RunId,
    after: Option<u32>,
    events: VecDeque<Event>,
    /// Looks in a row that found nothing new: after `IDLE_LOOKS`, they come less often.
    idle: u32,
    done: bool,
    _permit: crate::follows::Permit,
}

impl Follow {
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(e) = self.events.pop_front() {
                return Some(e);
            }
            if self.done {
                return None;
            }
            let shutdown = self.state.shutdown.clone();
            let step = tokio::select! {
                s = self.step() => s,
                _ = shutdown.cancelled() => Err(ApiError::Unavailable {
                    what: "this API server",
                    cause: "shutting down".into(),
                }),
            };
            if let Err(e) = step {
                self.done = true;
                if matches!(e, ApiError::Internal(_) | ApiError::Unavailable { .. }) {
                    tracing::warn!(run_id = %self.run, error = %e, "a follow of a run's output ends early");
                }
                let (error, code) = e.public();
                return Some(event(
                    "error",
                    &serde_json::json!({ "error": error, "code": code }),
                ));
            }
        }
    }

    async fn step(&mut self) -> Result<(), ApiError> {
        let state = &self.state;
        if self.idle > 0 {
            let slower = if self.idle > IDLE_LOOKS {
                IDLE_SLOWDOWN
            } else {
                1
            };
            tokio::time::sleep(state.log_poll * slower).await;
        }
        state
            .known_tokens
            .authenticate(&state.store, &self.token, false)
            .await?;
        let run = state
            .store
            .run(&self.run)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("no run {}", self.run)))?;
        let chunks = state
            .store
            .output_after(&self.run, self.after, FOLLOW_BATCH)
            .await?;
        let full = chunks.len() == FOLLOW_BATCH as usize;
        self.idle = if chunks.is_empty() { self.idle + 1 } else { 0 };
        for c in &chunks {
            self.events
                .push_back(event("output", &ChunkView::from(c)).id(c.seq.to_string()));
            self.after = Some(c.seq);
        }
        if full {
            self.idle = 0;
            return Ok(());
        }
        if run.status.is_final() {
            self.events.push_back(event("end", &RunView::from(&run)));
            self.done = true;
        } else {
            self.idle = self.idle.max(1);
        }
        Ok(())
    }
}

fn event(name: &str, data: &impl Serialize) -> Event {
    Event::default()
        .event(name)
        .json_data(data)
        .unwrap_or_else(|_| Event::default().event(name))
}
