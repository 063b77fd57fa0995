//! `GET /schedule/preview`: the next fire times of an expression, computed by the same code
//! that validates jobs and that workers schedule with.

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::QueryParams;
use crate::openapi::examples;
use crate::routes::params::parse_schedule;
use crate::view::{rfc3339, writable};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

const MAX_COUNT: usize = 1000;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PreviewQuery {
    /// crontab(5), as `POST /jobs` takes it.
    #[param(max_length = 255, example = "0 9 * * mon-fri")]
    schedule: String,
    /// The IANA time zone it is read in; default `UTC`.
    #[param(example = "Europe/Berlin")]
    timezone: Option<String>,
    /// How many fire times (default 5).
    #[param(minimum = 1, maximum = 1000, example = 3)]
    count: Option<usize>,
    /// The fire times after this moment (default: now), RFC 3339.
    #[param(format = DateTime, example = "2026-12-04T18:00:00Z")]
    after: Option<String>,
}

/// When a schedule would fire.
#[derive(Serialize, ToSchema)]
#[schema(example = json!(examples::preview()))]
pub struct Preview {
    pub schedule: String,
    pub timezone: String,
    #[schema(format = DateTime)]
    pub after: String,
    /// The next fire times, oldest first, none past the year 9999 (an `@once` schedule's one:
    /// `after`).
    #[schema(schema_with = crate::openapi::date_times)]
    pub fire_times: Vec<String>,
}

#[utoipa::path(
    get,
    path = "/schedule/preview",
    tag = "cluster",
    summary = "When would a schedule fire?",
    description = "The same rules and errors as `POST /jobs`, computed by the code the workers \
        schedule with.",
    security(("bearer" = [])),
    params(PreviewQuery),
    responses(
        (status = 200, description = "The next fire times", body = Preview),
        (status = 400, description = "The schedule or time zone is invalid (which cron field, \
            which zone), or another query parameter is", body = ErrorBody),
    ),
)]
pub async fn preview(
    _caller: Caller,
    QueryParams(q): QueryParams<PreviewQuery>,
) -> Result<Json<Preview>, ApiError> {
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
            .take_while(writable)
            .take(count)
            .map(rfc3339)
            .collect()
    };
    Ok(Json(Preview {
        schedule: schedule.expression().to_string(),
        timezone: timezone.name().to_string(),
        after: rfc3339(after),
        fire_times,
    }))
}
