//! The runs this worker has in flight, shared by the scheduler (concurrency policies), the
//! fence and shutdown (which stop them) and the run tasks (which leave when they end); and the
//! rows it has claimed and not yet started, held by the launch that claimed them, which the
//! orphan sweep must spare as well.

use crate::exec::{RunControl, Stop};
use chrono::{DateTime, Utc};
use distcron_core::{JobId, RunId};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

#[derive(Clone)]
pub struct InFlightRun {
    pub job: JobId,
    pub scheduled_at: DateTime<Utc>,
    pub attempt: u16,
    pub control: RunControl,
}

#[derive(Default)]
pub struct InFlight {
    runs: Mutex<HashMap<RunId, InFlightRun>>,
    emptied: tokio::sync::Notify,
    /// Claimed (or being claimed) by a launch, not yet started or recorded.
    held: Mutex<HashSet<RunId>>,
}

impl InFlight {
    pub fn insert(&self, id: RunId, run: InFlightRun) {
        self.runs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, run);
    }

    pub fn remove(&self, id: &RunId) {
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        runs.remove(id);
        if runs.is_empty() {
            self.emptied.notify_waiters();
        }
    }

    pub fn contains(&self, id: &RunId) -> bool {
        self.runs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(id)
    }

    /// A launch is about to claim these rows.
    pub fn hold(&self, ids: impl IntoIterator<Item = RunId>) {
        self.held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(ids);
    }

    /// The launch has decided these rows: started (in flight), recorded, or given back.
    pub fn release(&self, ids: impl IntoIterator<Item = RunId>) {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        for id in ids {
            held.remove(&id);
        }
    }

    /// Whether this worker has the run in hand: held by a launch, or in flight.
    pub fn holds(&self, id: &RunId) -> bool {
        self.held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(id)
            || self.contains(id)
    }

    pub fn len(&self) -> usize {
        self.runs.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Runs of `job` in flight here.
    pub fn of_job(&self, job: &JobId) -> Vec<(RunId, InFlightRun)> {
        self.runs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|(_, r)| r.job == *job)
            .map(|(id, r)| (*id, r.clone()))
            .collect()
    }

    /// Which jobs have runs in flight.
    pub fn busy_jobs(&self) -> std::collections::HashSet<JobId> {
        self.runs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .map(|r| r.job)
            .collect()
    }

    pub fn stop_all(&self, why: Stop) -> usize {
        let runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        for r in runs.values() {
            r.control.stop(why.clone());
        }
        runs.len()
    }

    /// Waits until no run is in flight.
    pub async fn wait_empty(&self) {
        loop {
            let notified = self.emptied.notified();
            if self.is_empty() {
                return;
            }
            notified.await;
        }
    }
}
