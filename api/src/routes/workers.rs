//! `GET /workers`: the live workers, as ZooKeeper knows them, each with how many jobs it owns,
//! its runs under way (MySQL's count), and what it says of itself on its status server: its
//! last heartbeat (ZooKeeper's last answer) and whether its launch gate is open, and why not.
//! A worker whose status server does not answer within a second is shown so, not left out.

use crate::auth::{Admin, Caller};
use crate::error::ApiError;
use crate::extract::PathParam;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use distcron_core::internal::{DrainAnswer, WorkerAction};
use distcron_core::layout;
use distcron_core::payload::{self, Drain, WorkerRegistration};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::task::JoinSet;

const STATUS_TIMEOUT: Duration = Duration::from_secs(1);

/// What the worker's `/healthz` says of its heartbeat and its gate, or why it could not say.
async fn self_report(http: reqwest::Client, addr: String) -> Value {
    let answer = async {
        let body: Value = http
            .get(format!("{addr}/healthz"))
            .timeout(STATUS_TIMEOUT)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok::<_, reqwest::Error>(body)
    };
    match answer.await {
        Ok(h) => {
            let (open, why) = match &h["launching"] {
                Value::Bool(open) => (*open, Value::Null),
                closed => (false, closed["paused"].clone()),
            };
            json!({
                "reachable": true,
                "last_heartbeat_at": h["last_heartbeat_at"],
                "gate": { "open": open, "reason": why },
                "runs_in_process": h["running"],
            })
        }
        Err(e) => {
            json!({ "reachable": false, "error": format!("its status server at {addr}: {e}") })
        }
    }
}

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
    let running = state.store.running_by_worker().await?;
    let http = state.workers_http.clone();
    let mut reports = JoinSet::new();
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
        let runs = running.get(&name).copied().unwrap_or(0);
        let drain = match client.get_data(&layout::drain(&name)).await {
            Ok((data, _)) => payload::decode::<Drain>(&data).ok(),
            Err(distcron_zk::zk::Error::NoNode) => None,
            Err(e) => return Err(distcron_zk::ZkError::from(e).into()),
        };
        let i = out.len();
        out.push(match registration {
            Some(r) => {
                if let Some(addr) = r.addr.clone() {
                    let http = http.clone();
                    reports.spawn(async move { (i, self_report(http, addr).await) });
                }
                json!({
                    "id": r.id,
                    "host": r.host,
                    "addr": r.addr,
                    "capacity": r.capacity,
                    // The most one run may use here; a job naming more runs elsewhere.
                    "ceilings": r.ceilings,
                    "incarnation": r.incarnation,
                    "started_at": crate::view::rfc3339(r.started_at),
                    "jobs": jobs,
                    "running": runs,
                    // A drain counts for the incarnation it names: a restart ends it.
                    "drained": drain.is_some_and(|d| d.incarnation == r.incarnation),
                })
            }
            None => json!({ "id": name, "jobs": jobs, "running": runs }),
        });
    }
    while let Some(report) = reports.join_next().await {
        if let Ok((i, report)) = report
            && let (Some(worker), Value::Object(fields)) = (out.get_mut(i), report)
        {
            for (k, v) in fields {
                worker[k] = v;
            }
        }
    }
    Ok(Json(out))
}

/// `POST /workers/{id}/drain` (admins): its jobs are handed to the other live workers, each at
/// a moment between its ticks, and it takes no new ones until undrained or restarted.
pub async fn drain_worker(
    State(state): State<AppState>,
    Admin(admin): Admin,
    PathParam(id): PathParam<String>,
) -> Result<Json<DrainAnswer>, ApiError> {
    drain(&state, admin, &id, true).await
}

/// `POST /workers/{id}/undrain` (admins): it takes jobs again (and its share of the others').
pub async fn undrain_worker(
    State(state): State<AppState>,
    Admin(admin): Admin,
    PathParam(id): PathParam<String>,
) -> Result<Json<DrainAnswer>, ApiError> {
    drain(&state, admin, &id, false).await
}

async fn drain(
    state: &AppState,
    admin: distcron_store::User,
    id: &str,
    drain: bool,
) -> Result<Json<DrainAnswer>, ApiError> {
    if !layout::is_valid_worker_id(id) {
        return Err(ApiError::NotFound(format!("no live worker {id}")));
    }
    let req = WorkerAction { actor: admin.name };
    Ok(Json(state.manager.drain_worker(id, drain, &req).await?))
}
