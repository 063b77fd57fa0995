//! `GET /workers`: the live workers, as ZooKeeper knows them, and how many jobs each owns.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use distcron_core::layout;
use distcron_core::payload::{self, WorkerRegistration};
use serde_json::{Value, json};

pub async fn list_workers(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Vec<Value>>, ApiError> {
    let client = state.zk.client()?;
    let mut names = client
        .list_children(layout::WORKERS)
        .await
        .map_err(distcron_zk::ZkError::from)?;
    names.sort();
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let registration = match client.get_data(&layout::worker(&name)).await {
            Ok((data, _)) => payload::decode::<WorkerRegistration>(&data).ok(),
            // Gone between the listing and the read: no longer live.
            Err(distcron_zk::zk::Error::NoNode) => continue,
            Err(e) => return Err(distcron_zk::ZkError::from(e).into()),
        };
        let jobs = match client.check_stat(&layout::assignment_dir(&name)).await {
            Ok(stat) => stat.map_or(0, |s| s.num_children),
            Err(e) => return Err(distcron_zk::ZkError::from(e).into()),
        };
        out.push(match registration {
            Some(r) => json!({
                "id": r.id,
                "host": r.host,
                "addr": r.addr,
                "capacity": r.capacity,
                // The most one run may use here; a job naming more runs elsewhere.
                "ceilings": r.ceilings,
                "incarnation": r.incarnation,
                "started_at": crate::view::rfc3339(r.started_at),
                "jobs": jobs,
            }),
            None => json!({ "id": name, "jobs": jobs }),
        });
    }
    Ok(Json(out))
}
