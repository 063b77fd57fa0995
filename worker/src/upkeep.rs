//! The worker's periodic duties: renewing the leases of its runs (and stopping those someone
//! asked to stop), fencing itself when it has lost both ZooKeeper and MySQL, checking its clock against MySQL's, picking up the retries
//! queued for it, and sweeping rows it claimed but never started.

use crate::exec::Stop;
use crate::gate::Gate;
use crate::guardian::Guardian;
use crate::inflight::InFlight;
use crate::scheduler::Command;
use crate::session::Nudge;
use chrono::Utc;
use distcron_store::{Claimant, PendingRetry, Store};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Renews the lease of every run in flight, every quarter of the lease, and then stops the runs
/// someone asked to stop (`runs.stop_reason`: killed, or their owner was disabled). The request
/// is a state in MySQL, not a message: a worker that missed a renewal sees it at the next. The
/// session's stop nudge (`stops`) has the kills read at once, between renewals.
pub async fn renew_leases(
    store: Store,
    claimant: Claimant,
    gate: Arc<Gate>,
    inflight: Arc<InFlight>,
    lease: Duration,
    stops: Arc<Nudge>,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(lease / 4);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let nudged = tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            _ = tick.tick() => false,
            _ = stops.kills.notified() => true,
        };
        if !nudged {
            let sent = Instant::now();
            match store.renew_leases(&claimant).await {
                Ok(renewed) => {
                    gate.mysql_ok(sent);
                    if renewed == 0 {
                        continue;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot renew run leases");
                    continue;
                }
            }
        }
        match store.stops_requested(&claimant).await {
            Ok(stops) => {
                let mut claims = std::collections::HashMap::new();
                for (run, reason) in stops {
                    if inflight.stop(&run, Stop::Requested(reason.clone())) {
                        tracing::info!(run_id = %run, reason, "stopping a run, as asked");
                    } else {
                        // Claimed, its process not started: the start records it skipped.
                        claims.insert(run, reason);
                    }
                }
                inflight.set_killed_claims(claims);
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the stops asked of runs"),
        }
    }
}

/// Stops every run once the worker has been out of touch with both ZooKeeper and MySQL for
/// longer than `fence_after`: by then nobody can tell its runs are alive, and they may be
/// declared interrupted and retried elsewhere. While in touch, it tells the guardian so.
pub async fn fence(
    gate: Arc<Gate>,
    inflight: Arc<InFlight>,
    guardian: Option<Guardian>,
    fence_after: Duration,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut fenced = false;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            _ = tick.tick() => {}
        }
        let silent = gate.out_of_contact_for();
        if silent > fence_after {
            if !fenced || !inflight.is_empty() {
                let n = inflight.stop_all(Stop::Fenced);
                if n > 0 || !fenced {
                    tracing::error!(
                        silent_ms = silent.as_millis() as u64,
                        runs = n,
                        "out of touch with ZooKeeper and MySQL: stopping every run"
                    );
                }
                fenced = true;
            }
        } else {
            if fenced {
                tracing::info!("in touch again");
                fenced = false;
            }
            if let Some(g) = &guardian {
                g.ping();
            }
        }
    }
}

/// Compares the local clock with MySQL's every few seconds; a worker whose clock is off by
/// more than `max_skew` refuses to fire, since it would fire early or late.
pub async fn check_clock(
    store: Store,
    gate: Arc<Gate>,
    max_skew: Duration,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_problem: Option<String> = Some(String::new());
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            _ = tick.tick() => {}
        }
        let before = Utc::now();
        let server = match store.server_now().await {
            Ok(t) => t,
            Err(e) => {
                tracing::debug!(error = %e, "cannot read MySQL's clock");
                continue;
            }
        };
        let after = Utc::now();
        // MySQL read its clock somewhere in the round trip: compare with the midpoint.
        let local = before + (after - before) / 2;
        let skew = (local - server).num_milliseconds();
        let tolerance = (after - before).num_milliseconds() / 2 + max_skew.as_millis() as i64;
        let problem = (skew.abs() > tolerance).then(|| {
            format!(
                "clock skew: this worker's clock is {} ms {} MySQL's (limit {} ms)",
                skew.abs(),
                if skew > 0 { "ahead of" } else { "behind" },
                max_skew.as_millis()
            )
        });
        if problem != last_problem {
            match &problem {
                Some(p) => tracing::error!("{p}; refusing to fire"),
                None => tracing::info!(skew_ms = skew, "clock agrees with MySQL"),
            }
            last_problem = problem.clone();
        }
        gate.set_clock(problem);
    }
}

