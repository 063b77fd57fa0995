//! Records when runs started and how they ended: starts, outcomes, captured output, the job
//! status rules and queued retries, written in batches (the starts of one instant in one
//! statement). Nothing is dropped: while MySQL is unavailable, records wait and the recorder
//! keeps trying, so every run ends with its outcome recorded once MySQL is back. A run's start
//! is always sent before its end, and written only while the row has no outcome.

use crate::exec::RunSpec;
use chrono::Utc;
use distcron_core::{JobId, RunId, RunStatus};
use distcron_core::{Outcome, RunEnd};
use distcron_store::{JobStatusChange, PendingRetry, Store};
use std::collections::{HashMap, HashSet};
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
        // The backoff counts from the moment the attempt ended.
        let ended = finished.finished_at;
        let retry = match finished.status {
            RunStatus::Failed | RunStatus::TimedOut if spec.attempt <= options.retries => {
                let next = spec.attempt + 1;
                let delay =
                    chrono::Duration::from_std(options.retry_delay(next)).unwrap_or_default();
                Some((next, ended + delay))
            }
            RunStatus::Interrupted if options.retry_interrupted && spec.attempt == 1 => {
                Some((spec.attempt + 1, ended))
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

/// What the recorder writes.
#[derive(Debug)]
pub enum Entry {
    /// A run's process started at this moment.
    Started(RunId, chrono::DateTime<Utc>),
    Ended(Record),
}

impl Record {
    /// A run of a job this worker no longer has (its options unknown): the outcome alone, no
    /// retry, no job status.
    pub fn bare(
        id: RunId,
        job_id: JobId,
        scheduled_at: chrono::DateTime<Utc>,
        attempt: u16,
        end: RunEnd,
    ) -> Record {
        Record {
            outcome: Outcome {
                id,
                job_id,
                scheduled_at,
                attempt,
                end,
            },
            job_change: None,
            retry: None,
        }
    }
}

#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::UnboundedSender<Entry>,
    /// Runs whose outcome is not yet written to MySQL.
    pending: std::sync::Arc<std::sync::Mutex<HashSet<RunId>>>,
}

/// Where the recorder sends the retries it queued: the scheduler, which starts them at their
/// time.
pub type RetrySink = mpsc::UnboundedSender<Vec<PendingRetry>>;

impl Recorder {
    pub fn new() -> (Recorder, mpsc::UnboundedReceiver<Entry>) {
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
        let end = &record.outcome.end;
        crate::metrics::run_ended(end.status);
        if end.status == distcron_core::RunStatus::Skipped {
            crate::metrics::tick_skipped(end.reason.as_deref().unwrap_or_default());
        }
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(record.outcome.id);
        if self.tx.send(Entry::Ended(record)).is_err() {
            tracing::error!("the recorder has stopped; a run's outcome is lost");
        }
    }

    /// A run's process started (the run's end, if it comes, is sent after this).
    pub fn started(&self, id: RunId, at: chrono::DateTime<Utc>) {
        if self.tx.send(Entry::Started(id, at)).is_err() {
            tracing::error!("the recorder has stopped; a run's start is not recorded");
        }
    }

    /// Records not yet written to MySQL.
    pub fn pending(&self) -> usize {
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether this run's outcome is waiting to be written.
    pub fn is_pending(&self, id: &RunId) -> bool {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(id)
    }

    /// Writes records as they come, a batch at a time, until cancelled and drained.
    pub async fn run(
        self,
        store: Store,
        worker_id: String,
        retries: RetrySink,
        mut rx: mpsc::UnboundedReceiver<Entry>,
        cancel: CancellationToken,
    ) -> anyhow::Result<()> {
        let mut batch: Vec<Entry> = Vec::new();
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
                match flush(&store, &worker_id, &retries, &batch).await {
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
                for e in &batch {
                    if let Entry::Ended(r) = e {
                        pending.remove(&r.outcome.id);
                    }
                }
            }
            batch.clear();
            if cancel.is_cancelled() && rx.is_empty() && self.pending() == 0 {
                return Ok(());
            }
        }
    }
}

async fn flush(
    store: &Store,
    worker_id: &str,
    retries: &RetrySink,
    batch: &[Entry],
) -> distcron_store::Result<()> {
    let ended: Vec<&Record> = batch
        .iter()
        .filter_map(|e| match e {
            Entry::Ended(r) => Some(r),
            Entry::Started(..) => None,
        })
        .collect();
    // A run that also ended in this batch has its start written with its outcome.
    let ended_ids: HashSet<RunId> = ended.iter().map(|r| r.outcome.id).collect();
    let starts: Vec<(RunId, chrono::DateTime<Utc>)> = batch
        .iter()
        .filter_map(|e| match e {
            Entry::Started(id, at) if !ended_ids.contains(id) => Some((*id, *at)),
            _ => None,
        })
        .collect();
    store.mark_started(&starts).await?;
    if ended.is_empty() {
        return Ok(());
    }
    let outcomes: Vec<&Outcome> = ended.iter().map(|r| &r.outcome).collect();
    store.record_outcomes(&outcomes).await?;
    // The latest outcome of each job decides its status.
    let mut latest: HashMap<JobId, (chrono::DateTime<Utc>, JobStatusChange)> = HashMap::new();
    for r in &ended {
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
    for r in &ended {
        if let Some((attempt, not_before)) = r.retry {
            match store
                .queue_retry(
                    &r.outcome.job_id,
                    r.outcome.scheduled_at,
                    attempt,
                    r.outcome.end.status,
                    not_before,
                    worker_id,
                )
                .await?
            {
                // Sent at once: should a later statement fail, this one is not queued again.
                Some(retry) => {
                    let _ = retries.send(vec![retry]);
                }
                None => {
                    tracing::debug!(job_id = %r.outcome.job_id, scheduled_at = %r.outcome.scheduled_at, attempt, "no retry queued: the attempt before it did not fail as recorded, or the job is finished")
                }
            }
        }
    }
    Ok(())
}
