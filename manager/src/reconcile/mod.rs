//! Reading ZooKeeper's side of the world and applying a plan to it. Every write is fenced:
//! it travels in a multi-op together with a check that this manager's election znode still
//! exists, so a manager that lost its session cannot write anything, however late it wakes.

mod observe;

pub use observe::{drains, holders, observe, observe_jobs, observe_workers, registrations};

use crate::plan::{self, Op};
use distcron_core::layout;
use distcron_core::payload::{self, Assignment};
use distcron_zk::zk::{self, CheckWriteError, OwnedLockClient};
use distcron_zk::{ZkError, persistent};

/// How many znode reads or writes go in one multi-op: well under ZooKeeper's 1 MiB packet limit
/// with task payloads of a few hundred bytes.
const BATCH: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The election znode is gone: this manager is no longer the leader and wrote nothing.
    #[error("leadership lost")]
    LostLeadership,
    #[error(transparent)]
    Zk(#[from] ZkError),
}

impl From<zk::Error> for ApplyError {
    fn from(e: zk::Error) -> Self {
        ApplyError::Zk(e.into())
    }
}

/// Adds one op's znode operations to a fenced multi.
fn add_op(writer: &mut zk::CheckWriter<'_>, op: &Op) -> Result<(), zk::Error> {
    match op {
        Op::EnsureWorkerDir { worker } => {
            writer.add_create(&layout::assignment_dir(worker), &[], &persistent())?;
        }
        Op::PutTask {
            job,
            data,
            exists: false,
        } => writer.add_create(&layout::job(job), data, &persistent())?,
        Op::PutTask {
            job,
            data,
            exists: true,
        } => writer.add_set_data(&layout::job(job), data, None)?,
        Op::Assign {
            worker,
            job,
            version,
            from,
        } => {
            if let Some(from) = from {
                writer.add_delete(&layout::assignment(from, job), None)?;
            }
            writer.add_create(
                &layout::assignment(worker, job),
                &plan::assignment_data(*version),
                &persistent(),
            )?;
        }
        Op::UpdateAssignment {
            worker,
            job,
            version,
        } => {
            writer.add_set_data(
                &layout::assignment(worker, job),
                &plan::assignment_data(*version),
                None,
            )?;
        }
        Op::SetAssignment {
            worker,
            job,
            assignment,
        } => writer.add_set_data(
            &layout::assignment(worker, job),
            &payload::encode(assignment),
            None,
        )?,
        Op::Handoff {
            job,
            from,
            to,
            at,
            held,
        } => {
            writer.add_set_data(&layout::assignment(from, job), &payload::encode(held), None)?;
            let taken = Assignment {
                version: held.version,
                until: None,
                after: Some(*at),
            };
            writer.add_create(
                &layout::assignment(to, job),
                &payload::encode(&taken),
                &persistent(),
            )?;
        }
        Op::PutDrain { worker, data } => {
            writer.add_create(&layout::drain(worker), data, &persistent())?
        }
        Op::RemoveDrain { worker } => writer.add_delete(&layout::drain(worker), None)?,
        Op::Unassign { worker, job } => {
            writer.add_delete(&layout::assignment(worker, job), None)?
        }
        Op::DeleteTask { job } => writer.add_delete(&layout::job(job), None)?,
        Op::RemoveWorkerDir { worker } => {
            writer.add_delete(&layout::assignment_dir(worker), None)?
        }
    }
    Ok(())
}

async fn commit(lock: &OwnedLockClient, ops: &[Op]) -> Result<(), (ApplyError, bool)> {
    let mut writer = lock.new_check_writer();
    for op in ops {
        add_op(&mut writer, op).map_err(|e| (ApplyError::from(e), false))?;
    }
    match writer.commit().await {
        Ok(_) => Ok(()),
        Err(CheckWriteError::CheckFailed { .. }) => Err((ApplyError::LostLeadership, false)),
        Err(CheckWriteError::OperationFailed { source, .. }) => Err((source.into(), true)),
        Err(CheckWriteError::RequestFailed { source }) => Err((source.into(), false)),
    }
}

/// Applies `ops` in order, fenced. A batch that fails on one operation (someone else's
/// change raced the observation) is retried one op at a time and the failures are counted:
/// the next resync looks again. Returns how many ops failed.
pub async fn apply(lock: &OwnedLockClient, ops: &[Op]) -> Result<usize, ApplyError> {
    let mut failed = 0;
    for chunk in ops.chunks(BATCH) {
        match commit(lock, chunk).await {
            Ok(()) => {}
            Err((_, true)) => {
                for op in chunk {
                    match commit(lock, std::slice::from_ref(op)).await {
                        Ok(()) => {}
                        Err((ApplyError::LostLeadership, _)) => {
                            return Err(ApplyError::LostLeadership);
                        }
                        Err((e, true)) => {
                            failed += 1;
                            tracing::warn!(?op, error = %e, "reconcile operation failed; the next resync retries it");
                        }
                        Err((e, false)) => return Err(e),
                    }
                }
            }
            Err((e, false)) => return Err(e),
        }
    }
    Ok(failed)
}
