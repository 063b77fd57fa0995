//! Owns a process's long-lived tasks. A scheduler that dies silently is the worst bug a cron
//! system can have, so every task that must keep running is spawned here: when one ends, the
//! supervisor says which, cancels the others and the process exits non-zero.

use std::future::Future;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub struct Supervisor {
    tasks: JoinSet<(&'static str, anyhow::Result<()>)>,
    cancel: CancellationToken,
}

impl Default for Supervisor {
    fn default() -> Self {
        Self::new()
    }
}

impl Supervisor {
    pub fn new() -> Supervisor {
        Supervisor {
            tasks: JoinSet::new(),
            cancel: CancellationToken::new(),
        }
    }

    /// The token every task watches to know it should stop.
    pub fn token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Spawns a task that is expected to run until cancelled.
    pub fn spawn<F>(&mut self, name: &'static str, task: F)
    where
        F: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.tasks.spawn(async move { (name, task.await) });
    }

    /// Runs until `shutdown` resolves or a task ends, then cancels everything and waits up to
    /// `grace` for the tasks to finish. Returns an error naming the task if one ended first.
    pub async fn run(
        mut self,
        shutdown: impl Future<Output = ()>,
        grace: Duration,
    ) -> anyhow::Result<()> {
        let outcome = tokio::select! {
            _ = shutdown => Ok(()),
            _ = self.cancel.cancelled() => Ok(()),
            Some(joined) = self.tasks.join_next() => Err(match joined {
                Ok((name, Ok(()))) => anyhow::anyhow!("task `{name}` stopped unexpectedly"),
                Ok((name, Err(e))) => e.context(format!("task `{name}` failed")),
                Err(e) => anyhow::anyhow!("a task panicked: {e}"),
            }),
        };
        if let Err(e) = &outcome {
            tracing::error!(error = format!("{e:#}"), "shutting down");
        }
        self.cancel.cancel();
        let drain = async {
            while let Some(joined) = self.tasks.join_next().await {
                match joined {
                    Ok((name, Err(e))) => {
                        tracing::warn!(
                            task = name,
                            error = format!("{e:#}"),
                            "task ended with an error during shutdown"
                        )
                    }
                    Err(e) if e.is_panic() => {
                        tracing::error!("a task panicked during shutdown: {e}")
                    }
                    _ => {}
                }
            }
        };
        if tokio::time::timeout(grace, drain).await.is_err() {
            tracing::warn!(
                grace_secs = grace.as_secs_f64(),
                "tasks did not stop within the grace period; aborting them"
            );
            self.tasks.abort_all();
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_task_that_ends_brings_the_process_down_and_is_named() {
        let mut sup = Supervisor::new();
        let token = sup.token();
        sup.spawn("forever", async move {
            token.cancelled().await;
            Ok(())
        });
        sup.spawn("scheduler", async { anyhow::bail!("boom") });
        let err = sup
            .run(std::future::pending(), Duration::from_secs(1))
            .await
            .expect_err("must fail");
        assert!(format!("{err:#}").contains("scheduler"), "{err:#}");
    }

    #[tokio::test]
    async fn shutdown_cancels_tasks_and_returns_ok() {
        let mut sup = Supervisor::new();
        let token = sup.token();
        sup.spawn("loop", async move {
            token.cancelled().await;
            Ok(())
        });
        sup.run(async {}, Duration::from_secs(1))
            .await
            .expect("clean shutdown");
    }
}
