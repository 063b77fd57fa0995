//! Forwards writes to the leader manager, found through ZooKeeper. During a failover the old
//! leader's election znode lingers until its session expires, so an unreachable leader, or one
//! that answers `not_leader`, is looked up again until `leader_wait` runs out. The leader's
//! refusals come back typed (`internal::ErrorBody`); `error.rs` maps them to public answers.

use distcron_core::internal::{
    CreateJob, CreateUser, DisableUser, DrainAnswer, EditJob, ErrorBody, ErrorKind, FinishJob,
    Kill, KillAnswer, PauseJob, RotateToken, TriggerAnswer, TriggerJob, UserState, WorkerAction,
};
use distcron_core::{Job, JobId, RunId, UserName};
use distcron_store::Pause;
use distcron_zk::{ZkError, ZkSession};
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

/// Why a write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    /// The leader refused it, saying why.
    #[error("the leader refused: {0}")]
    Refused(ErrorBody),
    /// No leader could be reached within `leader_wait`: nothing was changed.
    #[error("no leader manager reachable: {0}")]
    Unreachable(String),
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
    pub async fn leader_url(&self) -> Result<Option<String>, ZkError> {
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
    ) -> Result<T, ManagerError> {
        let deadline = Instant::now() + self.leader_wait;
        loop {
            let problem = match self.try_post(path, body).await {
                Ok(answer) => return answer.map_err(ManagerError::Refused),
                Err(Retry(problem)) => problem,
            };
            if Instant::now() >= deadline {
                return Err(ManagerError::Unreachable(problem));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// One attempt: the leader's answer, or `Err(Retry)` when another attempt may succeed.
    async fn try_post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<Result<T, ErrorBody>, Retry> {
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
        if status.is_success() {
            let value = response
                .json::<T>()
                .await
                .map_err(|e| Retry(format!("unreadable answer from the leader: {e}")))?;
            return Ok(Ok(value));
        }
        let refusal = response.json::<ErrorBody>().await.unwrap_or_else(|e| {
            ErrorBody::new(
                ErrorKind::Internal,
                format!("manager answered {status} with an unreadable body: {e}"),
            )
        });
        if refusal.kind == ErrorKind::NotLeader {
            return Err(Retry(format!("{url} is no longer the leader")));
        }
        Ok(Err(refusal))
    }

    pub async fn create_job(&self, req: &CreateJob) -> Result<Job, ManagerError> {
        self.post("/internal/jobs", req).await
    }

    pub async fn finish_job(&self, id: &JobId, req: &FinishJob) -> Result<Job, ManagerError> {
        self.post(&format!("/internal/jobs/{id}/finish"), req).await
    }

    pub async fn edit_job(&self, id: &JobId, req: &EditJob) -> Result<Job, ManagerError> {
        self.post(&format!("/internal/jobs/{id}/edit"), req).await
    }

    pub async fn pause_job(
        &self,
        id: &JobId,
        what: Pause,
        req: &PauseJob,
    ) -> Result<Job, ManagerError> {
        let verb = match what {
            Pause::Pause => "pause",
            Pause::Resume => "resume",
        };
        self.post(&format!("/internal/jobs/{id}/{verb}"), req).await
    }

    pub async fn trigger_job(
        &self,
        id: &JobId,
        req: &TriggerJob,
    ) -> Result<TriggerAnswer, ManagerError> {
        self.post(&format!("/internal/jobs/{id}/trigger"), req)
            .await
    }

    pub async fn kill_job(&self, id: &JobId, req: &Kill) -> Result<KillAnswer, ManagerError> {
        self.post(&format!("/internal/jobs/{id}/kill"), req).await
    }

    /// Drains (`drain`) or undrains a worker.
    pub async fn drain_worker(
        &self,
        worker: &str,
        drain: bool,
        req: &WorkerAction,
    ) -> Result<DrainAnswer, ManagerError> {
        let verb = if drain { "drain" } else { "undrain" };
        self.post(&format!("/internal/workers/{worker}/{verb}"), req)
            .await
    }

    pub async fn kill_run(&self, id: &RunId, req: &Kill) -> Result<KillAnswer, ManagerError> {
        self.post(&format!("/internal/runs/{id}/kill"), req).await
    }

    pub async fn create_user(&self, req: &CreateUser) -> Result<(), ManagerError> {
        self.post::<_, serde_json::Value>("/internal/users", req)
            .await
            .map(|_| ())
    }

    pub async fn rotate_token(
        &self,
        name: &UserName,
        req: &RotateToken,
    ) -> Result<UserState, ManagerError> {
        self.post(&format!("/internal/users/{name}/token"), req)
            .await
    }

    pub async fn disable_user(
        &self,
        name: &UserName,
        req: &DisableUser,
    ) -> Result<UserState, ManagerError> {
        self.post(&format!("/internal/users/{name}/disable"), req)
            .await
    }
}

struct Retry(String);
