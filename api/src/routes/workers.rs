//! `GET /workers`: the live workers, as ZooKeeper knows them, each with how many jobs it owns,
//! its runs under way (MySQL's count), and what it says of itself on its status server: its
//! last heartbeat (ZooKeeper's last answer) and whether its launch gate is open, and why not.
//! A worker whose status server does not answer within a second is shown so, not left out.

use crate::auth::{Admin, Caller};
use crate::error::{ApiError, ErrorBody};
use crate::extract::PathParam;
use crate::openapi::examples;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use distcron_core::internal::{DrainAnswer, WorkerAction};
use distcron_core::payload::{self, Drain, WorkerRegistration};
use distcron_core::{Resources, layout};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::task::JoinSet;
use utoipa::ToSchema;

const STATUS_TIMEOUT: Duration = Duration::from_secs(1);

/// A live worker: its registration in ZooKeeper, what it holds, and what it says of itself.
/// A worker whose registration cannot be read shows its `id`, `jobs`, `running` and `drained`
/// alone; one that serves no status, no self-report.
#[derive(Serialize, ToSchema)]
#[schema(example = json!(examples::workers()[0]))]
pub struct WorkerView {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Where it serves its own status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addr: Option<String>,
    /// How many jobs it is willing to own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity: Option<u32>,
    /// The most one run may use here (absent: not enforced); a job naming more runs elsewhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ceilings: Option<Resources>,
    /// Unique per process start: tells a restarted worker from its previous life.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = Uuid)]
    pub incarnation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub started_at: Option<String>,
    /// How many jobs it owns.
    pub jobs: i32,
    /// Its runs under way: MySQL's count, claimed ones included.
    pub running: u64,
    /// Drained (`POST /workers/{id}/drain`): its jobs go to the others, and it takes none,
    /// until undrained or restarted.
    pub drained: bool,
    #[serde(flatten)]
    pub report: SelfReport,
}

/// What a worker says of itself on its status server; nothing for a worker that serves none.
#[derive(Default, Serialize, ToSchema)]
pub struct SelfReport {
    /// Whether its status server answered within a second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reachable: Option<bool>,
    /// When ZooKeeper last answered it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub last_heartbeat_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gate: Option<GateView>,
    /// The runs its process follows now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runs_in_process: Option<u64>,
    /// Why its status server did not answer (`reachable: false`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Whether the worker may start runs, and why not.
#[derive(Serialize, ToSchema)]
pub struct GateView {
    pub open: bool,
    /// Why it is closed (out of touch with ZooKeeper, clock skew, shutting down); null while
    /// open.
    pub reason: Option<String>,
}

/// What a worker's `/healthz` says that this list shows.
#[derive(Deserialize)]
struct WorkerHealth {
    last_heartbeat_at: String,
    launching: Launching,
    running: u64,
}

/// `true`, or `{"paused": <why>}`.
#[derive(Deserialize)]
#[serde(untagged)]
enum Launching {
    Open(bool),
    Closed { paused: String },
}

/// What the worker's `/healthz` says of its heartbeat and its gate, or why it could not say.
async fn self_report(http: reqwest::Client, addr: String) -> SelfReport {
    let answer = async {
        http.get(format!("{addr}/healthz"))
            .timeout(STATUS_TIMEOUT)
            .send()
            .await?
            .error_for_status()?
            .json::<WorkerHealth>()
            .await
    };
    match answer.await {
        Ok(h) => {
            let (open, reason) = match h.launching {
                Launching::Open(open) => (open, None),
                Launching::Closed { paused } => (false, Some(paused)),
            };
            SelfReport {
                reachable: Some(true),
                last_heartbeat_at: Some(h.last_heartbeat_at),
                gate: Some(GateView { open, reason }),
                runs_in_process: Some(h.running),
                error: None,
            }
        }
        Err(e) => SelfReport {
            reachable: Some(false),
            error: Some(format!("its status server at {addr}: {e}")),
            ..SelfReport::default()
        },
    }
}

impl WorkerView {
    fn new(
        id: String,
        registration: Option<WorkerRegistration>,
        jobs: i32,
        running: u64,
        drain: Option<Drain>,
    ) -> Self {
        let r = registration;
        // A drain counts for the incarnation it names: a restart ends it.
        let drained = matches!((&r, drain), (Some(r), Some(d)) if d.incarnation == r.incarnation);
        WorkerView {
            id: r.as_ref().map_or(id, |r| r.id.clone()),
            host: r.as_ref().map(|r| r.host.clone()),
            addr: r.as_ref().and_then(|r| r.addr.clone()),
            capacity: r.as_ref().map(|r| r.capacity),
            ceilings: r.as_ref().map(|r| r.ceilings),
            incarnation: r.as_ref().map(|r| r.incarnation.to_string()),
            started_at: r.as_ref().map(|r| crate::view::rfc3339(r.started_at)),
            jobs,
            running,
            drained,
            report: SelfReport::default(),
        }
    }
}

#[utoipa::path(
    get,
    path = "/workers",
    tag = "cluster",
    summary = "The live workers",
    description = "Each one's registration, the jobs it owns and its runs under way, and what \
        it says of itself within a second; a worker that does not answer (frozen, cut off) \
        shows `\"reachable\": false` with the error, until its session expires and it leaves \
        the list.",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The live workers, by id", body = Vec<WorkerView>,
            example = json!(examples::workers())),
    ),
)]
pub async fn list_workers(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Vec<WorkerView>>, ApiError> {
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
        let worker = WorkerView::new(name, registration, jobs, runs, drain);
        if let Some(addr) = worker.addr.clone() {
            let (i, http) = (out.len(), http.clone());
            reports.spawn(async move { (i, self_report(http, addr).await) });
        }
        out.push(worker);
    }
    while let Some(report) = reports.join_next().await {
        if let Ok((i, report)) = report
            && let Some(worker) = out.get_mut(i)
        {
            worker.report = report;
        }
    }
    Ok(Json(out))
}

#[utoipa::path(
    post,
    path = "/workers/{id}/drain",
    tag = "cluster",
    summary = "Drain a worker (admins)",
    description = "Hands the worker's jobs to the other live workers, each at a moment between         two of its ticks (half past a second, about 3 s on): the worker runs its ticks up to         then, its runs under way finish there, the next worker runs every tick after. It takes         no new jobs until undrained or restarted. Recorded in the audit log (`worker.drain`).         Again: nothing changes.",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The worker's id")),
    responses(
        (status = 200, description = "Drained; `jobs` it still holds (the old side of each             handoff goes 2 s after its moment)", body = DrainAnswer,
            example = json!({"worker": "worker-1", "drained": true, "jobs": 120})),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No live worker of that id", body = ErrorBody),
        (status = 409, description = "It is the last live worker that is not drained: its jobs \
            would have nowhere to go", body = ErrorBody),
    ),
)]
pub async fn drain_worker(
    State(state): State<AppState>,
    Admin(admin): Admin,
    PathParam(id): PathParam<String>,
) -> Result<Json<DrainAnswer>, ApiError> {
    drain(&state, admin, &id, true).await
}

#[utoipa::path(
    post,
    path = "/workers/{id}/undrain",
    tag = "cluster",
    summary = "Undrain a worker (admins)",
    description = "It takes jobs again, its share of the others' at once, through the same         handoffs (`worker.undrain` in the audit log). Again: nothing changes.",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The worker's id")),
    responses(
        (status = 200, description = "Undrained", body = DrainAnswer,
            example = json!({"worker": "worker-1", "drained": false, "jobs": 0})),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No live worker of that id", body = ErrorBody),
    ),
)]
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
