//! `GET /audit`: the audit log, newest first, for admins: who did what to which object, when,
//! with the change's detail. Filters: `actor`, `object_type` with `object_id`, `action`, and
//! a time window `from` (inclusive) to `to` (exclusive); paginated like the other lists.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::routes::params::{next_page_headers, page_limit, time_param};
use crate::state::AppState;
use crate::view::rfc3339;
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use distcron_store::{AuditFilter, AuditRecord};
use serde::{Deserialize, Serialize};

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    actor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    object_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    object_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    action: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<u32>,
    /// The previous page's last id (`x-next-cursor`): rows before it.
    #[serde(skip_serializing)]
    cursor: Option<u64>,
}

#[derive(Serialize)]
pub struct AuditView {
    pub id: u64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
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
