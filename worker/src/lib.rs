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
mod host;
pub mod inflight;
pub mod launch;
mod logship;
pub mod metrics;
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
mod wiring;

pub use host::{Prepared, prepare};
pub use settings::{CgroupMode, Settings};

use distcron_service::Supervisor;
use gate::Gate;
use inflight::InFlight;
use recorder::Recorder;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

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
