//! distcron's worker: one per node. It registers itself in ZooKeeper, schedules the jobs
//! assigned to it with an in-process crontab-style scheduler, writes each tick's run row before
//! it starts anything, runs jobs as the right user in their own process group and cgroup, and
//! records every outcome. It launches only while it is sure its session is alive, and fences
//! itself (and, through its guardian, its runs) when it is not.

pub mod cache;
pub mod clock;
pub mod exec;
pub mod gate;
pub mod guardian;
pub mod inflight;
pub mod launch;
pub mod recorder;
pub mod registration;
pub mod runner;
pub mod scheduler;
pub mod session;
pub mod settings;
pub mod status;
pub mod test_hook;
pub mod ticks;
pub mod upkeep;

pub use settings::{CgroupMode, Settings};

use anyhow::Context;
use chrono::Utc;
use distcron_blob::BlobStore;
use distcron_core::Resources;
use distcron_core::payload::WorkerRegistration;
use distcron_service::Supervisor;
use distcron_store::{Claimant, Store};
use exec::Executor;
use exec::cgroup::CgroupRoot;
use gate::Gate;
use guardian::Guardian;
use inflight::InFlight;
use launch::{Launcher, StartStats};
use recorder::Recorder;
use runner::Runner;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::task::TaskTracker;

/// What must exist before the process starts any thread: the runs' cgroup and the guardian
/// (a fork).
pub struct Prepared {
    pub cgroups: Option<CgroupRoot>,
    pub guardian: Option<Guardian>,
}

/// Call from `main` before the async runtime starts.
pub fn prepare(settings: &Settings) -> anyhow::Result<Prepared> {
    close_inherited_descriptors();
    raise_open_files_limit();
    let cgroups = match settings.cgroups {
        CgroupMode::Off => None,
        CgroupMode::Auto => {
            let name = format!(
                "{}.{}",
                settings
                    .zookeeper
                    .chroot
                    .trim_matches('/')
                    .replace('/', "_"),
                settings.worker_id
            );
            match CgroupRoot::prepare(&name) {
                Ok(root) => Some(root),
                Err(why) => {
                    tracing::warn!(%why, "no cgroup v2 for runs: a job that leaves its process group with setsid survives its timeout");
                    None
                }
            }
        }
    };
    let guardian = Guardian::spawn(
        settings.fence_after(),
        cgroups.as_ref().map(|c| c.dir().to_path_buf()),
    )
    .context("starting the run guardian")?;
    Ok(Prepared {
        cgroups,
        guardian: Some(guardian),
    })
}

/// The work directory: others may pass through it (to a per-run directory of their own, where
/// runs have no private /tmp) but not list it; the executable cache inside is root's alone.
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
    shared: Shared,
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
    ceilings: Resources,
) -> Executor {
    let mode = exec::sandbox::Mode::probe(
        settings.run_tmp_mb * 1024 * 1024,
        settings.work_dir.join("runs"),
    );
    Executor::new(exec::ExecutorSettings {
        worker_id: settings.worker_id.clone(),
        run_uids: settings.run_uids,
        mode,
        cgroups,
        run_defaults: settings.run_defaults,
        ceilings,
        max_output: settings.max_output_bytes,
        kill_grace: Duration::from_millis(settings.kill_grace_ms),
        guardian,
    })
}

fn prepare_work_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for d in [dir.to_path_buf(), dir.join("runs")] {
        std::fs::create_dir_all(&d)
            .and_then(|()| std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o711)))
            .with_context(|| format!("preparing the work directory {}", d.display()))?;
    }
    Ok(())
}

/// Marks every descriptor the worker inherited (beyond stdio) close-on-exec, so that no run
/// can get one, whatever started the worker. (Runs also mark every descriptor but stdio
/// close-on-exec before they exec; this covers the guardian and kernels without close_range.)
fn close_inherited_descriptors() {
    use nix::fcntl::{FcntlArg, FdFlag, fcntl};
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<i32> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd > 2)
        .collect();
    for fd in fds {
        // SAFETY: only the flag changes; an fd that vanished meanwhile just fails.
        #[allow(unsafe_code)]
        let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        let _ = fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC));
    }
}

/// Each run holds two pipes: allow thousands at once.
fn raise_open_files_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE)
        && soft < hard
        && let Err(e) = setrlimit(Resource::RLIMIT_NOFILE, hard, hard)
    {
        tracing::warn!(error = %e, soft, "cannot raise the open files limit");
    }
}

pub struct Worker {
    supervisor: Supervisor,
    local_addr: SocketAddr,
    gate: Arc<Gate>,
    inflight: Arc<InFlight>,
    recorder: Recorder,
    shutdown_grace: Duration,
    kill_grace: Duration,
}

