//! `GET /audit`: the audit log, newest first, for admins: who did what to which object, when,
//! with the change's detail. Filters: `actor`, `object_type` with `object_id`, `action`, and
//! a time window `from` (inclusive) to `to` (exclusive); paginated like the other lists.

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::QueryParams;
use crate::openapi::examples;
use crate::routes::params::{next_page_headers, page_limit, time_param};
use crate::state::AppState;
use crate::view::rfc3339;
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use distcron_store::{AuditFilter, AuditRecord};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// What the audit log records actions on.
const OBJECT_TYPES: [&str; 4] = ["job", "run", "user", "worker"];

#[derive(Deserialize, Serialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only what this user did.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[param(example = "alice")]
    actor: Option<String>,
    /// Only actions on objects of this type.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[param(schema_with = object_type_schema)]
    object_type: Option<String>,
    /// Only actions on this object (a job's or run's id, a user's name): needs `object_type`.
    #[serde(skip_serializing_if = "Option::is_none")]
    object_id: Option<String>,
    /// Only this action: `job.create`, `job.edit`, `job.finish`, `job.pause`, `job.resume`,
    /// `job.trigger`, `job.kill`, `run.kill`, `user.create`, `user.disable`,
    /// `user.token_rotate`, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    #[param(example = "job.edit")]
    action: Option<String>,
    /// Rows at this time or later, RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[param(format = DateTime, example = "2026-12-01T00:00:00Z")]
    from: Option<String>,
    /// Rows before this time, RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[param(format = DateTime)]
    to: Option<String>,
    /// At most this many rows (default 100).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 1000, example = 100)]
    limit: Option<u32>,
    /// The previous page's last id (`x-next-cursor`): rows before it.
    #[serde(skip_serializing)]
    cursor: Option<u64>,
}

fn object_type_schema() -> utoipa::openapi::Object {
    crate::openapi::string_enum(OBJECT_TYPES)
}

/// One row of the audit log: who did what to which object, when.
#[derive(Serialize, ToSchema)]
pub struct AuditView {
    pub id: u64,
    #[schema(format = DateTime)]
    pub at: String,
    pub actor: String,
    pub action: String,
    #[schema(schema_with = object_type_schema)]
    pub object_type: String,
    pub object_id: String,
    /// The action's particulars: an edit's `version`, and the `old` and `new` value of each
    /// field it changed.
    #[schema(value_type = Option<Object>)]
    pub detail: Option<serde_json::Value>,
}

impl From<AuditRecord> for AuditView {
    fn from(r: AuditRecord) -> Self {
        AuditView {
            id: r.id,
            at: rfc3339(r.at),
            actor: r.actor,
            action: r.action,
            object_type: r.object_type,
            object_id: r.object_id,
            detail: r.detail,
        }
    }
}

#[utoipa::path(
    get,
    path = "/audit",
    tag = "cluster",
    summary = "The audit log",
    description = "Admins only: newest first; the next page is in the `Link` header.",
    security(("bearer" = [])),
    params(AuditQuery),
    responses(
        (status = 200, description = "A page of the audit log", body = Vec<AuditView>,
            headers(
                ("Link" = String, description = "`<next page>; rel=\"next\"`, when this page is full"),
                ("x-next-cursor" = String, description = "The `cursor` of the next page"),
            ),
            example = json!(examples::audit())),
        (status = 400, description = "A query parameter is unknown or invalid, or `object_id` \
            lacks `object_type`", body = ErrorBody),
        (status = 403, description = "Only admins may read the audit log", body = ErrorBody),
    ),
)]
pub async fn list_audit(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(q): QueryParams<AuditQuery>,
) -> Result<(HeaderMap, Json<Vec<AuditView>>), ApiError> {
    if !caller.0.is_admin {
        return Err(ApiError::Forbidden(
            "only admins may read the audit log".into(),
        ));
    }
    let limit = page_limit(q.limit)?;
    if let Some(t) = q.object_type.as_deref()
        && !OBJECT_TYPES.contains(&t)
    {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("object_type `{t}`: expected job, run, user or worker"),
        ));
    }
    if q.object_id.is_some() && q.object_type.is_none() {
        return Err(ApiError::bad_request(
            "invalid_query",
            "`object_id` needs `object_type` (job, run, user or worker)",
        ));
    }
    let filter = AuditFilter {
        actor: q.actor.clone(),
        object_type: q.object_type.clone(),
        object_id: q.object_id.clone(),
        action: q.action.clone(),
        from: time_param("from", q.from.as_deref())?,
        to: time_param("to", q.to.as_deref())?,
        before: q.cursor,
        limit,
    };
    let rows = state.store.audit_log(&filter).await?;
    let mut headers = HeaderMap::new();
    if rows.len() == limit as usize
        && let Some(last) = rows.last()
    {
        let query = serde_urlencoded::to_string(&q).unwrap_or_default();
        let sep = if query.is_empty() { "" } else { "&" };
        let next = format!("/audit?{query}{sep}cursor={}", last.id);
        headers = next_page_headers(&next, &last.id.to_string());
    }
    Ok((
        headers,
        Json(rows.into_iter().map(AuditView::from).collect()),
    ))
}
