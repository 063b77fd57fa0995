//! The worker's ZooKeeper session: registration, the assignments it owns, and the heartbeat
//! that keeps the launch gate honest. After every (re)connection the assignments are listed
//! anew, since watch events can be lost across a reconnect; after an expiry every job is
//! adopted anew, since ownership may have lapsed. It also watches the worker's stop nudge
//! (`/stops/<id>`): when a kill of one of its runs is recorded, the leader changes that
//! znode, and the worker reads the kills from MySQL at once instead of at its next lease
//! renewal.

use crate::gate::Gate;
use crate::registration;
use crate::scheduler::{Assigned, Command};
use anyhow::Context;
use distcron_core::payload::{self, Assignment, JobTask, WorkerRegistration};
use distcron_core::{JobId, layout};
use distcron_zk::ZkSettings;
use distcron_zk::zk::{self, AddWatchMode, Client, EventType, MultiReadResult, SessionState};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

pub struct Session {
    pub zookeeper: ZkSettings,
    pub registration: WorkerRegistration,
    pub gate: Arc<Gate>,
    pub scheduler: mpsc::UnboundedSender<Command>,
    pub registered: Arc<AtomicBool>,
    /// Woken when the nudge changes.
    pub stops: Arc<Nudge>,
}

/// The leader's nudge (`/stops/<id>` changed: a kill of one of this worker's runs recorded, or
/// a run queued for it to start now): `upkeep::renew_leases` reads the kills, and
/// `upkeep::poll_retries` the queued runs, at once.
#[derive(Debug, Default)]
pub struct Nudge {
    pub kills: tokio::sync::Notify,
    pub pending: tokio::sync::Notify,
}

impl Nudge {
    pub fn notify(&self) {
        self.kills.notify_one();
        self.pending.notify_one();
    }
}

/// The session's two persistent watches: its assignments (recursive) and its stop nudge.
struct Watches {
    assignments: zk::PersistentWatcher,
    stops: zk::PersistentWatcher,
}

/// Reads the tasks of these jobs, 100 per round trip; missing ones are skipped.
/// The tasks of `jobs` with this worker's assignment of each (a job whose task or assignment
/// is gone is left out: its removal is on its way).
async fn read_assigned(
    client: &Client,
    me: &str,
    jobs: &[JobId],
) -> Result<Vec<Assigned>, zk::Error> {
    let mut out = Vec::with_capacity(jobs.len());
    for chunk in jobs.chunks(50) {
        let mut reader = client.new_multi_reader();
        for j in chunk {
            reader.add_get_data(&layout::job(j))?;
            reader.add_get_data(&layout::assignment(me, j))?;
        }
        let results = reader.commit().await?;
        for (pair, job) in results.chunks(2).zip(chunk) {
            let [
                MultiReadResult::Data { data: task, .. },
                MultiReadResult::Data {
                    data: assignment, ..
                },
            ] = pair
            else {
                continue;
            };
            match (
                payload::decode::<JobTask>(task),
                payload::decode::<Assignment>(assignment),
            ) {
                (Ok(task), Ok(assignment)) => out.push(Assigned { task, assignment }),
                (Err(e), _) | (_, Err(e)) => {
                    tracing::error!(job_id = %job, error = %e, "unreadable task or assignment; not scheduling it")
                }
            }
        }
    }
    Ok(out)
}

impl Session {
    fn dir(&self) -> String {
        layout::assignment_dir(&self.registration.id)
    }

    /// Adds both watches (again, after a reconnect: the client forgets them, see `session`).
    /// A watch on the nudge that does not exist yet fires when the leader creates it.
    async fn watch(&self, client: &Client) -> Result<Watches, zk::Error> {
        Ok(Watches {
            assignments: client
                .watch(&self.dir(), AddWatchMode::PersistentRecursive)
                .await?,
            stops: client
                .watch(
                    &layout::stops(&self.registration.id),
                    AddWatchMode::Persistent,
                )
                .await?,
        })
    }

    /// Lists the assignments and hands the full set to the scheduler; returns once the
    /// scheduler has applied it.
    async fn reconcile(&self, client: &Client, fresh: bool) -> anyhow::Result<()> {
        let names = match client.list_children(&self.dir()).await {
            Ok(n) => n,
            Err(zk::Error::NoNode) => Vec::new(),
            Err(e) => return Err(e).context("listing assignments"),
        };
        let jobs: Vec<JobId> = names.iter().filter_map(|n| n.parse().ok()).collect();
        let tasks = read_assigned(client, &self.registration.id, &jobs)
            .await
            .context("reading tasks")?;
        let (done, applied) = oneshot::channel();
        self.scheduler
            .send(Command::Reconcile { tasks, fresh, done })
            .map_err(|_| anyhow::anyhow!("the scheduler has stopped"))?;
        applied
            .await
            .map_err(|_| anyhow::anyhow!("the scheduler has stopped"))?;
        Ok(())
    }

    /// An assignment znode changed: tell the scheduler.
    async fn assignment_event(
        &self,
        client: &Client,
        path: &str,
        kind: EventType,
    ) -> anyhow::Result<()> {
        let Some(name) = path.strip_prefix(&format!("{}/", self.dir())) else {
            return Ok(());
        };
        let Ok(job) = name.parse::<JobId>() else {
            return Ok(());
        };
        let cmd = match kind {
            EventType::NodeDeleted => Command::Remove(job),
            EventType::NodeCreated | EventType::NodeDataChanged => {
                match read_assigned(client, &self.registration.id, &[job])
                    .await?
                    .pop()
                {
                    Some(task) => Command::Upsert(Box::new(task)),
                    None => return Ok(()),
                }
            }
            _ => return Ok(()),
        };
        self.scheduler
            .send(cmd)
            .map_err(|_| anyhow::anyhow!("the scheduler has stopped"))
    }

