//! Assembling the worker from its settings: the store, the executable cache, the process
//! layer, the run path (scheduler → launcher → runner) and the long-lived tasks.

use crate::exec::Executor;
use crate::exec::cgroup::CgroupRoot;
use crate::gate::Gate;
use crate::guardian::Guardian;
use crate::host::Prepared;
use crate::inflight::InFlight;
use crate::launch::{Launcher, StartStats};
use crate::recorder::Recorder;
use crate::runner::Runner;
use crate::{Settings, Worker, cache, clock, exec, scheduler, session, status, upkeep};
use anyhow::Context;
use chrono::Utc;
use distcron_blob::BlobStore;
use distcron_core::Resources;
use distcron_core::payload::WorkerRegistration;
use distcron_service::Supervisor;
use distcron_store::{Claimant, Store};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::task::TaskTracker;

impl Worker {
    /// Builds every part and starts the long-lived tasks; the worker runs once `run` is
    /// awaited.
    pub async fn build(
        settings: Settings,
        listener: TcpListener,
        prepared: Prepared,
    ) -> anyhow::Result<Worker> {
        let local_addr = listener.local_addr()?;
        crate::host::prepare_work_dir(&settings.work_dir)?;
        let store = Store::connect_lazy_read_committed(&settings.mysql)?;
        let blobs = BlobStore::new(&settings.s3).await;
        let cache = Arc::new(
            cache::BlobCache::new(settings.work_dir.join("cache"), blobs)
                .context("creating the executable cache")?,
        );
        let incarnation = uuid::Uuid::new_v4();
        let claimant = Claimant {
            worker_id: settings.worker_id.clone(),
            incarnation: incarnation.to_string(),
        };
        let outputs = Arc::new(exec::output::LiveOutputs::default());
        let (executor, ceilings) = executor_of(
            &settings,
            prepared.cgroups,
            prepared.guardian.clone(),
            outputs.clone(),
        );
        let executor = Arc::new(executor);
        let (recorder, records) = Recorder::new();
        let shared = Shared {
            store,
            gate: Arc::new(Gate::new()),
            inflight: Arc::new(InFlight::default()),
            recorder,
        };
        let (scheduler, start_stats) = scheduler_of(
            &settings,
            &shared,
            executor.clone(),
            cache,
            claimant.clone(),
        );
        let registered = Arc::new(AtomicBool::new(false));
        let metrics = distcron_service::metrics::install()?;
        crate::metrics::describe();
        let status = status::Status {
            worker_id: settings.worker_id.clone(),
            incarnation,
            registered: registered.clone(),
            gate: shared.gate.clone(),
            inflight: shared.inflight.clone(),
            cgroups: executor.uses_cgroups(),
            private_tmp: executor.private_tmp(),
            start_stats,
            metrics,
            scrape: crate::metrics::Scrape {
                gate: shared.gate.clone(),
                inflight: shared.inflight.clone(),
                recorder: shared.recorder.clone(),
                store: shared.store.clone(),
            },
        }
        .router();
        let mut supervisor = Supervisor::new();
        spawn_tasks(
            &mut supervisor,
            &settings,
            &shared,
            Tasks {
                scheduler,
                records,
                registration: registration_of(&settings, local_addr, ceilings, incarnation),
                registered,
                claimant,
                guardian: prepared.guardian,
                outputs,
            },
        );
        let token = supervisor.token();
        supervisor.spawn("http", async move {
            axum::serve(listener, status)
                .with_graceful_shutdown(token.cancelled_owned())
                .await
                .context("status server")
        });
        tracing::info!(worker = %settings.worker_id, %incarnation, cgroups = executor.uses_cgroups(), "listening on {local_addr}");
        let Shared {
            gate,
            inflight,
            recorder,
            ..
        } = shared;
        Ok(Worker {
            supervisor,
            local_addr,
            gate,
            inflight,
            recorder,
            shutdown_grace: Duration::from_millis(settings.shutdown_grace_ms),
            kill_grace: Duration::from_millis(settings.kill_grace_ms),
        })
    }
}

/// The long-lived tasks' own parts, beyond what they share.
struct Tasks {
    scheduler: scheduler::Scheduler,
    records: tokio::sync::mpsc::UnboundedReceiver<crate::recorder::Entry>,
    registration: WorkerRegistration,
    registered: Arc<AtomicBool>,
    claimant: Claimant,
    guardian: Option<Guardian>,
    outputs: Arc<exec::output::LiveOutputs>,
}

