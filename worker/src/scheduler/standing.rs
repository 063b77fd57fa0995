//! Where adopted jobs stand in MySQL: the last tick accounted for, the runs still running
//! elsewhere, the retries queued. Read by the live backend; the scheduler sees only the
//! answer (`Adoption`).

use super::Adoption;
use distcron_core::{JobId, Run, RunId};
use distcron_store::Store;
use std::collections::HashMap;

/// The runs of `jobs` that run elsewhere, by job: rows still `running` that another worker
/// holds. This worker's own runs are in its in-flight set, where the concurrency policies see
/// them as local (a `replace` stops them, which it cannot do to a run elsewhere).
pub(super) fn foreign_runs(
    jobs: impl IntoIterator<Item = JobId>,
    running: Vec<Run>,
    me: &str,
) -> HashMap<JobId, Vec<RunId>> {
    let mut by_job: HashMap<JobId, Vec<RunId>> =
        jobs.into_iter().map(|j| (j, Vec::new())).collect();
    for r in running {
        if r.worker_id.as_deref() != Some(me) {
            by_job.entry(r.job_id).or_default().push(r.id);
        }
    }
    by_job
}

/// Reads where `jobs` stand, for the worker `me`.
pub(super) async fn read(
    store: &Store,
    me: &str,
    jobs: &[JobId],
) -> distcron_store::Result<Vec<Adoption>> {
    let last = store.last_accounted(jobs).await?;
    let running = store.running_runs(jobs).await?;
    let retries = store.pending_retries(jobs).await?;
    let mut retries_of: HashMap<JobId, Vec<_>> = HashMap::new();
    for r in retries {
        retries_of.entry(r.job_id).or_default().push(r);
    }
    let mut foreign = foreign_runs(jobs.iter().copied(), running, me);
    Ok(jobs
        .iter()
        .map(|job| Adoption {
            job: *job,
            last: last.get(job).copied(),
            foreign: foreign.remove(job).unwrap_or_default(),
            retries: retries_of.remove(job).unwrap_or_default(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use distcron_core::RunStatus;

    fn running(job: JobId, worker: &str) -> Run {
        let now = Utc::now();
        Run {
            id: RunId::new(),
            job_id: job,
            scheduled_at: now,
            attempt: 1,
            triggered_by: None,
            status: RunStatus::Running,
            reason: None,
            worker_id: Some(worker.into()),
            created_at: now,
            started_at: Some(now),
            finished_at: None,
            exit_code: None,
            signal: None,
        }
    }

    #[test]
    fn only_runs_held_by_other_workers_are_foreign_and_every_job_gets_an_entry() {
        let (a, b, c) = (JobId::new(), JobId::new(), JobId::new());
        let elsewhere = running(a, "worker-2");
        let by_job = foreign_runs(
            [a, b, c],
            vec![
                elsewhere.clone(),
                running(a, "worker-1"),
                running(b, "worker-1"),
            ],
            "worker-1",
        );
        assert_eq!(by_job[&a], vec![elsewhere.id]);
        assert!(by_job[&b].is_empty(), "this worker's own run is local");
        assert!(by_job[&c].is_empty());
    }
}
