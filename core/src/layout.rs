//! Where things live in ZooKeeper, relative to the cluster's chroot.
//!
//! ```text
//! /election/_c_<uuid>-manager-<seq>   ephemeral sequential: manager candidates (LeaderInfo)
//! /workers/<worker-id>                ephemeral: live workers (WorkerRegistration)
//! /jobs/<job-id>                      persistent: one task per active job (JobTask)
//! /assignments/<worker-id>/<job-id>   persistent: the job's owner (Assignment)
//! /stops/<worker-id>                  persistent: a nudge; its data changes when a run the
//!                                     worker holds is killed (the kill itself is in MySQL)
//! /drains/<worker-id>                 persistent: the worker is drained (Drain)
//! ```
//!
//! Ownership lives apart from the task so that a worker watches exactly one subtree,
//! `/assignments/<its id>`, and a definition is written once however often it moves.

use crate::job::JobId;

pub const ELECTION: &str = "/election";
/// The lock name in election znodes: `_c_<uuid>-manager-<sequence>`.
pub const ELECTION_NAME: &str = "manager-";
pub const WORKERS: &str = "/workers";
pub const JOBS: &str = "/jobs";
pub const ASSIGNMENTS: &str = "/assignments";
pub const STOPS: &str = "/stops";
pub const DRAINS: &str = "/drains";

/// The persistent directories every cluster has; created on first start.
pub const DIRECTORIES: [&str; 6] = [ELECTION, WORKERS, JOBS, ASSIGNMENTS, STOPS, DRAINS];

pub fn job(id: &JobId) -> String {
    format!("{JOBS}/{id}")
}

pub fn worker(worker_id: &str) -> String {
    format!("{WORKERS}/{worker_id}")
}

pub fn assignment_dir(worker_id: &str) -> String {
    format!("{ASSIGNMENTS}/{worker_id}")
}

pub fn assignment(worker_id: &str, id: &JobId) -> String {
    format!("{ASSIGNMENTS}/{worker_id}/{id}")
}

/// The znode whose changes tell a worker to look for kills of its runs now.
pub fn stops(worker_id: &str) -> String {
    format!("{STOPS}/{worker_id}")
}

/// The znode saying the worker is drained.
pub fn drain(worker_id: &str) -> String {
    format!("{DRAINS}/{worker_id}")
}

/// The sequence number of an election znode's name, which orders the candidates.
pub fn election_sequence(name: &str) -> Option<u64> {
    let (_, seq) = name.rsplit_once(ELECTION_NAME)?;
    if seq.len() < 10 || !seq.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    seq.parse().ok()
}

/// The leader among election znode names: the lowest sequence.
pub fn election_leader<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    names
        .into_iter()
        .filter_map(|n| election_sequence(n).map(|s| (s, n)))
        .min()
        .map(|(_, n)| n)
}

/// Whether `id` may name a worker: it becomes a znode name.
pub fn is_valid_worker_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_leader_is_the_lowest_sequence() {
        let names = [
            "_c_5e2a-manager-0000000012",
            "_c_0b1c-manager-0000000003",
            "garbage",
            "_c_ffff-manager-0000000007",
        ];
        assert_eq!(election_leader(names), Some("_c_0b1c-manager-0000000003"));
        assert_eq!(election_leader(["x"]), None);
    }

    #[test]
    fn paths_compose() {
        let id: JobId = "0191e7a0-0000-7000-8000-000000000001".parse().expect("id");
        assert_eq!(
            assignment("w1", &id),
            "/assignments/w1/0191e7a0-0000-7000-8000-000000000001"
        );
        assert_eq!(job(&id), "/jobs/0191e7a0-0000-7000-8000-000000000001");
    }

    #[test]
    fn worker_ids_are_znode_safe() {
        assert!(is_valid_worker_id("node-1.example_a"));
        assert!(!is_valid_worker_id("a/b"));
        assert!(!is_valid_worker_id(".."));
        assert!(!is_valid_worker_id(""));
    }
}
