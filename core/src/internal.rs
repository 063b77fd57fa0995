//! The internal API between API servers and the leader manager: API servers validate and
//! authenticate, the leader performs every write. Both sides compile against these types.

use crate::job::{Job, UserName};
use serde::{Deserialize, Serialize};

/// `POST /internal/jobs`: persist and publish a job the API server has validated. Idempotent
/// on `job.id`, so an API server may retry after a timeout without creating a second job.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CreateJob {
    pub job: Job,
    pub actor: UserName,
}

/// `POST /internal/jobs/{id}/finish`: take a job off the schedule.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FinishJob {
    pub actor: UserName,
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

/// Body of every internal error answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    /// Machine-readable kind: `not_leader`, `unavailable`, `conflict`, `not_found`, `bad_request`.
    pub kind: String,
}
