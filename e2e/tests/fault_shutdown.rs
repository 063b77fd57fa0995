//! A worker shut down with SIGTERM: running jobs finish within the grace period, the rest are
//! interrupted and retried elsewhere, and the jobs move at once.

use distcron_e2e::checks::*;
use distcron_e2e::{ClusterOptions, TestCluster, Witness, WitnessEntry, epoch_now, eventually};
use nix::sys::signal::Signal;
use serde_json::json;
use std::time::Duration;

/// What `shut_down_worker_mid_run` did: the every-second job (`tick`) and the long one-shot
/// job (`long`), the time of the SIGTERM and of worker-1's exit.
struct Shutdown {
    cluster: TestCluster,
    witness: Witness,
    tick: String,
    long: String,
    /// The long run's witness line.
    long_start: WitnessEntry,
    signalled: f64,
    exited: f64,
    session: Duration,
}

/// A cluster (10 s sessions) whose worker-1 runs an every-second job and a one-shot job of
/// `long_secs` (started, not ended), with worker-2 standing by; then SIGTERM to worker-1, half a
/// second from any tick, with a shutdown grace period of `grace`. Insists that worker-1 exits 0.
async fn shut_down_worker_mid_run(grace: Duration, long_secs: u64) -> Shutdown {
    let session = Duration::from_secs(10);
    let mut cluster = TestCluster::start_with(ClusterOptions {
        workers: 1,
        session_timeout_ms: session.as_millis() as u64,
        worker_env: vec![(
            "DISTCRON_SHUTDOWN_GRACE_MS".into(),
            grace.as_millis().to_string(),
        )],
        ..Default::default()
    })
    .await;
    let admin = cluster.admin();
    let witness = cluster.witness("shutdown");
    let tick = id_of(&admin.create_job(&every_second(&witness, "tick")).await);
    let command = format!(
        "{}; sleep {long_secs}; {}",
        witness.command("start"),
        witness.command("end")
    );
    let long = id_of(
        &admin
            .create_job(&json!({"type": "command", "schedule": "@once", "executable": command}))
            .await,
    );
    let first = each_runs_after(
        &witness,
        &[tick.clone(), long.clone()],
        0.0,
        "both jobs to run on worker-1",
        Duration::from_secs(20),
    )
    .await;
    let long_start = first[&long].clone();
    assert_eq!(long_start.worker, "worker-1");
    cluster.add_worker(2);
    cluster.wait_healthy("worker-2").await;
    until_mid_second().await;
    assert!(
        witness
            .entries()
            .iter()
            .all(|e| !(e.job == long && e.extra == "end")),
        "the long run is still running when the signal comes"
    );

    cluster.signal("worker-1", Signal::SIGTERM);
    let signalled = epoch_now();
    let status = cluster
        .wait_exit("worker-1", grace + Duration::from_secs(30))
        .await
        .unwrap_or_else(|| panic!("worker-1 still runs after SIGTERM"));
    let exited = epoch_now();
    eprintln!(
        "worker-1 exited {:.1} s after SIGTERM ({status})",
        exited - signalled
    );
    assert!(status.success(), "worker-1 exited with {status}");
    Shutdown {
        cluster,
        witness,
        tick,
        long,
        long_start,
        signalled,
        exited,
        session,
    }
}

impl Shutdown {
    /// worker-1 started nothing after the signal: only the long run's own last line is later.
    fn assert_nothing_started_after_the_signal(&self) {
        let late: Vec<WitnessEntry> = self
            .witness
            .entries()
            .into_iter()
            .filter(|e| e.worker == "worker-1" && e.started > self.signalled && e.extra != "end")
            .collect();
        assert!(
            late.is_empty(),
            "worker-1 started runs after SIGTERM: {late:?}"
        );
    }

    /// The every-second job runs on worker-2 soon after worker-1 has gone: worker-1 closed
    /// its session, so nobody waited for it to expire.
    async fn assert_jobs_moved_quickly(&self) {
        let moved = eventually(
            "the every-second job to run on worker-2",
            Duration::from_secs(30),
            || {
                let entries = self.witness.entries();
                let tick = self.tick.clone();
                async move {
                    entries
                        .into_iter()
                        .filter(|e| e.job == tick && e.worker == "worker-2")
                        .map(|e| e.started)
                        .reduce(f64::min)
                }
            },
        )
        .await;
        let after = moved - self.exited;
        eprintln!(
            "the every-second job ran on worker-2 {after:.2} s after worker-1 exited (session timeout {:?})",
            self.session
        );
        assert!(
            after < self.session.as_secs_f64() / 2.0,
            "the job moved {after:.2} s after worker-1 exited: as if its session had to expire"
        );
    }
}

