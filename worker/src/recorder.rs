//! Records how runs ended: outcomes, captured output, the job status rules and queued retries,
//! written in batches. Nothing is dropped: while MySQL is unavailable, records wait and the
//! recorder keeps trying, so every run ends with its outcome recorded once MySQL is back.

use crate::exec::RunSpec;
use chrono::Utc;
use distcron_core::{JobId, RunStatus};
use distcron_store::{JobStatusChange, Outcome, RunEnd, Store};
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// One finished run, with what follows from it.
#[derive(Debug)]
pub struct Record {
    pub outcome: Outcome,
    pub job_change: Option<JobStatusChange>,
    /// (attempt, not before) of the retry to queue.
    pub retry: Option<(u16, chrono::DateTime<Utc>)>,
}

impl Record {
    /// Applies the job's options to a finished run: retries, and the job status rules.
    pub fn new(spec: &RunSpec, finished: RunEnd) -> Record {
        let options = &spec.task.spec.options;
        let once = spec.task.spec.schedule.is_once();
        let now = Utc::now();
        let retry = match finished.status {
            RunStatus::Failed | RunStatus::TimedOut if spec.attempt <= options.retries => {
                let next = spec.attempt + 1;
                let delay =
                    chrono::Duration::from_std(options.retry_delay(next)).unwrap_or_default();
                Some((next, now + delay))
            }
            RunStatus::Interrupted if options.retry_interrupted && spec.attempt == 1 => {
                Some((spec.attempt + 1, now))
            }
            _ => None,
        };
        let job_change = match finished.status {
            _ if once && retry.is_none() && finished.status.is_final() => {
                Some(JobStatusChange::Finished)
            }
            RunStatus::Succeeded => Some(JobStatusChange::Succeeded),
            RunStatus::Failed | RunStatus::TimedOut => Some(JobStatusChange::Failed),
            _ => None,
        };
        Record {
            outcome: Outcome {
                id: spec.run_id,
                job_id: spec.task.id,
                scheduled_at: spec.scheduled_at,
                attempt: spec.attempt,
                end: finished,
            },
            job_change,
            retry,
        }
    }
}

#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::UnboundedSender<Record>,
    /// Runs whose outcome is not yet written to MySQL.
    pending: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<distcron_core::RunId>>>,
}

impl Recorder {
    pub fn new() -> (Recorder, mpsc::UnboundedReceiver<Record>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Recorder {
                tx,
                pending: Default::default(),
            },
            rx,
        )
    }

    pub fn record(&self, record: Record) {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(record.outcome.id);
        if self.tx.send(record).is_err() {
            tracing::error!("the recorder has stopped; a run's outcome is lost");
        }
    }

    /// Records not yet written to MySQL.
    pub fn pending(&self) -> usize {
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether this run's outcome is waiting to be written.
    pub fn is_pending(&self, id: &distcron_core::RunId) -> bool {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(id)
    }

    /// Writes records as they come, a batch at a time, until cancelled and drained.
    pub async fn run(
        self,
        store: Store,
        mut rx: mpsc::UnboundedReceiver<Record>,
        cancel: CancellationToken,
    ) -> anyhow::Result<()> {
        let mut batch: Vec<Record> = Vec::new();
        loop {
            if batch.is_empty() {
                tokio::select! {
                    r = rx.recv() => match r {
                        Some(r) => batch.push(r),
                        None => return Ok(()),
                    },
                    _ = cancel.cancelled() => {
                        rx.close();
                        while let Ok(r) = rx.try_recv() {
                            batch.push(r);
                        }
                        if batch.is_empty() {
                            return Ok(());
                        }
                    }
                }
            }
            // Let a burst of outcomes gather into one write.
            tokio::time::sleep(Duration::from_millis(20)).await;
            while batch.len() < 2000 {
                match rx.try_recv() {
                    Ok(r) => batch.push(r),
                    Err(_) => break,
                }
            }
            let mut backoff = Duration::from_millis(200);
            loop {
                match flush(&store, &batch).await {
                    Ok(()) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, records = batch.len(), "cannot record run outcomes yet; retrying");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                    }
                }
            }
            {
                let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
                for r in &batch {
                    pending.remove(&r.outcome.id);
                }
            }
            batch.clear();
            if cancel.is_cancelled() && rx.is_empty() && self.pending() == 0 {
                return Ok(());
            }
        }
    }
}

async fn flush(store: &Store, batch: &[Record]) -> distcron_store::Result<()> {
    let outcomes: Vec<&Outcome> = batch.iter().map(|r| &r.outcome).collect();
    store.record_outcomes(&outcomes).await?;
    // The latest outcome of each job decides its status.
    let mut latest: HashMap<JobId, (chrono::DateTime<Utc>, JobStatusChange)> = HashMap::new();
    for r in batch {
        if let Some(change) = r.job_change {
            let at = r.outcome.end.finished_at;
            let entry = latest.entry(r.outcome.job_id).or_insert((at, change));
            if at >= entry.0 {
                *entry = (at, change);
            }
        }
    }
    let changes: Vec<(JobId, JobStatusChange)> =
        latest.into_iter().map(|(j, (_, c))| (j, c)).collect();
    store.apply_job_status(&changes).await?;
    for r in batch {
        if let Some((attempt, not_before)) = r.retry {
            let queued = store
                .queue_retry(
                    &r.outcome.job_id,
                    r.outcome.scheduled_at,
                    attempt,
                    not_before,
                )
                .await?;
            if !queued {
                tracing::debug!(job_id = %r.outcome.job_id, scheduled_at = %r.outcome.scheduled_at, attempt, "no retry queued: the attempt before it did not fail as recorded, or the job is finished");
            }
        }
    }
    Ok(())
}
