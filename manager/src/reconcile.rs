//! Reading ZooKeeper's side of the world and applying a plan to it. Every write is fenced:
//! it travels in a multi-op together with a check that this manager's election znode still
//! exists, so a manager that lost its session cannot write anything, however late it wakes.

use crate::plan::{self, Observed, Op};
use distcron_core::payload::{self, Assignment, WorkerRegistration};
use distcron_core::{JobId, layout};
use distcron_zk::zk::{self, CheckWriteError, Client, MultiReadResult, OwnedLockClient};
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

/// Reads the data of many znodes, `BATCH` per round trip. Missing nodes come back as `None`.
async fn read_many(client: &Client, paths: &[String]) -> Result<Vec<Option<Vec<u8>>>, ZkError> {
    let mut out = Vec::with_capacity(paths.len());
    for chunk in paths.chunks(BATCH) {
        let mut reader = client.new_multi_reader();
        for p in chunk {
            reader.add_get_data(p)?;
        }
        for result in reader.commit().await? {
            out.push(match result {
                MultiReadResult::Data { data, .. } => Some(data),
                _ => None,
            });
        }
    }
    Ok(out)
}

fn job_ids(names: Vec<String>, dir: &str) -> Vec<JobId> {
    names
        .into_iter()
        .filter_map(|n| match n.parse() {
            Ok(id) => Some(id),
            Err(_) => {
                tracing::warn!(znode = %format!("{dir}/{n}"), "ignoring a znode that does not name a job");
                None
            }
        })
        .collect()
}

/// The registered workers: name, and the registration if it is readable.
pub async fn registrations(
    client: &Client,
) -> Result<std::collections::BTreeMap<String, Option<WorkerRegistration>>, ZkError> {
    let names = client.list_children(layout::WORKERS).await?;
    let paths: Vec<String> = names.iter().map(|n| layout::worker(n)).collect();
    let data = read_many(client, &paths).await?;
    let mut live = std::collections::BTreeMap::new();
    for (name, data) in names.into_iter().zip(data) {
        let Some(data) = data else { continue };
        let registration = match payload::decode::<WorkerRegistration>(&data) {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::warn!(worker = %name, error = %e, "unreadable registration");
                None
            }
        };
        live.insert(name, registration);
    }
    Ok(live)
}

/// The live workers with their capacity (no limit if the registration is unreadable) and the
/// most each grants one run (nothing, if unreadable).
type Live = (
    std::collections::BTreeMap<String, u32>,
    std::collections::BTreeMap<String, distcron_core::Resources>,
);

pub async fn live_workers(client: &Client) -> Result<Live, ZkError> {
    let mut live = Live::default();
    for (name, r) in registrations(client).await? {
        live.0
            .insert(name.clone(), r.as_ref().map_or(u32::MAX, |r| r.capacity));
        live.1
            .insert(name, r.map(|r| r.ceilings).unwrap_or_default());
    }
    Ok(live)
}

/// Everything the plan needs from ZooKeeper.
pub async fn observe(client: &Client) -> Result<Observed, ZkError> {
    let (live, ceilings) = live_workers(client).await?;

    let tasks = job_ids(client.list_children(layout::JOBS).await?, layout::JOBS);
    let paths: Vec<String> = tasks.iter().map(layout::job).collect();
    let data = read_many(client, &paths).await?;
    let tasks = tasks
        .into_iter()
        .zip(data)
        .filter_map(|(id, d)| d.map(|d| (id, d)))
        .collect();

    let mut assignments = std::collections::BTreeMap::new();
    for worker in client.list_children(layout::ASSIGNMENTS).await? {
        let dir = layout::assignment_dir(&worker);
        let jobs = match client.list_children(&dir).await {
            Ok(names) => job_ids(names, &dir),
            Err(zk::Error::NoNode) => continue,
            Err(e) => return Err(e.into()),
        };
        let paths: Vec<String> = jobs
            .iter()
            .map(|j| layout::assignment(&worker, j))
            .collect();
        let data = read_many(client, &paths).await?;
        let mut held = std::collections::BTreeMap::new();
        for (job, d) in jobs.into_iter().zip(data) {
            let Some(d) = d else { continue };
            // An unreadable assignment counts as version 0, so the plan rewrites it.
            let version = payload::decode::<Assignment>(&d)
                .map(|a| a.version)
                .unwrap_or(0);
            held.insert(job, version);
        }
        assignments.insert(worker, held);
    }
    Ok(Observed {
        tasks,
        assignments,
        live,
        ceilings,
    })
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