#[tokio::test]
async fn sigterm_lets_a_running_job_finish_and_hands_the_worker_jobs_over_at_once() {
    let s = shut_down_worker_mid_run(Duration::from_secs(20), 6).await;
    // The long run finished on worker-1, before it exited.
    let end = s
        .witness
        .entries()
        .into_iter()
        .find(|e| e.job == s.long && e.extra == "end")
        .expect("the long run finished");
    assert_eq!(end.worker, "worker-1");
    assert_eq!(end.attempt, 1);
    assert!(end.started < s.exited);
    s.assert_nothing_started_after_the_signal();
    s.assert_jobs_moved_quickly().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop_jobs(&s.cluster, std::slice::from_ref(&s.tick), &s.witness).await;

    // Recorded as succeeded, by worker-1, and not retried.
    let rows = rows_of(&s.cluster, &s.long).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = rows.values().next().expect("row");
    assert_eq!(row.status, "succeeded", "{rows:?}");
    assert_eq!(row.worker.as_deref(), Some("worker-1"));
    let entries = s.witness.entries();
    assert_no_duplicates(&entries);
    let rows = rows_of(&s.cluster, &s.tick).await;
    assert_every_second_accounted(&s.tick, &entries, &rows);
}

#[tokio::test]
async fn sigterm_with_a_grace_shorter_than_the_job_interrupts_it_and_retries_it_elsewhere() {
    let grace = Duration::from_secs(1);
    let s = shut_down_worker_mid_run(grace, 8).await;
    s.assert_nothing_started_after_the_signal();
    // Retried as attempt 2 on worker-2, soon.
    let retry = eventually("attempt 2 of the long run", Duration::from_secs(30), || {
        let entries = s.witness.entries();
        let long = s.long.clone();
        async move {
            entries
                .into_iter()
                .find(|e| e.job == long && e.attempt == 2 && e.extra == "start")
        }
    })
    .await;
    assert_eq!(retry.worker, "worker-2");
    assert_eq!(retry.scheduled_at, s.long_start.scheduled_at);
    eprintln!(
        "attempt 2 started {:.2} s after worker-1 exited",
        retry.started - s.exited
    );
    assert!(
        retry.started - s.exited < s.session.as_secs_f64() / 2.0,
        "the retry waited as if worker-1's session had to expire"
    );
    s.assert_jobs_moved_quickly().await;
    // Attempt 1 was stopped, never finished, and its process is gone.
    assert!(
        !std::path::Path::new(&format!("/proc/{}", s.long_start.pid)).exists(),
        "attempt 1 still runs"
    );
    let rows = rows_of(&s.cluster, &s.long).await;
    // By attempt: the witness has the one-shot time to the millisecond, MySQL to the µs.
    let first = rows
        .iter()
        .find(|((_, a), _)| *a == 1)
        .map(|(_, r)| r)
        .expect("attempt 1");
    assert_eq!(first.status, "interrupted", "{rows:?}");
    assert!(
        first.reason.as_deref().unwrap_or("").contains("shut down"),
        "{rows:?}"
    );
    assert_eq!(first.worker.as_deref(), Some("worker-1"));
    // Attempt 2 runs to the end.
    eventually("attempt 2 to succeed", Duration::from_secs(30), || async {
        let rows = rows_of(&s.cluster, &s.long).await;
        rows.iter()
            .any(|((_, a), r)| *a == 2 && r.status == "succeeded")
            .then_some(())
    })
    .await;
    stop_jobs(&s.cluster, std::slice::from_ref(&s.tick), &s.witness).await;
    let entries = s.witness.entries();
    assert_no_duplicates(&entries);
    let ends: Vec<&WitnessEntry> = entries
        .iter()
        .filter(|e| e.job == s.long && e.extra == "end")
        .collect();
    assert_eq!(ends.len(), 1, "{ends:?}");
    assert_eq!(ends[0].attempt, 2);
    let rows = rows_of(&s.cluster, &s.tick).await;
    assert_every_second_accounted(&s.tick, &entries, &rows);
}
