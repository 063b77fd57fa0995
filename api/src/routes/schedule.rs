//! `GET /schedule/preview`: the next fire times of an expression, computed by the same code
//! that validates jobs and that workers schedule with.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::routes::params::parse_schedule;
use crate::view::rfc3339;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

const MAX_COUNT: usize = 1000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviewQuery {
    schedule: String,
    timezone: Option<String>,
    count: Option<usize>,
    after: Option<String>,
}

pub async fn preview(
    _caller: Caller,
    QueryParams(q): QueryParams<PreviewQuery>,
) -> Result<Json<Value>, ApiError> {
    let (schedule, timezone) = parse_schedule(&q.schedule, q.timezone.as_deref())?;
    let count = q.count.unwrap_or(5);
    if count == 0 || count > MAX_COUNT {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("count must be between 1 and {MAX_COUNT}"),
        ));
    }
    let after: DateTime<Utc> = match &q.after {
        Some(s) => DateTime::parse_from_rfc3339(s)
            .map_err(|e| {
                ApiError::bad_request(
                    "invalid_query",
                    format!("after `{s}` is not an RFC 3339 instant: {e}"),
                )
            })?
            .with_timezone(&Utc),
        None => Utc::now(),
    };
    let fire_times: Vec<String> = if schedule.is_once() {
        vec![rfc3339(after)]
    } else {
        schedule
            .iter_after(&timezone, after)
            .take(count)
            .map(rfc3339)
            .collect()
    };
    Ok(Json(json!({
        "schedule": schedule.expression(),
        "timezone": timezone.name(),
        "after": rfc3339(after),
        "fire_times": fire_times,
    })))
}
