//! Forwards writes to the leader manager, found through ZooKeeper. During a failover the old
//! leader's election znode lingers until its session expires, so an unreachable or refusing
//! leader is looked up again until `leader_wait` runs out; then the client gets 503.

use crate::error::ApiError;
use distcron_core::internal::{
    CreateJob, CreateUser, DisableUser, ErrorBody, FinishJob, RotateToken, UserState,
};
use distcron_core::{Job, JobId, UserName};
use distcron_zk::ZkSession;
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::{Duration, Instant};

#[derive(Clone)]
pub struct ManagerClient {
    http: reqwest::Client,
    zk: ZkSession,
    token: SecretString,
    leader_wait: Duration,
}

/// What the leader answered.
pub enum Answer<T> {
    Ok(T, StatusCode),
    Refused(StatusCode, String),
}

impl ManagerClient {
    pub fn new(zk: ZkSession, token: SecretString, leader_wait: Duration) -> ManagerClient {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(1))
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        ManagerClient {
            http,
            zk,
            token,
            leader_wait,
        }
    }

    /// The leader's internal URL, if ZooKeeper names one.
    pub async fn leader_url(&self) -> Result<Option<String>, ApiError> {
        let client = self.zk.client()?;
        Ok(distcron_zk::current_leader(&client)
            .await?
            .map(|l| l.internal_url))
    }

    /// Whether the leader answers its `/healthz` within `timeout`; the reason if not.
    pub async fn leader_healthy(&self, timeout: Duration) -> Result<(), String> {
        let url = self
            .leader_url()
            .await
            .map_err(|e| e.to_string())?
            .ok_or("no leader manager is elected")?;
        match self
            .http
            .get(format!("{url}/healthz"))
            .timeout(timeout)
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(format!("leader at {url} answered {}", r.status())),
            Err(e) => Err(format!("leader at {url} unreachable: {e}")),
        }
    }

    async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<Answer<T>, ApiError> {
        let deadline = Instant::now() + self.leader_wait;
        let mut last_problem = String::from("no leader manager is elected");
        loop {
            match self.try_post(path, body).await {
                Ok(Some(answer)) => return Ok(answer),
                Ok(None) => {}
                Err(Retry(problem)) => last_problem = problem,
            }
            if Instant::now() >= deadline {
                return Err(ApiError::Unavailable {
                    what: "the manager",
                    cause: last_problem,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// One attempt; `Err(Retry)` when another attempt may succeed.
    async fn try_post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<Option<Answer<T>>, Retry> {
        let url = match self.leader_url().await {
            Ok(Some(url)) => url,
            Ok(None) => return Err(Retry("no leader manager is elected".into())),
            Err(e) => return Err(Retry(format!("cannot look up the leader: {e}"))),
        };
        let response = self
            .http
            .post(format!("{url}{path}"))
            .bearer_auth(self.token.expose_secret())
            .json(body)
            .send()
            .await
            .map_err(|e| Retry(format!("leader at {url} unreachable: {e}")))?;
        let status = response.status();
        if status == StatusCode::MISDIRECTED_REQUEST {
            return Err(Retry(format!("{url} is no longer the leader")));
        }
        if status.is_success() {
            let value = response
                .json::<T>()
                .await
                .map_err(|e| Retry(format!("unreadable answer from the leader: {e}")))?;
            return Ok(Some(Answer::Ok(value, status)));
        }
        let body: ErrorBody = response.json().await.unwrap_or(ErrorBody {
            error: format!("manager answered {status}"),
            kind: "internal".into(),
        });
        Ok(Some(Answer::Refused(status, body.error)))
    }

    pub async fn create_job(&self, req: &CreateJob) -> Result<Job, ApiError> {
        match self.post::<_, Job>("/internal/jobs", req).await? {
            Answer::Ok(job, _) => Ok(job),
            Answer::Refused(status, message) => Err(refusal(status, message)),
        }
    }

    pub async fn finish_job(&self, id: &JobId, req: &FinishJob) -> Result<Job, ApiError> {
        match self
            .post::<_, Job>(&format!("/internal/jobs/{id}/finish"), req)
            .await?
        {
            Answer::Ok(job, _) => Ok(job),
            Answer::Refused(status, message) => Err(refusal(status, message)),
        }
    }

    pub async fn create_user(&self, req: &CreateUser) -> Result<(), ApiError> {
        match self
            .post::<_, serde_json::Value>("/internal/users", req)
            .await?
        {
            Answer::Ok(..) => Ok(()),
            Answer::Refused(status, message) => Err(refusal(status, message)),
        }
    }

    pub async fn rotate_token(
        &self,
        name: &UserName,
        req: &RotateToken,
    ) -> Result<UserState, ApiError> {
        match self
            .post::<_, UserState>(&format!("/internal/users/{name}/token"), req)
            .await?
        {
            Answer::Ok(user, _) => Ok(user),
            Answer::Refused(status, message) => Err(refusal(status, message)),
        }
    }

    pub async fn disable_user(
        &self,
        name: &UserName,
        req: &DisableUser,
    ) -> Result<UserState, ApiError> {
        match self
            .post::<_, UserState>(&format!("/internal/users/{name}/disable"), req)
            .await?
        {
            Answer::Ok(user, _) => Ok(user),
            Answer::Refused(status, message) => Err(refusal(status, message)),
        }
    }
}

struct Retry(String);

fn refusal(status: StatusCode, message: String) -> ApiError {
    match status {
        StatusCode::CONFLICT => ApiError::Conflict(message),
        StatusCode::NOT_FOUND => ApiError::NotFound(message),
        StatusCode::SERVICE_UNAVAILABLE => ApiError::Unavailable {
            what: "the manager's dependencies",
            cause: message,
        },
        StatusCode::BAD_REQUEST => ApiError::bad_request("invalid", message),
        other => ApiError::Internal(anyhow::anyhow!("manager answered {other}: {message}")),
    }
}
