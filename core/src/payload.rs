//! The bytes stored in znodes: JSON, so that operators can read them with `zkCli.sh get`.

use crate::job::{Job, JobId, JobSpec, UserName};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
#[error("malformed znode payload: {0}")]
pub struct PayloadError(#[from] serde_json::Error);

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing these plain structs cannot fail: no maps with non-string keys, no I/O.
    serde_json::to_vec(value).unwrap_or_default()
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, PayloadError> {
    Ok(serde_json::from_slice(bytes)?)
}

/// `/jobs/<id>`: everything a worker needs to run the job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobTask {
    pub id: JobId,
    /// The definition version; a worker reloads the task when its assignment names a newer one.
    pub version: u64,
    pub owner: UserName,
    /// Ticks are counted from here: a new job's first tick is its first fire time after this.
    pub created_at: DateTime<Utc>,
    /// The latest resume of a paused job: nothing before it is caught up (a worker's cursor
    /// never goes below it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed_at: Option<DateTime<Utc>>,
    /// When the schedule last changed: no time of it before this is a tick (no catch-up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_changed_at: Option<DateTime<Utc>>,
    /// The owner's own uid, which the job's runs get (unless it is privileged or names
    /// `run_as`). A task without one does not run: its runs would share a uid with others'.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_uid: Option<u32>,
    #[serde(flatten)]
    pub spec: JobSpec,
}

impl JobTask {
    /// The task of `job`, whose owner's runs get `run_uid`.
    pub fn new(job: &Job, run_uid: Option<u32>) -> JobTask {
        JobTask {
            id: job.id,
            version: job.version,
            owner: job.owner.clone(),
            created_at: job.created_at,
            resumed_at: job.resumed_at,
            schedule_changed_at: job.schedule_changed_at,
            run_uid,
            spec: job.spec.clone(),
        }
    }
}

/// `/assignments/<worker>/<job>`: which definition version the owner should be running, and
/// where it stands in a handoff (a drain or a rebalance moving the job between two live
/// workers at a time `T` between ticks: the old holder has `until: T`, the new one `after: T`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    pub version: u64,
    /// The job is being handed to another worker: this one claims its ticks up to this time
    /// only (its runs under way finish here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
    /// The job is being handed to this worker: its ticks up to this time are the previous
    /// holder's, and this one takes over from the first one after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<DateTime<Utc>>,
}

impl Assignment {
    pub fn of(version: u64) -> Assignment {
        Assignment {
            version,
            ..Assignment::default()
        }
    }
}

/// `/drains/<worker>`: the worker is drained (its jobs handed to the others, no new ones), for
/// as long as it runs as this incarnation: a restart ends the drain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drain {
    pub incarnation: Uuid,
    pub by: String,
    pub at: DateTime<Utc>,
}

/// `/workers/<id>`: a live worker. Ephemeral, so it disappears when the worker's session
/// expires, and only then are its jobs given to others.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerRegistration {
    pub id: String,
    pub host: String,
    /// Where the worker serves its own status, if it does.
    pub addr: Option<String>,
    /// How many jobs it is willing to own; the manager balances by count within this.
    pub capacity: u32,
    /// The most it grants one run; a value it does not enforce is absent, and a job that
    /// names it is not placed here.
    #[serde(default)]
    pub ceilings: crate::resources::Resources,
    /// Unique per process start: tells a restarted worker from its previous life.
    pub incarnation: Uuid,
    pub started_at: DateTime<Utc>,
}

/// The data of a manager's election znode.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderInfo {
    pub manager_id: String,
    /// Base URL of the manager's internal API, e.g. `http://10.0.0.5:30100`.
    pub internal_url: String,
}
