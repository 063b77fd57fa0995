//! Request extractors whose failures are `ApiError`s, so that a malformed body or query gets
//! the same JSON error shape as every other 4xx, naming what was wrong.

use crate::error::ApiError;
use crate::state::AppState;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use bytes::BytesMut;
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;

/// A JSON body of at most `AppState::max_body_bytes`. The Content-Type header is not
/// required: `curl -d` sends a form type by default, and the body is JSON whatever the header
/// says.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let bytes = read_body(req.into_body(), state.max_body_bytes).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request(
                "invalid_json",
                "the request body is empty; expected a JSON object",
            ));
        }
        // The error names the field at fault (`memory_mb: invalid type ...`).
        let bad = |what: String| {
            ApiError::bad_request("invalid_json", format!("invalid request body: {what}"))
        };
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let e = e.into_inner();
            bad(if path == "." {
                e.to_string()
            } else {
                format!("{path}: {e}")
            })
        })?;
        de.end().map_err(|e| bad(e.to_string()))?;
        Ok(JsonBody(value))
    }
}

async fn read_body(mut body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::PayloadTooLarge(format!(
            "the request body is larger than {limit} bytes (uploads: see max_upload_bytes)"
        ))
    };
    let unreadable =
        |_| ApiError::bad_request("invalid_body", "the request body could not be read");
    // The rest of an over-limit body is drained before the 413 goes out (`crate::drain`).
    if body.size_hint().lower() > limit as u64 {
        return Err(too_large());
    }
    let mut buf = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(unreadable)?.into_data() else {
            continue; // trailers
        };
        if buf.len() + data.len() > limit {
            return Err(too_large());
        }
        buf.extend_from_slice(&data);
    }
    Ok(buf.freeze())
}

/// Query parameters; unknown or malformed ones are a 400 that names them.
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(q)| QueryParams(q))
            .map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))
    }
}

/// Path parameters; one that cannot be read (say, invalid percent-encoding) is a 400 in the
/// API's JSON shape.
pub struct PathParam<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for PathParam<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(p)| PathParam(p))
            .map_err(|e| ApiError::bad_request("invalid_path", e.body_text()))
    }
}
