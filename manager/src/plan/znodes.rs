//! The znode operations a plan is made of, and the data they write.

use chrono::{DateTime, Utc};
use distcron_core::JobId;
use distcron_core::payload::{self, Assignment};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    EnsureWorkerDir {
        worker: String,
    },
    PutTask {
        job: JobId,
        data: Vec<u8>,
        exists: bool,
    },
    /// Gives `job` to `worker`, atomically taking it from `from` (a dead worker) if set.
    Assign {
        worker: String,
        job: JobId,
        version: u64,
        from: Option<String>,
    },
    UpdateAssignment {
        worker: String,
        job: JobId,
        version: u64,
    },
    /// Rewrites an assignment that has a part in a handoff (or ends that part).
    SetAssignment {
        worker: String,
        job: JobId,
        assignment: Assignment,
    },
    /// Hands `job` from `from` (which keeps its ticks up to `at`) to `to` (which takes the
    /// ones after it), atomically.
    Handoff {
        job: JobId,
        from: String,
        to: String,
        at: DateTime<Utc>,
        /// `from`'s assignment as it becomes (`until: at`).
        held: Assignment,
    },
    Unassign {
        worker: String,
        job: JobId,
    },
    DeleteTask {
        job: JobId,
    },
    RemoveWorkerDir {
        worker: String,
    },
    /// Drains a worker (`data`: its `Drain`).
    PutDrain {
        worker: String,
        data: Vec<u8>,
    },
    /// A drain that no longer applies (its worker restarted or left), or an undrain.
    RemoveDrain {
        worker: String,
    },
}

impl Op {
    /// Whether the op only creates or removes a worker's assignment directory, or removes a
    /// drain that no longer applies: housekeeping (a worker races on its directory: it creates
    /// its own), which names no job.
    pub fn is_directory(&self) -> bool {
        matches!(
            self,
            Op::EnsureWorkerDir { .. } | Op::RemoveWorkerDir { .. } | Op::RemoveDrain { .. }
        )
    }
}

/// The data of an assignment znode.
pub fn assignment_data(version: u64) -> Vec<u8> {
    payload::encode(&Assignment::of(version))
}
