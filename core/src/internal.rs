//! The internal API between API servers and the leader manager: API servers validate and
//! authenticate, the leader performs every write. Both sides compile against these types,
//! failures included: the leader answers every refusal with an [`ErrorBody`] of a typed
//! [`ErrorKind`], which the API server maps once to its public answer.

use crate::job::{JobId, JobSpec, UserName};
use crate::run::{Run, RunId};
use serde::{Deserialize, Serialize};

/// `POST /internal/jobs`: persist and publish a job the API server has validated (its file,
/// if it has one, already stored). The leader sets its status, version and timestamps; the
/// owner is also the actor of the audit row. Idempotent on `id`, so an API server may retry
/// after a timeout without creating a second job.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CreateJob {
    pub id: JobId,
    pub owner: UserName,
    pub spec: JobSpec,
    /// The request's `Idempotency-Key`: a job of the owner's created with it already is the
    /// answer if its definition is this one, and a refusal (`key_reused`) if not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

/// `POST /internal/jobs/{id}/finish`: take a job off the schedule.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FinishJob {
    pub actor: UserName,
}

/// `POST /internal/jobs/{id}/edit`: replace a job's definition with `spec` (validated, its
/// new file, if any, already stored), if the job is still at `base_version`, the version the
/// API server built `spec` from; another edit in between is a conflict, so no edit undoes
/// another's change unseen. A `spec` equal to the job's changes nothing.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EditJob {
    pub actor: UserName,
    pub base_version: u64,
    pub spec: JobSpec,
}

/// `POST /internal/jobs/{id}/pause` and `/resume`: take a job off its schedule for a while, or
/// put it back, counting its ticks from the resume. Either answers the job as it now is.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PauseJob {
    pub actor: UserName,
}

/// `POST /internal/jobs/{id}/trigger`: queue a run of the job now, outside its schedule, for
/// its owner worker. The same `idempotency_key` again for the job answers the run it queued.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TriggerJob {
    pub actor: UserName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

/// What a trigger did: the run, and whether this request queued it (`false`: an earlier
/// request with the same idempotency key did).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TriggerAnswer {
    pub run: Run,
    pub queued: bool,
}

/// `POST /internal/users`: create a user. The API server generated the token and sends only
/// its hash; the token itself never reaches the manager.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CreateUser {
    pub name: UserName,
    pub admin: bool,
    pub token_sha256: String,
    pub actor: UserName,
}

/// `POST /internal/users/{name}/token`: give the user a new token (only its hash travels); the
/// old one stops working.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RotateToken {
    pub token_sha256: String,
    pub actor: UserName,
}

/// `POST /internal/users/{name}/disable`: disable the user and take its jobs off the schedule.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DisableUser {
    pub actor: UserName,
}

/// `POST /internal/runs/{id}/kill` and `POST /internal/jobs/{id}/kill`: stop a run, or a
/// job's runs under way. The reason recorded names the actor (`killed by <actor>`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Kill {
    pub actor: UserName,
}

/// A drain or an undrain of a worker, asked by `actor` (an admin).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerAction {
    pub actor: UserName,
}

/// A worker's drain, as it stands after a drain or an undrain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DrainAnswer {
    pub worker: String,
    pub drained: bool,
    /// The jobs it still holds: while drained, those being handed to the other workers.
    pub jobs: usize,
}

/// What a kill did. A kill of one run that has ended is a `conflict` instead, saying how it
/// ended.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KillAnswer {
    /// Runs asked to stop now: their workers kill them (process group and cgroup) and record
    /// them `killed`, or `skipped` if their process had not started yet.
    pub asked: Vec<RunId>,
    /// Runs an earlier kill had asked to stop already: nothing changed for them.
    pub already_asked: Vec<RunId>,
    /// Retries that were waiting their turn: recorded `skipped`.
    pub skipped: Vec<RunId>,
}

/// A user as the leader answers about it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UserState {
    pub name: UserName,
    pub admin: bool,
    /// When it was disabled, if it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The jobs a disable took off the schedule.
    #[serde(default)]
    pub jobs_finished: Vec<crate::job::JobId>,
    /// How many running runs a disable asked to stop.
    #[serde(default)]
    pub runs_stopped: u64,
}

/// Why the leader refused a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// This manager does not lead (any more): look the leader up again and retry.
    NotLeader,
    /// The internal token is missing or wrong.
    Unauthorized,
    /// The request is malformed or breaks an invariant.
    Invalid,
    NotFound,
    /// The write contradicts the stored state (an id taken by another definition, a disabled
    /// owner, a job no worker can fit, an upload swept away).
    Conflict,
    /// A dependency of the leader (MySQL, ZooKeeper, S3) is down: nothing was changed.
    Unavailable,
    /// An idempotency key used before for another request.
    KeyReused,
    Internal,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 8] = [
        ErrorKind::NotLeader,
        ErrorKind::Unauthorized,
        ErrorKind::Invalid,
        ErrorKind::NotFound,
        ErrorKind::Conflict,
        ErrorKind::Unavailable,
        ErrorKind::KeyReused,
        ErrorKind::Internal,
    ];

    /// The HTTP status the leader answers with: the kind is the contract, the status keeps
    /// the answer plain HTTP for logs and curl.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::NotLeader => 421,
            ErrorKind::Unauthorized => 401,
            ErrorKind::Invalid => 400,
            ErrorKind::NotFound => 404,
            ErrorKind::Conflict => 409,
            ErrorKind::Unavailable => 503,
            ErrorKind::KeyReused => 422,
            ErrorKind::Internal => 500,
        }
    }
}

/// Body of every internal error answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{kind:?}: {error}")]
pub struct ErrorBody {
    pub kind: ErrorKind,
    /// For people; shown to API users as is for `invalid`, `not_found` and `conflict`.
    pub error: String,
}

impl ErrorBody {
    pub fn new(kind: ErrorKind, error: impl Into<String>) -> ErrorBody {
        ErrorBody {
            kind,
            error: error.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_kinds_travel_as_snake_case_names() {
        let body = ErrorBody::new(ErrorKind::NotLeader, "elsewhere");
        let json = serde_json::to_value(&body).expect("serializes");
        assert_eq!(
            json,
            serde_json::json!({"kind": "not_leader", "error": "elsewhere"})
        );
        for kind in ErrorKind::ALL {
            let back: ErrorBody = serde_json::from_value(
                serde_json::to_value(ErrorBody::new(kind, "x")).expect("json"),
            )
            .expect("decodes");
            assert_eq!(back.kind, kind);
        }
    }
}