/// Every second, reads the retries waiting for this worker (its own index range: none of the
/// cluster's other retries) and hands them to the scheduler, which starts each at its time.
/// Retries this worker queued itself reach the scheduler at once; this finds those the leader
/// queued for it (a dead worker's interrupted runs, runs asked for now) or pointed at it, and
/// at once when the leader nudges it about a run to start now.
pub async fn poll_retries(
    store: Store,
    worker_id: String,
    scheduler: mpsc::UnboundedSender<Vec<PendingRetry>>,
    gate: Arc<Gate>,
    nudge: Arc<Nudge>,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            _ = tick.tick() => {}
            _ = nudge.pending.notified() => {}
        }
        if !gate.is_open() {
            continue;
        }
        match store.own_pending(&worker_id).await {
            Ok(retries) if !retries.is_empty() => {
                if scheduler.send(retries).is_err() {
                    return Ok(());
                }
            }
            Ok(_) => {}
            Err(e) => tracing::debug!(error = %e, "cannot look for retries"),
        }
    }
}

/// Every half minute, hands the scheduler this worker's rows that MySQL has as running and that
/// were claimed over a minute ago, so that none claimed but never started stays `running`.
pub async fn sweep_orphans(
    store: Store,
    claimant: Claimant,
    scheduler: mpsc::UnboundedSender<Command>,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(Duration::from_secs(30));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            _ = tick.tick() => {}
        }
        match store.own_running(&claimant, Duration::from_secs(60)).await {
            Ok(rows) if !rows.is_empty() => {
                if scheduler.send(Command::Orphans(rows)).is_err() {
                    return Ok(());
                }
            }
            Ok(_) => {}
            Err(e) => tracing::debug!(error = %e, "cannot look for unstarted runs"),
        }
    }
}

/// What the upkeep loops share, to start them all under one supervisor.
pub struct Upkeep {
    pub store: Store,
    pub claimant: Claimant,
    pub gate: Arc<Gate>,
    pub inflight: Arc<InFlight>,
    pub guardian: Option<Guardian>,
    pub scheduler: mpsc::UnboundedSender<Command>,
    pub retries: mpsc::UnboundedSender<Vec<PendingRetry>>,
    pub lease: Duration,
    pub fence_after: Duration,
    pub max_clock_skew: Duration,
    /// The leader's nudge, through the session.
    pub stops: Arc<Nudge>,
}

impl Upkeep {
    /// Starts the lease renewal, the orphan sweep, the fence, the clock check and the retry
    /// poll.
    pub fn spawn_all(self, supervisor: &mut distcron_service::Supervisor) {
        let token = supervisor.token();
        let worker_id = self.claimant.worker_id.clone();
        supervisor.spawn(
            "leases",
            renew_leases(
                self.store.clone(),
                self.claimant.clone(),
                self.gate.clone(),
                self.inflight.clone(),
                self.lease,
                self.stops.clone(),
                token.clone(),
            ),
        );
        supervisor.spawn(
            "orphans",
            sweep_orphans(
                self.store.clone(),
                self.claimant,
                self.scheduler,
                token.clone(),
            ),
        );
        supervisor.spawn(
            "fence",
            fence(
                self.gate.clone(),
                self.inflight,
                self.guardian,
                self.fence_after,
                token.clone(),
            ),
        );
        supervisor.spawn(
            "clock",
            check_clock(
                self.store.clone(),
                self.gate.clone(),
                self.max_clock_skew,
                token.clone(),
            ),
        );
        supervisor.spawn(
            "retries",
            poll_retries(
                self.store,
                worker_id,
                self.retries,
                self.gate,
                self.stops,
                token,
            ),
        );
    }
}
