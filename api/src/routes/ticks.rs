//! `GET /jobs/{id}/ticks?from=&to=&limit=`: every scheduled time of the job in the window and
//! what became of it (`tick_view`). `to` defaults to now and `from` to an hour before `to`;
//! at most `limit` ticks (default 100, at most 1000) from `from` on, the rest on the next page
//! (`Link`).

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{PathParam, QueryParams};
use crate::routes::jobs::visible_job;
use crate::routes::params::{next_page_headers, page_limit, time_param};
use crate::state::AppState;
use crate::tick_view::{JobTicks, TickView, ticks};
use crate::view::rfc3339;
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use chrono::{Duration, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicksQuery {
    from: Option<String>,
    to: Option<String>,
    limit: Option<u32>,
}

#[derive(Serialize)]
pub struct TicksPage {
    pub job_id: String,
    pub from: String,
    pub to: String,
    /// Where the job's kept history starts: its creation, or, once older runs were pruned,
    /// the scheduled time of the newest one pruned (ticks up to it are not shown).
    pub history_from: String,
    pub ticks: Vec<TickView>,
}

pub async fn job_ticks(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam<String>,
    QueryParams(q): QueryParams<TicksQuery>,
) -> Result<(HeaderMap, Json<TicksPage>), ApiError> {
    let job = visible_job(&state, &caller, &id).await?;
    let now = Utc::now();
    let to = time_param("to", q.to.as_deref())?.unwrap_or(now);
    let from = time_param("from", q.from.as_deref())?.unwrap_or(to - Duration::hours(1));
    if from > to {
        return Err(ApiError::bad_request(
            "invalid_query",
            "`from` is after `to`",
        ));
    }
    let limit = page_limit(q.limit)?;
    // Before its kept history, the view has nothing to say.
    let history_from = job.history_from.unwrap_or(job.created_at);
    let from = match job.history_from {
        Some(h) => from.max(h + Duration::microseconds(1)),
        None => from,
    };
    // Every attempt of every tick of a page, with room to spare (attempts are at most 11).
    let max_runs = limit.saturating_mul(12);
    let history = state
        .store
        .tick_history(&job.id, from, to.max(from), max_runs)
        .await?;
    let page_to = history.truncated_to.map_or(to, |t| t.min(to));
    let view = JobTicks {
        created_at: job.created_at,
        schedule: &job.spec.schedule,
        timezone: &job.spec.timezone,
    };
    let ticks = ticks(&view, &history, from, page_to, now, limit as usize);
    let mut headers = HeaderMap::new();
    if (ticks.len() == limit as usize || page_to < to)
        && let Some(last) = ticks.last()
    {
        let after = last.scheduled_at + Duration::microseconds(1);
        let cursor = after.to_rfc3339_opts(SecondsFormat::Micros, true);
        let next = format!(
            "/jobs/{}/ticks?from={}&to={}&limit={limit}",
            job.id,
            cursor.replace('+', "%2B"),
            to.to_rfc3339_opts(SecondsFormat::Micros, true)
        );
        headers = next_page_headers(&next, &cursor);
    }
    Ok((
        headers,
        Json(TicksPage {
            job_id: job.id.to_string(),
            from: rfc3339(from),
            to: rfc3339(to),
            history_from: rfc3339(history_from),
            ticks,
        }),
    ))
}
