//! The one place where failures become HTTP answers. Client errors say precisely what was
//! wrong; server errors are generic to the client and logged once with their cause.

use crate::manager_client::ManagerError;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use distcron_blob::BlobError;
use distcron_core::internal::ErrorKind;
use distcron_store::StoreError;
use distcron_zk::ZkError;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400, with a machine-readable code and a message for people.
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("missing or invalid bearer token")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 429: the caller has as many of something as it may (followers of runs' output).
    #[error("{0}")]
    TooMany(String),
    /// 422: well-formed, but refused (an idempotency key used for another request).
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    /// A dependency is down: nothing was changed; try again.
    #[error("{what} is unavailable")]
    Unavailable { what: &'static str, cause: String },
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

/// Every error answer's body, the API servers' and HAProxy's alike.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"error": "no job 0190f3a2-7b1c-7d4e-9a2b-3c4d5e6f7a8b", "code": "not_found"}))]
pub struct ErrorBody {
    /// What was wrong, for people: which field, which value, and why.
    pub error: String,
    /// The kind, for programs. 400: `invalid_json`, `invalid_body`, `invalid_query`,
    /// `invalid_path`, `invalid_id`, `invalid_type`, `invalid_schedule`, `invalid_timezone`,
    /// `invalid_option`, `invalid_job`, `invalid_base64`, `invalid_content`, `missing_field`,
    /// `unexpected_field`, `invalid_user`, `invalid_idempotency_key`, `invalid_header`,
    /// `invalid`; 401 `unauthorized`; 403 `forbidden`; 404 `not_found`; 405
    /// `method_not_allowed`; 409 `conflict`; 413 `too_large`; 422 `idempotency_key_reused`;
    /// 429 `too_many_requests` (followers of runs' output); 500 `internal`; 503 `unavailable`;
    /// from HAProxy: 400 `bad_request`, 408 `request_timeout`, 429 `too_many_requests`, 502,
    /// 503 and 504 `unavailable`.
    #[schema(schema_with = code_schema)]
    pub code: &'static str,
}

/// Every `code` an error answer carries, the API servers' and HAProxy's (`haproxy.cfg`); the
/// document's test checks that the code names no other.
pub const ERROR_CODES: [&str; 30] = [
    "invalid_json",
    "invalid_body",
    "invalid_query",
    "invalid_path",
    "invalid_id",
    "invalid_type",
    "invalid_schedule",
    "invalid_timezone",
    "invalid_option",
    "invalid_job",
    "invalid_base64",
    "invalid_content",
    "missing_field",
    "unexpected_field",
    "invalid_user",
    "invalid_idempotency_key",
    "invalid_header",
    "invalid",
    "unauthorized",
    "forbidden",
    "not_found",
    "method_not_allowed",
    "conflict",
    "too_large",
    "idempotency_key_reused",
    "internal",
    "unavailable",
    "bad_request",
    "request_timeout",
    "too_many_requests",
];

fn code_schema() -> utoipa::openapi::Object {
    crate::openapi::string_enum(ERROR_CODES)
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }

    /// What the caller is told: the message and the code of the JSON body.
    pub(crate) fn public(&self) -> (String, &'static str) {
        let message = match self {
            ApiError::Unavailable { what, .. } => {
                format!("{what} is unavailable; nothing was changed, try again shortly")
            }
            other => other.to_string(),
        };
        (message, self.parts().1)
    }

    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            ApiError::TooMany(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
            ApiError::Unprocessable { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, code),
            ApiError::Unavailable { .. } => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.parts().0;
        match &self {
            ApiError::Unavailable { what, cause } => tracing::warn!(what, cause, "answering 503"),
            ApiError::Internal(e) => tracing::error!(error = format!("{e:#}"), "answering 500"),
            _ => {}
        }
        let (error, code) = self.public();
        let mut response = (status, Json(ErrorBody { error, code })).into_response();
        match self {
            ApiError::Unauthorized => {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::Unavailable { .. } => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => ApiError::Unavailable {
                what: "the job store (MySQL)",
                cause: e.to_string(),
            },
            StoreError::Conflict(m) => ApiError::Conflict(m),
            other => ApiError::Internal(other.into()),
        }
    }
}

impl From<BlobError> for ApiError {
    fn from(e: BlobError) -> Self {
        match e {
            BlobError::Unavailable(cause) => ApiError::Unavailable {
                what: "the object store (S3)",
                cause,
            },
            other => ApiError::Internal(other.into()),
        }
    }
}

impl From<ZkError> for ApiError {
    fn from(e: ZkError) -> Self {
        if e.is_unavailable() {
            ApiError::Unavailable {
                what: "ZooKeeper",
                cause: e.to_string(),
            }
        } else {
            ApiError::Internal(e.into())
        }
    }
}

/// The leader's refusals, each kind to its public answer.
impl From<ManagerError> for ApiError {
    fn from(e: ManagerError) -> Self {
        let refusal = match e {
            ManagerError::Unreachable(cause) => {
                return ApiError::Unavailable {
                    what: "the manager",
                    cause,
                };
            }
            ManagerError::Refused(refusal) => refusal,
        };
        let message = refusal.error;
        match refusal.kind {
            ErrorKind::Invalid => ApiError::bad_request("invalid", message),
            ErrorKind::NotFound => ApiError::NotFound(message),
            ErrorKind::Conflict => ApiError::Conflict(message),
            ErrorKind::KeyReused => ApiError::Unprocessable {
                code: "idempotency_key_reused",
                message,
            },
            ErrorKind::Unavailable => ApiError::Unavailable {
                what: "the manager's dependencies",
                cause: message,
            },
            // Not the caller's doing: a misconfigured internal token, a leader's bug, or a
            // leader that kept saying it does not lead (the client retries that until it
            // gives up).
            kind @ (ErrorKind::Unauthorized | ErrorKind::NotLeader | ErrorKind::Internal) => {
                ApiError::Internal(anyhow::anyhow!("manager answered {kind:?}: {message}"))
            }
        }
    }
}
