//! The znode operations a plan is made of, and the data they write.

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
}

impl Op {
    /// Whether the op only creates or removes a worker's assignment directory: housekeeping a
    /// worker races on (it creates its own), which names no job.
    pub fn is_directory(&self) -> bool {
        matches!(
            self,
            Op::EnsureWorkerDir { .. } | Op::RemoveWorkerDir { .. }
        )
    }
}

/// The data of an assignment znode.
pub fn assignment_data(version: u64) -> Vec<u8> {
    payload::encode(&Assignment { version })
}