/// The session, the scheduler, the recorder, the output shipper and the upkeep loops, each owned by the
/// supervisor; they talk over the scheduler's command and retry channels.
fn spawn_tasks(supervisor: &mut Supervisor, settings: &Settings, shared: &Shared, tasks: Tasks) {
    let token = supervisor.token();
    let (commands, command_rx) = tokio::sync::mpsc::unbounded_channel();
    let (retries, retries_rx) = tokio::sync::mpsc::unbounded_channel();
    let stops = Arc::new(session::Nudge::default());
    let session = session::Session {
        zookeeper: settings.zookeeper.clone(),
        registration: tasks.registration,
        gate: shared.gate.clone(),
        scheduler: commands.clone(),
        registered: tasks.registered,
        stops: stops.clone(),
    };
    supervisor.spawn("session", session.run(token.clone()));
    supervisor.spawn(
        "scheduler",
        tasks.scheduler.run(command_rx, retries_rx, token.clone()),
    );
    supervisor.spawn(
        "output shipper",
        crate::logship::Shipper {
            store: shared.store.clone(),
            outputs: tasks.outputs,
            every: Duration::from_millis(settings.output_flush_ms),
        }
        .run(token.clone()),
    );
    supervisor.spawn(
        "recorder",
        shared.recorder.clone().run(
            shared.store.clone(),
            settings.worker_id.clone(),
            retries.clone(),
            tasks.records,
            token,
        ),
    );
    upkeep::Upkeep {
        store: shared.store.clone(),
        claimant: tasks.claimant,
        gate: shared.gate.clone(),
        inflight: shared.inflight.clone(),
        guardian: tasks.guardian,
        scheduler: commands,
        retries,
        lease: Duration::from_millis(settings.run_lease_ms),
        fence_after: settings.fence_after(),
        max_clock_skew: Duration::from_millis(settings.max_clock_skew_ms),
        stops,
    }
    .spawn_all(supervisor);
}

/// What the run path's parts share.
struct Shared {
    store: Store,
    gate: Arc<Gate>,
    inflight: Arc<InFlight>,
    recorder: Recorder,
}

/// The run path, from the scheduler's queue to a started process: the scheduler on the
/// live backend, which claims through the launcher, which starts runs through the runner.
fn scheduler_of(
    settings: &Settings,
    shared: &Shared,
    executor: Arc<Executor>,
    cache: Arc<cache::BlobCache>,
    claimant: Claimant,
) -> (scheduler::Scheduler, Arc<StartStats>) {
    let Shared {
        store,
        gate,
        inflight,
        recorder,
    } = shared;
    let runs = TaskTracker::new();
    let runner = Arc::new(Runner {
        store: store.clone(),
        exec: executor.clone(),
        cache: cache.clone(),
        inflight: inflight.clone(),
        gate: gate.clone(),
        recorder: recorder.clone(),
        tasks: runs.clone(),
    });
    let start_stats = Arc::new(StartStats::default());
    let launcher = Arc::new(Launcher {
        store: store.clone(),
        claimant: claimant.clone(),
        recorder: recorder.clone(),
        inflight: inflight.clone(),
        runner,
        stats: start_stats.clone(),
    });
    let scheduler = scheduler::Scheduler::new(scheduler::Deps {
        backend: Arc::new(scheduler::backend::Live {
            store: store.clone(),
            cache,
            launcher,
        }),
        clock: Arc::new(clock::SystemClock),
        recorder: recorder.clone(),
        inflight: inflight.clone(),
        gate: gate.clone(),
        misfire_threshold: Duration::from_secs(2),
        claim_lead: Duration::from_millis(settings.claim_lead_ms),
    });
    (scheduler, start_stats)
}

/// What the worker announces of itself in its `/workers/<id>` znode.
fn registration_of(
    settings: &Settings,
    local_addr: SocketAddr,
    ceilings: Resources,
    incarnation: uuid::Uuid,
) -> WorkerRegistration {
    WorkerRegistration {
        id: settings.worker_id.clone(),
        host: nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_default(),
        addr: Some(format!("http://{local_addr}")),
        capacity: settings.capacity,
        ceilings,
        incarnation,
        started_at: Utc::now(),
    }
}

/// The process layer: how runs are sandboxed and bounded on this host.
fn executor_of(
    settings: &Settings,
    cgroups: Option<CgroupRoot>,
    guardian: Option<Guardian>,
    outputs: Arc<exec::output::LiveOutputs>,
) -> (Executor, Resources) {
    let ceilings = cgroups
        .as_ref()
        .map(|c| c.controllers().ceilings(&settings.run_ceilings))
        .unwrap_or_default();
    log_bounds(&settings.run_defaults, &ceilings);
    if !nix::unistd::geteuid().is_root() {
        tracing::warn!(
            "not running as root: jobs run as this worker's own user, and privileged jobs fail"
        );
    }
    let mode = exec::sandbox::Mode::probe(
        settings.run_tmp_mb * 1024 * 1024,
        settings.work_dir.join("runs"),
    );
    let executor = Executor::new(exec::ExecutorSettings {
        worker_id: settings.worker_id.clone(),
        run_uids: settings.run_uids,
        mode,
        cgroups,
        run_defaults: settings.run_defaults,
        ceilings,
        max_output: settings.max_output_bytes,
        kill_grace: Duration::from_millis(settings.kill_grace_ms),
        guardian,
        outputs,
    });
    (executor, ceilings)
}

/// Says what runs are bounded with, and warns about defaults that cannot be enforced here.
fn log_bounds(defaults: &distcron_core::Resources, ceilings: &distcron_core::Resources) {
    use distcron_core::Resource;
    for r in Resource::ALL {
        match (defaults.get(r), ceilings.get(r)) {
            (_, Some(most)) => {
                tracing::info!(resource = %r, default = ?defaults.get(r), ceiling = most, "runs are bounded")
            }
            (Some(_), None) => tracing::warn!(
                resource = %r,
                "runs are not bounded: no cgroup controller for it here; jobs that name it go to other workers"
            ),
            (None, None) => {}
        }
    }
}
