//! Job options at work: concurrency (`allow`, `forbid`, `replace`), retries with backoff,
//! the misfire policies and `retry_interrupted`.

use chrono::{DateTime, Utc};
use distcron_e2e::{ApiClient, ClusterOptions, TestCluster, epoch_of, eventually};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

/// A run row, as the tests look at it.
#[derive(Debug, Clone, sqlx::FromRow)]
struct Row {
    scheduled_at: DateTime<Utc>,
    attempt: u16,
    status: String,
    reason: Option<String>,
    worker_id: Option<String>,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
}

async fn rows(cluster: &TestCluster, job: &str) -> Vec<Row> {
    sqlx::query_as(
        "SELECT scheduled_at, attempt, status, reason, worker_id, created_at, started_at, finished_at \
         FROM runs WHERE job_id = ? ORDER BY scheduled_at, attempt",
    )
    .bind(job)
    .fetch_all(&cluster.db().await)
    .await
    .expect("runs")
}

async fn create(client: &ApiClient, body: Value) -> String {
    client.create_job(&body).await["id"]
        .as_str()
        .expect("id")
        .to_string()
}

/// Waits until `cond` holds for the job's rows, and returns them.
async fn rows_until(
    cluster: &TestCluster,
    job: &str,
    what: &str,
    cond: impl Fn(&[Row]) -> bool,
) -> Vec<Row> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let r = rows(cluster, job).await;
        if cond(&r) {
            return r;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}: {r:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn overlap(a: &Row, b: &Row) -> bool {
    match (a.started_at, a.finished_at, b.started_at, b.finished_at) {
        (Some(s1), Some(e1), Some(s2), Some(e2)) => s1 < e2 && s2 < e1,
        _ => false,
    }
}

#[tokio::test]
async fn forbid_skips_ticks_while_the_previous_run_still_runs_and_allow_overlaps() {
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 1,
        ..Default::default()
    })
    .await;
    let admin = cluster.admin();
    let slow = |concurrency: &str| json!({"type": "command", "schedule": "* * * * * *", "executable": "sleep 2.5", "concurrency": concurrency});
    let forbid = create(&admin, slow("forbid")).await;
    let allow = create(&admin, slow("allow")).await;
    let forbid_rows = rows_until(&cluster, &forbid, "two finished runs", |r| {
        r.iter().filter(|x| x.status == "succeeded").count() >= 2
    })
    .await;
    let allow_rows = rows(&cluster, &allow).await;
    admin.delete(&format!("/jobs/{forbid}")).await;
    admin.delete(&format!("/jobs/{allow}")).await;

    let done: Vec<&Row> = forbid_rows
        .iter()
        .filter(|r| r.status == "succeeded")
        .collect();
    for (i, a) in done.iter().enumerate() {
        for b in &done[i + 1..] {
            assert!(!overlap(a, b), "forbid: runs overlapped: {a:?} {b:?}");
        }
    }
    let skipped: Vec<&Row> = forbid_rows
        .iter()
        .filter(|r| r.status == "skipped")
        .collect();
    assert!(
        skipped.len() >= 2,
        "ticks during a run are skipped: {forbid_rows:#?}"
    );
    for s in skipped {
        assert!(
            s.reason.as_deref().unwrap_or("").contains("forbid"),
            "{s:?}"
        );
    }
    // With `allow`, runs of consecutive seconds are in flight together.
    let running = allow_rows.iter().filter(|r| r.status == "running").count();
    assert!(running >= 2, "allow: overlapping runs: {allow_rows:#?}");
    assert!(
        allow_rows.iter().all(|r| r.status != "skipped"),
        "allow never skips: {allow_rows:#?}"
    );
}

#[tokio::test]
async fn replace_kills_the_running_run_for_the_new_tick() {
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 1,
        ..Default::default()
    })
    .await;
    let admin = cluster.admin();
    let job = create(
        &admin,
        json!({"type": "command", "schedule": "*/2 * * * * *", "executable": "sleep 30", "concurrency": "replace"}),
    )
    .await;
    let r = rows_until(&cluster, &job, "two replaced runs", |r| {
        r.iter().filter(|x| x.status == "killed").count() >= 2
    })
    .await;
    admin.delete(&format!("/jobs/{job}")).await;
    for killed in r.iter().filter(|x| x.status == "killed") {
        let reason = killed.reason.as_deref().unwrap_or("");
        assert!(reason.starts_with("replaced by the run for "), "{killed:?}");
        // It was replaced by the next tick, 2 s later.
        let next = r
            .iter()
            .find(|x| x.scheduled_at > killed.scheduled_at)
            .expect("a next run");
        assert_eq!((next.scheduled_at - killed.scheduled_at).num_seconds(), 2);
        assert!(
            reason.contains(&next.scheduled_at.format("%H:%M:%S").to_string()),
            "{reason}"
        );
    }
}

