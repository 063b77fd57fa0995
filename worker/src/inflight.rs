//! The runs this worker has in flight, shared by the scheduler (concurrency policies), the
//! fence and shutdown (which stop them) and the run tasks (which leave when they end); and the
//! rows it has claimed and not yet started, held by the launch that claimed them (a `Hold`,
//! released when dropped, a panicking launch included). The orphan sweep takes, under the same
//! lock, only rows neither held nor in flight, and a row it took can no longer be held: a row
//! is either started or recorded interrupted, never both.

use crate::exec::{RunControl, Stop};
use chrono::{DateTime, Utc};
use distcron_core::{JobId, RunId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a swept row is remembered (against a launch that finds it afterwards).
const SWEPT_KEPT: Duration = Duration::from_secs(600);

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
    held: Mutex<Held>,
    /// Claimed runs someone killed before their process started (their `stop_reason`), as the
    /// last read of the kills found them: the start records them skipped instead.
    killed_claims: Mutex<HashMap<RunId, String>>,
}

#[derive(Default)]
struct Held {
    /// Claimed (or being claimed) by a launch, not yet started or recorded.
    ids: std::collections::HashSet<RunId>,
    /// Recorded interrupted by the orphan sweep, and when.
    swept: HashMap<RunId, Instant>,
}

/// Rows a launch holds; released when dropped.
pub struct Hold {
    inflight: Arc<InFlight>,
    ids: Vec<RunId>,
}

impl Hold {
    /// Holds one more row; false if another launch holds it, it is in flight, or the orphan
    /// sweep has taken it (then it must not be started).
    pub fn add(&mut self, id: RunId) -> bool {
        let mut held = self.inflight.held.lock().unwrap_or_else(|p| p.into_inner());
        if held.ids.contains(&id) || held.swept.contains_key(&id) || self.inflight.contains(&id) {
            return false;
        }
        held.ids.insert(id);
        self.ids.push(id);
        true
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        let mut held = self.inflight.held.lock().unwrap_or_else(|p| p.into_inner());
        for id in &self.ids {
            held.ids.remove(id);
        }
    }
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

    /// Holds rows a launch is about to claim (they are this launch's alone: fresh ids, or
    /// retries the scheduler gives to one launch).
    pub fn hold(self: &Arc<Self>, ids: impl IntoIterator<Item = RunId>) -> Hold {
        let ids: Vec<RunId> = ids.into_iter().collect();
        self.held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .ids
            .extend(ids.iter().copied());
        Hold {
            inflight: self.clone(),
            ids,
        }
    }

    /// Whether this worker has the run in hand: held by a launch, or in flight.
    pub fn holds(&self, id: &RunId) -> bool {
        self.held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .ids
            .contains(id)
            || self.contains(id)
    }

    /// Of these rows (claimed by this worker, never seen started), those the orphan sweep may
    /// record interrupted: neither held nor in flight. They can no longer be held.
    pub fn sweep(&self, ids: impl IntoIterator<Item = RunId>) -> Vec<RunId> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        held.swept
            .retain(|_, at| now.duration_since(*at) < SWEPT_KEPT);
        let mut taken = Vec::new();
        for id in ids {
            if !held.ids.contains(&id) && !self.contains(&id) {
                held.swept.insert(id, now);
                taken.push(id);
            }
        }
        taken
    }

    /// Nothing held and nothing in flight.
    pub fn is_idle(&self) -> bool {
        self.held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .ids
            .is_empty()
            && self.is_empty()
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

    /// Stops run `id` if it is in flight here; whether it was.
    pub fn stop(&self, id: &RunId, why: Stop) -> bool {
        let runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        match runs.get(id) {
            Some(r) => {
                r.control.stop(why);
                true
            }
            None => false,
        }
    }

    /// The kills read from MySQL that found no run in flight: claims whose process has not
    /// started. Replaces the last read's, so runs that have ended meanwhile drop out.
    pub fn set_killed_claims(&self, kills: HashMap<RunId, String>) {
        *self.killed_claims.lock().unwrap_or_else(|p| p.into_inner()) = kills;
    }

    /// Why the claimed run `id` must not start, if it was killed (taken: asked once).
    pub fn take_killed_claim(&self, id: &RunId) -> Option<String> {
        self.killed_claims
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id)
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