    /// Keeps the worker registered and its assignments known, across reconnections and
    /// expiries, until cancelled (which closes the session: the registration goes at once).
    pub async fn run(self, cancel: CancellationToken) -> anyhow::Result<()> {
        loop {
            let Some(client) = distcron_zk::connect_retrying(&self.zookeeper, &cancel).await else {
                return Ok(());
            };
            // Every answer from now on proves the session alive at least since this instant.
            let sent = Instant::now();
            match self.session(&client, sent, &cancel).await {
                Ok(()) => return Ok(()),
                Err(e) => tracing::warn!(
                    error = format!("{e:#}"),
                    "session ended; starting a new one"
                ),
            }
            self.gate.session_lost();
            self.registered.store(false, Ordering::Release);
        }
    }

    /// Joins the cluster in this session: waits for the clock check, registers, watches its
    /// assignments and adopts them, then opens the gate's session conditions. `None`: the
    /// worker is shutting down.
    async fn join(
        &self,
        client: &Client,
        sent: Instant,
        gate_changes: &mut tokio::sync::watch::Receiver<()>,
        cancel: &CancellationToken,
    ) -> anyhow::Result<Option<Watches>> {
        // A worker whose clock is off would hold jobs it refuses to fire: it registers only
        // once its clock agrees with MySQL's, and gives the registration up if it stops to.
        if !self.gate.clock_ok() {
            tracing::info!("waiting for the clock check before registering");
            while !self.gate.clock_ok() {
                tokio::select! {
                    _ = cancel.cancelled() => return Ok(None),
                    _ = gate_changes.changed() => {}
                }
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => return Ok(None),
            r = registration::register(client, &self.registration) => r?,
        }
        match client
            .create(&self.dir(), &[], &distcron_zk::persistent())
            .await
        {
            Ok(_) | Err(zk::Error::NodeExists) => {}
            Err(e) => return Err(e).context("creating the assignment directory"),
        }
        let watches = self
            .watch(client)
            .await
            .context("watching assignments and the stop nudge")?;
        self.gate.session_started(client.session_timeout(), sent);
        self.reconcile(client, true).await?;
        self.gate.set_reconciled();
        self.registered.store(true, Ordering::Release);
        tracing::info!(worker = %self.registration.id, session = ?client.session_id(), timeout_ms = client.session_timeout().as_millis() as u64, "registered; launching");
        // Kills asked while this worker was away are read now.
        self.stops.notify();
        Ok(Some(watches))
    }

    /// One ZooKeeper session: join, then follow assignments, reconnects, the clock and the
    /// heartbeat until the session ends.
    async fn session(
        &self,
        client: &Client,
        sent: Instant,
        cancel: &CancellationToken,
    ) -> anyhow::Result<()> {
        let mut states = client.state_watcher();
        let mut gate_changes = self.gate.subscribe();
        let Some(mut watches) = self.join(client, sent, &mut gate_changes, cancel).await? else {
            return Ok(());
        };

        let mut heartbeat = tokio::time::interval(client.session_timeout() / 10);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut relist = false;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                state = states.changed() => match state {
                    SessionState::Disconnected => {
                        tracing::warn!("ZooKeeper disconnected: not launching");
                        self.gate.set_connected(false);
                    }
                    SessionState::SyncConnected => {
                        tracing::info!("ZooKeeper reconnected");
                        // zookeeper-client 0.11.2 does not re-send persistent watches after a
                        // reconnect (`resend_watches` never raises its index past plain
                        // SetWatches), so the server has forgotten this one: add it again.
                        // Creating the new watchers before dropping the old keeps the client
                        // from removing the watches on the server.
                        match self.watch(client).await {
                            Ok(fresh) => watches = fresh,
                            Err(e) => tracing::warn!(error = %e, "cannot watch assignments again yet"),
                        }
                        self.stops.notify();
                        // Watch events may have been lost while disconnected.
                        relist = true;
                    }
                    terminal => anyhow::bail!("ZooKeeper session ended: {terminal:?}"),
                },
                // Guarded as the assignments' watch: a persistent watcher panics when polled
                // after its session's terminal event, which `states` reports first.
                event = watches.stops.changed(), if client.state() == SessionState::SyncConnected => {
                    if event.event_type != EventType::Session {
                        self.stops.notify();
                    }
                }
                event = watches.assignments.changed(), if client.state() == SessionState::SyncConnected => {
                    if event.event_type == EventType::Session {
                        continue;
                    }
                    if let Err(e) = self.assignment_event(client, &event.path, event.event_type).await {
                        tracing::warn!(error = format!("{e:#}"), "cannot follow an assignment change; re-listing");
                        relist = true;
                    }
                }
                _ = gate_changes.changed() => {
                    if !self.gate.clock_ok() {
                        anyhow::bail!("clock skew: giving up this worker's registration until its clock agrees with MySQL's");
                    }
                }
                _ = heartbeat.tick() => {
                    let sent = Instant::now();
                    match client.check_stat("/").await {
                        Ok(_) => self.gate.zk_ok(sent),
                        Err(e) => tracing::debug!(error = %e, "ZooKeeper heartbeat failed"),
                    }
                }
            }
            if relist && client.state() == SessionState::SyncConnected {
                match self.reconcile(client, false).await {
                    Ok(()) => {
                        relist = false;
                        self.gate.set_connected(true);
                        self.gate.set_reconciled();
                    }
                    Err(e) => {
                        tracing::warn!(error = format!("{e:#}"), "cannot re-list assignments yet")
                    }
                }
            }
        }
    }
}