#[tokio::test]
async fn a_failed_run_is_retried_with_exponential_backoff_until_its_retries_are_spent() {
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 1,
        ..Default::default()
    })
    .await;
    let admin = cluster.admin();
    let witness = cluster.witness("retries");
    let job = create(
        &admin,
        json!({
            "type": "command", "schedule": "@once", "retries": 3, "retry_backoff_seconds": 1,
            "executable": format!("{}; exit 1", witness.command("try")),
        }),
    )
    .await;
    let r = rows_until(&cluster, &job, "four failed attempts", |r| {
        r.iter().filter(|x| x.status == "failed").count() == 4
    })
    .await;
    assert_eq!(
        r.iter().map(|x| x.attempt).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    assert!(
        r.iter().all(|x| x.scheduled_at == r[0].scheduled_at),
        "retries are of the same tick"
    );
    // Each attempt starts its backoff after the previous one ended (1, 2 and 4 s), within
    // 100 ms: the recorded start (the spawn) against the recorded end before it; and the
    // process's own start (the witness) never before its time.
    let starts: BTreeMap<u16, f64> = witness
        .entries()
        .into_iter()
        .map(|e| (e.attempt, e.started))
        .collect();
    assert_eq!(starts.len(), 4, "one process per attempt: {starts:?}");
    for (i, backoff) in [(1usize, 1.0), (2, 2.0), (3, 4.0)] {
        let ended = epoch_of(r[i - 1].finished_at.expect("finished"));
        let spawned = epoch_of(r[i].started_at.expect("started"));
        let gap = spawned - ended;
        assert!(
            (backoff..backoff + 0.1).contains(&gap),
            "attempt {} started {gap:.3} s after attempt {} ended, not {backoff} s (+100 ms): {r:#?}",
            r[i].attempt,
            r[i - 1].attempt
        );
        assert!(
            starts[&r[i].attempt] >= ended + backoff,
            "attempt {}'s process ran before its backoff was over",
            r[i].attempt
        );
    }
    // No fifth attempt, and the one-shot job is finished once its retries are spent.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(rows(&cluster, &job).await.len(), 4);
    assert_eq!(
        admin.get(&format!("/jobs/{job}")).await.body["status"],
        "finished"
    );
}

#[tokio::test]
async fn missed_ticks_follow_the_misfire_policy_of_each_job() {
    let session = Duration::from_secs(3);
    let mut cluster = TestCluster::start_with(ClusterOptions {
        workers: 1,
        session_timeout_ms: session.as_millis() as u64,
        ..Default::default()
    })
    .await;
    let admin = cluster.admin();
    let every_second = |misfire: &str| json!({"type": "command", "schedule": "* * * * * *", "executable": "true", "misfire": misfire});
    let skip = create(&admin, every_second("skip")).await;
    let run_once = create(&admin, every_second("run_once")).await;
    rows_until(&cluster, &skip, "runs on worker-1", |r| r.len() >= 2).await;
    // The only worker dies; nobody runs the jobs until another worker comes.
    cluster.kill("worker-1");
    tokio::time::sleep(session + Duration::from_secs(3)).await;
    cluster.add_worker(2);
    cluster.wait_healthy("worker-2").await;

    // The ticks worker-2 found missed were written together, in one statement at adoption.
    let adoption = |r: &[Row]| -> Vec<Row> {
        let mut by_created: BTreeMap<DateTime<Utc>, Vec<Row>> = BTreeMap::new();
        for x in r
            .iter()
            .filter(|x| x.worker_id.as_deref() == Some("worker-2"))
        {
            by_created.entry(x.created_at).or_default().push(x.clone());
        }
        by_created
            .into_values()
            .find(|g| g.len() > 1)
            .unwrap_or_default()
    };
    let r = rows_until(&cluster, &skip, "skip's adoption", |r| {
        !adoption(r).is_empty()
    })
    .await;
    let missed = adoption(&r);
    assert!(missed.len() >= 3, "{missed:#?}");
    assert!(
        missed
            .iter()
            .all(|x| x.status == "skipped"
                && x.reason.as_deref().unwrap_or("").starts_with("misfire")),
        "skip: every missed tick skipped, no catch-up run: {missed:#?}"
    );
    let r = rows_until(&cluster, &run_once, "run_once's adoption", |r| {
        !adoption(r).is_empty()
    })
    .await;
    let missed = adoption(&r);
    let (ran, skipped): (Vec<&Row>, Vec<&Row>) = missed.iter().partition(|x| x.status != "skipped");
    assert_eq!(ran.len(), 1, "run_once: one catch-up run: {missed:#?}");
    assert_eq!(
        ran[0].scheduled_at,
        missed.iter().map(|x| x.scheduled_at).max().expect("ticks"),
        "for the latest tick"
    );
    assert!(
        skipped.len() >= 2
            && skipped
                .iter()
                .all(|x| x.reason.as_deref().unwrap_or("").starts_with("misfire"))
    );
    admin.delete(&format!("/jobs/{skip}")).await;
    admin.delete(&format!("/jobs/{run_once}")).await;
}

#[tokio::test]
async fn an_interrupted_run_of_a_job_without_retry_interrupted_is_not_retried() {
    let mut cluster = TestCluster::start_with(ClusterOptions {
        workers: 1,
        session_timeout_ms: 3000,
        ..Default::default()
    })
    .await;
    let admin = cluster.admin();
    let job = create(
        &admin,
        json!({"type": "command", "schedule": "@once", "executable": "sleep 300", "retry_interrupted": false}),
    )
    .await;
    rows_until(&cluster, &job, "the run to start", |r| {
        r.iter().any(|x| x.status == "running")
    })
    .await;
    cluster.add_worker(2);
    cluster.wait_healthy("worker-2").await;
    cluster.kill("worker-1");
    let r = rows_until(&cluster, &job, "the run to be interrupted", |r| {
        r.iter().any(|x| x.status == "interrupted")
    })
    .await;
    assert_eq!(r.len(), 1);
    // Well past the time a retry would have started: none did, and the one-shot job is done.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(rows(&cluster, &job).await.len(), 1, "no attempt 2");
    let status = eventually("the job to be finished", Duration::from_secs(10), || {
        let admin = admin.clone();
        let job = job.clone();
        async move {
            let s = admin.get(&format!("/jobs/{job}")).await.body["status"].clone();
            (s == "finished").then_some(s)
        }
    })
    .await;
    assert_eq!(status, "finished");
}
