//! Who owns what, and where a job may go: the least-loaded live worker with room and ceilings
//! that cover what the job's runs need.

use super::Observed;
use distcron_core::{JobId, Resources};
use std::collections::{BTreeMap, BTreeSet};

/// Who owns what after a plan is applied.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Placement {
    pub owner: BTreeMap<JobId, String>,
    /// Live workers and how many jobs each owns.
    pub load: BTreeMap<String, usize>,
    pub capacity: BTreeMap<String, u32>,
    pub ceilings: BTreeMap<String, Resources>,
    /// Drained workers: they keep what they hold until it is handed off, and take nothing.
    pub drained: BTreeSet<String>,
}

impl Placement {
    /// The live workers of `observed`, each loaded with the jobs it holds outside the
    /// observation (none, when the observation is whole) and owning nothing yet.
    pub fn new(observed: &Observed) -> Placement {
        Placement {
            capacity: observed.live.clone(),
            ceilings: observed.ceilings.clone(),
            drained: observed.drained.clone(),
            load: observed
                .live
                .keys()
                .map(|w| (w.clone(), observed.others.get(w).copied().unwrap_or(0)))
                .collect(),
            ..Placement::default()
        }
    }

    /// The live worker with the fewest jobs, room for one more and ceilings that cover what
    /// the job's runs need (ties by id, for determinism), not drained; counts the job against
    /// it.
    pub fn place(&mut self, job: JobId, needs: &Resources) -> Option<String> {
        let worker = self.candidate(needs, None, None)?;
        *self.load.entry(worker.clone()).or_default() += 1;
        self.owner.insert(job, worker.clone());
        Some(worker)
    }

    /// As `place`, for a job `from` holds, to another worker whose load is under `below` (if
    /// given); the job's count moves with it.
    pub fn take(
        &mut self,
        job: JobId,
        from: &str,
        needs: &Resources,
        below: Option<usize>,
    ) -> Option<String> {
        let worker = self.candidate(needs, Some(from), below)?;
        if let Some(n) = self.load.get_mut(from) {
            *n = n.saturating_sub(1);
        }
        *self.load.entry(worker.clone()).or_default() += 1;
        self.owner.insert(job, worker.clone());
        Some(worker)
    }

    /// The fewest jobs a worker that takes jobs has.
    pub fn least_load(&self) -> Option<usize> {
        self.load
            .iter()
            .filter(|(w, _)| !self.drained.contains(*w))
            .map(|(_, n)| *n)
            .min()
    }

    fn candidate(
        &self,
        needs: &Resources,
        not: Option<&str>,
        below: Option<usize>,
    ) -> Option<String> {
        let none = Resources::default();
        self.load
            .iter()
            .filter(|(w, _)| !self.drained.contains(*w) && Some(w.as_str()) != not)
            .filter(|(_, n)| below.is_none_or(|b| **n < b))
            .filter(|(w, n)| {
                (**n as u64) < u64::from(self.capacity.get(*w).copied().unwrap_or(u32::MAX))
            })
            .filter(|(w, _)| {
                needs.is_empty()
                    || needs
                        .exceeds(self.ceilings.get(*w).unwrap_or(&none))
                        .is_none()
            })
            .min_by_key(|(w, n)| (**n, (*w).clone()))
            .map(|(w, _)| w.clone())
    }

    /// Counts `job` against `worker`, which keeps it.
    pub fn keep(&mut self, job: JobId, worker: &str) {
        *self.load.entry(worker.to_string()).or_default() += 1;
        self.owner.insert(job, worker.to_string());
    }

    /// Why no live worker could ever take a job needing `needs`, if none could: every one's
    /// ceilings fall short (not counting room, which frees up). `None` with no worker known.
    pub fn fits_nowhere(&self, needs: &Resources) -> Option<String> {
        if needs.is_empty() || self.load.is_empty() {
            return None;
        }
        let none = Resources::default();
        let mut why = Vec::new();
        for worker in self.load.keys() {
            match needs.exceeds(self.ceilings.get(worker).unwrap_or(&none)) {
                None => return None,
                Some(w) => why.push(format!("{worker}: {w}")),
            }
        }
        Some(format!(
            "no live worker can bound its runs so ({})",
            why.join("; ")
        ))
    }
}
