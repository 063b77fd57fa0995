//! Reading ZooKeeper's side of the world for a plan: all of it (the reconcile loop), the part
//! about some jobs (a write), or who holds what (the reaper).

use super::BATCH;
use crate::plan::Observed;
use distcron_core::payload::{self, Assignment, Drain, WorkerRegistration};
use distcron_core::{JobId, Resources, layout};
use distcron_zk::ZkError;
use distcron_zk::zk::{self, Client, MultiReadResult};
use std::collections::BTreeMap;

/// Reads many znodes, `BATCH` per round trip: data and the number of children. Missing nodes
/// come back as `None`.
async fn read_nodes(
    client: &Client,
    paths: &[String],
) -> Result<Vec<Option<(Vec<u8>, usize)>>, ZkError> {
    let mut out = Vec::with_capacity(paths.len());
    for chunk in paths.chunks(BATCH) {
        let mut reader = client.new_multi_reader();
        for p in chunk {
            reader.add_get_data(p)?;
        }
        for result in reader.commit().await? {
            out.push(match result {
                MultiReadResult::Data { data, stat } => {
                    Some((data, usize::try_from(stat.num_children).unwrap_or(0)))
                }
                _ => None,
            });
        }
    }
    Ok(out)
}

/// Reads the data of many znodes, `BATCH` per round trip. Missing nodes come back as `None`.
async fn read_many(client: &Client, paths: &[String]) -> Result<Vec<Option<Vec<u8>>>, ZkError> {
    Ok(read_nodes(client, paths)
        .await?
        .into_iter()
        .map(|n| n.map(|(data, _)| data))
        .collect())
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

/// What an assignment says; an unreadable one names version 0, so the plan rewrites it.
fn assigned(data: &[u8]) -> Assignment {
    payload::decode::<Assignment>(data).unwrap_or_default()
}

/// The registered workers: name, and the registration if it is readable.
pub async fn registrations(
    client: &Client,
) -> Result<BTreeMap<String, Option<WorkerRegistration>>, ZkError> {
    let names = client.list_children(layout::WORKERS).await?;
    let paths: Vec<String> = names.iter().map(|n| layout::worker(n)).collect();
    let data = read_many(client, &paths).await?;
    let mut live = BTreeMap::new();
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

/// The live workers alone: their capacity (no limit if the registration is unreadable), the
/// most each grants one run (nothing, if unreadable), and which are drained (a drain counts
/// for the incarnation it names: a restart ends it).
pub async fn observe_workers(client: &Client) -> Result<Observed, ZkError> {
    let mut observed = Observed {
        now: chrono::Utc::now(),
        ..Observed::default()
    };
    let registrations = registrations(client).await?;
    let drains = drains(client).await?;
    for (worker, drain) in drains {
        let current = registrations
            .get(&worker)
            .and_then(Option::as_ref)
            .map(|r| r.incarnation);
        match (drain, current) {
            (Some(d), Some(i)) if d.incarnation == i => {
                observed.drained.insert(worker);
            }
            // Another life of the worker (a restart) ends the drain, as does an unreadable
            // one. A worker not registered now (its session expired: a partition, say), or one
            // whose registration cannot be read yet, keeps it: it may come back as the same life.
            (_, Some(_)) => observed.stale_drains.push(worker),
            (_, None) => {}
        }
    }
    for (name, r) in registrations {
        observed
            .live
            .insert(name.clone(), r.as_ref().map_or(u32::MAX, |r| r.capacity));
        let ceilings: Resources = r.map(|r| r.ceilings).unwrap_or_default();
        observed.ceilings.insert(name, ceilings);
    }
    Ok(observed)
}

/// The drains: each worker's, if readable.
pub async fn drains(client: &Client) -> Result<BTreeMap<String, Option<Drain>>, ZkError> {
    let names = match client.list_children(layout::DRAINS).await {
        Ok(n) => n,
        Err(zk::Error::NoNode) => return Ok(BTreeMap::new()),
        Err(e) => return Err(e.into()),
    };
    let paths: Vec<String> = names.iter().map(|n| layout::drain(n)).collect();
    let data = read_many(client, &paths).await?;
    Ok(names
        .into_iter()
        .zip(data)
        .filter_map(|(name, d)| Some((name, payload::decode::<Drain>(&d?).ok())))
        .collect())
}

/// Everything the plan needs from ZooKeeper.
pub async fn observe(client: &Client) -> Result<Observed, ZkError> {
    let mut observed = observe_workers(client).await?;
    observed.rebalance = true;

    let tasks = job_ids(client.list_children(layout::JOBS).await?, layout::JOBS);
    let paths: Vec<String> = tasks.iter().map(layout::job).collect();
    let data = read_many(client, &paths).await?;
    observed.tasks = tasks
        .into_iter()
        .zip(data)
        .filter_map(|(id, d)| d.map(|d| (id, d)))
        .collect();

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
        let held = jobs
            .into_iter()
            .zip(data)
            .filter_map(|(job, d)| d.map(|d| (job, assigned(&d))))
            .collect();
        observed.assignments.insert(worker, held);
    }
    Ok(observed)
}

/// What the plan needs from ZooKeeper to write `jobs` alone: the live workers, the jobs' tasks
/// and assignments, and how many other jobs each worker directory holds. A few round trips
/// whatever the number of jobs in the cluster: one read per worker directory and per job in
/// each, no listing of any directory's jobs.
pub async fn observe_jobs(client: &Client, jobs: &[JobId]) -> Result<Observed, ZkError> {
    let mut observed = observe_workers(client).await?;
    let dirs = client.list_children(layout::ASSIGNMENTS).await?;
    let mut paths: Vec<String> = jobs.iter().map(layout::job).collect();
    for worker in &dirs {
        paths.push(layout::assignment_dir(worker));
        paths.extend(jobs.iter().map(|j| layout::assignment(worker, j)));
    }
    let mut nodes = read_nodes(client, &paths).await?.into_iter();
    for (job, node) in jobs.iter().zip(nodes.by_ref()) {
        if let Some((data, _)) = node {
            observed.tasks.insert(*job, data);
        }
    }
    for worker in dirs {
        let dir = nodes.next().flatten();
        let held: BTreeMap<JobId, Assignment> = jobs
            .iter()
            .zip(nodes.by_ref().take(jobs.len()))
            .filter_map(|(job, node)| node.map(|(d, _)| (*job, assigned(&d))))
            .collect();
        // A directory gone meanwhile holds nothing.
        let Some((_, children)) = dir else { continue };
        let others = children.saturating_sub(held.len());
        if others > 0 {
            observed.others.insert(worker.clone(), others);
        }
        observed.assignments.insert(worker, held);
    }
    Ok(observed)
}

/// Which jobs each worker directory holds (names only, one listing per directory, `BATCH`
/// per round trip).
pub async fn holders(client: &Client) -> Result<BTreeMap<String, Vec<JobId>>, ZkError> {
    let dirs = client.list_children(layout::ASSIGNMENTS).await?;
    let mut out = BTreeMap::new();
    for chunk in dirs.chunks(BATCH) {
        let mut reader = client.new_multi_reader();
        for worker in chunk {
            reader.add_get_children(&layout::assignment_dir(worker))?;
        }
        for (worker, result) in chunk.iter().zip(reader.commit().await?) {
            if let MultiReadResult::Children { children } = result {
                let dir = layout::assignment_dir(worker);
                out.insert(worker.clone(), job_ids(children, &dir));
            }
        }
    }
    Ok(out)
}