impl Worker {
    pub async fn build(
        settings: Settings,
        listener: TcpListener,
        prepared: Prepared,
    ) -> anyhow::Result<Worker> {
        let local_addr = listener.local_addr()?;
        prepare_work_dir(&settings.work_dir)?;
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
        let ceilings = prepared
            .cgroups
            .as_ref()
            .map(|c| c.controllers().ceilings(&settings.run_ceilings))
            .unwrap_or_default();
        log_bounds(&settings.run_defaults, &ceilings);
        let registration = registration_of(&settings, local_addr, ceilings, incarnation);
        if !nix::unistd::geteuid().is_root() {
            tracing::warn!(
                "not running as root: jobs run as this worker's own user, and privileged jobs fail"
            );
        }
        let executor = Arc::new(executor_of(
            &settings,
            prepared.cgroups,
            prepared.guardian.clone(),
            ceilings,
        ));
        let gate = Arc::new(Gate::new());
        let inflight = Arc::new(InFlight::default());
        let (recorder, records) = Recorder::new();
        let (commands, command_rx) = tokio::sync::mpsc::unbounded_channel();
        let (retries, retries_rx) = tokio::sync::mpsc::unbounded_channel();
        let registered = Arc::new(AtomicBool::new(false));
        let (scheduler, start_stats) = scheduler_of(
            &settings,
            Shared {
                store: store.clone(),
                gate: gate.clone(),
                inflight: inflight.clone(),
                recorder: recorder.clone(),
            },
            executor.clone(),
            cache,
            claimant.clone(),
        );
        let session = session::Session {
            zookeeper: settings.zookeeper.clone(),
            registration,
            gate: gate.clone(),
            scheduler: commands.clone(),
            registered: registered.clone(),
        };

        let status = status::Status {
            worker_id: settings.worker_id.clone(),
            incarnation,
            registered: registered.clone(),
            gate: gate.clone(),
            inflight: inflight.clone(),
            cgroups: executor.uses_cgroups(),
            private_tmp: executor.private_tmp(),
            start_stats: start_stats.clone(),
        }
        .router();

        let mut supervisor = Supervisor::new();
        let token = supervisor.token();
        supervisor.spawn("session", session.run(token.clone()));
        supervisor.spawn(
            "scheduler",
            scheduler.run(command_rx, retries_rx, token.clone()),
        );
        supervisor.spawn(
            "recorder",
            recorder.clone().run(
                store.clone(),
                settings.worker_id.clone(),
                retries.clone(),
                records,
                token.clone(),
            ),
        );
        upkeep::Upkeep {
            store,
            claimant,
            gate: gate.clone(),
            inflight: inflight.clone(),
            guardian: prepared.guardian,
            scheduler: commands.clone(),
            retries,
            lease: Duration::from_millis(settings.run_lease_ms),
            fence_after: settings.fence_after(),
            max_clock_skew: Duration::from_millis(settings.max_clock_skew_ms),
        }
        .spawn_all(&mut supervisor);
        supervisor.spawn("http", async move {
            axum::serve(listener, status)
                .with_graceful_shutdown(token.cancelled_owned())
                .await
                .context("status server")
        });
        tracing::info!(worker = %settings.worker_id, %incarnation, cgroups = executor.uses_cgroups(), "listening on {local_addr}");
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

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Runs until `shutdown`, then stops taking ticks, lets running jobs finish within the
    /// grace period, stops the rest (recorded as interrupted, retried elsewhere if the job
    /// allows), writes every outcome, and closes the session last.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()>,
        grace: Duration,
    ) -> anyhow::Result<()> {
        let Worker {
            supervisor,
            gate,
            inflight,
            recorder,
            shutdown_grace,
            kill_grace,
            ..
        } = self;
        let drain = async move {
            shutdown.await;
            gate.shut_down();
            let running = inflight.len();
            tracing::info!(
                running,
                grace_ms = shutdown_grace.as_millis() as u64,
                "no longer taking ticks; waiting for running jobs"
            );
            if tokio::time::timeout(shutdown_grace, inflight.wait_empty())
                .await
                .is_err()
            {
                let n = inflight.stop_all(exec::Stop::Shutdown);
                tracing::warn!(runs = n, "grace period over: stopping the remaining runs");
                let _ = tokio::time::timeout(
                    kill_grace + Duration::from_secs(3),
                    inflight.wait_empty(),
                )
                .await;
            }
            // Rows launches still hold are decided (interrupted: the gate is shut) before the
            // recorder is drained.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            while !inflight.is_idle() && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            while recorder.pending() > 0 && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            if recorder.pending() > 0 {
                tracing::error!(
                    records = recorder.pending(),
                    "leaving with run outcomes not yet written"
                );
            }
        };
        supervisor.run(drain, grace).await
    }
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
