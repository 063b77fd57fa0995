//! `GET /jobs/{id}/ticks?from=&to=&limit=`: every scheduled time of the job in the window and
//! what became of it (`tick_view`). `to` defaults to now and `from` to an hour before `to`;
//! at most `limit` ticks (default 100, at most 1000) from `from` on, the rest on the next page
//! (`Link`).

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{PathParam, QueryParams};
use crate::openapi::examples;
use crate::routes::jobs::visible_job;
use crate::routes::params::{next_page_headers, page_limit, time_param};
use crate::state::AppState;
use crate::tick_view::{JobTicks, TickView, ticks};
use crate::view::{first_rfc3339, rfc3339};
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use chrono::{Duration, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TicksQuery {
    /// The window's start (default: an hour before `to`), RFC 3339.
    #[param(format = DateTime, example = "2026-12-04T10:00:00Z")]
    from: Option<String>,
    /// The window's end (default: now), RFC 3339.
    #[param(format = DateTime, example = "2026-12-04T11:00:00Z")]
    to: Option<String>,
    /// At most this many ticks (default 100), from `from` on; the rest on the next page.
    #[param(minimum = 1, maximum = 1000, example = 100)]
    limit: Option<u32>,
}

/// Every scheduled time of the job in a window, oldest first, and what became of it.
#[derive(Serialize, ToSchema)]
#[schema(example = json!(examples::ticks()))]
pub struct TicksPage {
    #[schema(format = Uuid)]
    pub job_id: String,
    #[schema(format = DateTime)]
    pub from: String,
    #[schema(format = DateTime)]
    pub to: String,
    /// Where the job's kept history starts: its creation, or, once older runs were pruned,
    /// the scheduled time of the newest one pruned (ticks up to it are not shown).
    #[schema(format = DateTime)]
    pub history_from: String,
    pub ticks: Vec<TickView>,
}

#[utoipa::path(
    get,
    path = "/jobs/{id}/ticks",
    tag = "jobs",
    summary = "A job's ticks and their fate",
    description = "The schedule in force at each moment counts (an edit's old schedule before \
        it). Manual runs are not ticks: they are in `/jobs/{id}/runs`. The next page is in the \
        `Link` header.",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The job's id"), TicksQuery),
    responses(
        (status = 200, description = "A page of ticks", body = TicksPage,
            headers(
                ("Link" = String, description = "`<next page>; rel=\"next\"`, when there are more ticks"),
                ("x-next-cursor" = String, description = "The `from` of the next page"),
            )),
        (status = 400, description = "`id` is not a job id, or a query parameter is unknown or \
            invalid (`from` after `to`)", body = ErrorBody),
        (status = 404, description = "No such job, or another user's (to a non-admin)", body = ErrorBody),
    ),
)]
pub async fn job_ticks(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam<String>,
    QueryParams(q): QueryParams<TicksQuery>,
) -> Result<(HeaderMap, Json<TicksPage>), ApiError> {
    let job = visible_job(&state, &caller, &id).await?;
    let now = Utc::now();
    let to = time_param("to", q.to.as_deref())?.unwrap_or(now);
    let from = time_param("from", q.from.as_deref())?
        .unwrap_or_else(|| (to - Duration::hours(1)).max(first_rfc3339()));
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
