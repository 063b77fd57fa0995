//! What several routes read the same way: schedules with their time zone, pages, and the
//! `Idempotency-Key` header.

use crate::error::ApiError;
use axum::http::{HeaderMap, HeaderValue, header};
use chrono::{DateTime, Utc};
use distcron_core::job::{JobError, MAX_SCHEDULE_BYTES};
use distcron_core::{Schedule, TimeZone};

/// A schedule and its time zone (UTC when none is given), as job creation and the preview both
/// read them, with the same 400s.
pub(crate) fn parse_schedule(
    expr: &str,
    timezone: Option<&str>,
) -> Result<(Schedule, TimeZone), ApiError> {
    // Before parsing: a longer one would parse and then fail in its column (`JobSpec::validate`
    // refuses it too); the preview refuses it as well, so that it agrees with POST.
    if expr.trim().len() > MAX_SCHEDULE_BYTES {
        return Err(ApiError::bad_request(
            "invalid_schedule",
            JobError::ScheduleTooLong.to_string(),
        ));
    }
    let schedule = Schedule::parse(expr)
        .map_err(|e| ApiError::bad_request("invalid_schedule", e.to_string()))?;
    let timezone = match timezone {
        Some(tz) => TimeZone::parse(tz)
            .map_err(|e| ApiError::bad_request("invalid_timezone", e.to_string()))?,
        None => TimeZone::utc(),
    };
    Ok((schedule, timezone))
}

/// Page sizes of the list endpoints.
const DEFAULT_PAGE: u32 = 100;
const MAX_PAGE: u32 = 1000;

/// The `limit` of a list request: `DEFAULT_PAGE` when absent, 400 outside 1..=`MAX_PAGE`.
pub(crate) fn page_limit(limit: Option<u32>) -> Result<u32, ApiError> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("limit must be between 1 and {MAX_PAGE}"),
        ));
    }
    Ok(limit)
}

/// The headers pointing at the next page of a list: `Link: <next>; rel="next"` and
/// `x-next-cursor`.
pub(crate) fn next_page_headers(next: &str, cursor: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&format!("<{next}>; rel=\"next\"")) {
        headers.insert(header::LINK, v);
    }
    if let Ok(v) = HeaderValue::from_str(cursor) {
        headers.insert("x-next-cursor", v);
    }
    headers
}

/// What the document says of the `Idempotency-Key` header.
pub(crate) const IDEMPOTENCY_KEY: &str = "1 to 255 visible ASCII characters, the caller's own: \
    the same key again (for `POST /jobs`, with the same body) answers what the first request \
    made and makes nothing. A key is kept as long as what it made (a triggered run: not pruned \
    for a day)";

/// The longest idempotency key taken.
const MAX_KEY: usize = 255;

/// The `Idempotency-Key` header, if there is one: 1 to 255 visible ASCII characters.
pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let bad = |why: &str| ApiError::BadRequest {
        code: "invalid_idempotency_key",
        message: format!("Idempotency-Key: {why}"),
    };
    let key = value
        .to_str()
        .map_err(|_| bad("must be visible ASCII characters"))?;
    if key.is_empty() || key.len() > MAX_KEY {
        return Err(bad(&format!("must be 1 to {MAX_KEY} characters")));
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad("must be visible ASCII characters, without spaces"));
    }
    Ok(Some(key.to_string()))
}

/// A time given in a query parameter `name`: RFC 3339, else a 400 naming it.
pub(crate) fn time_param(
    name: &str,
    value: Option<&str>,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    value
        .map(|v| {
            DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| {
                    ApiError::bad_request(
                        "invalid_query",
                        format!("`{name}` is not an RFC 3339 time: {e}"),
                    )
                })
        })
        .transpose()
}
