//! Checks the end-to-end tests share: the run rows of a job, the witness file's verdicts (no
//! tick twice, every second accounted for, an outage caught up once), and small helpers to drive
//! and observe a cluster.

use crate::{ApiClient, TestCluster, Witness, WitnessEntry, epoch_now, eventually};
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// A run row, as MySQL has it.
#[derive(Clone, Debug)]
pub struct Row {
    pub status: String,
    pub reason: Option<String>,
    pub worker: Option<String>,
}

/// (scheduled_at, attempt) -> row, for one job.
pub type Rows = BTreeMap<(DateTime<Utc>, u16), Row>;
pub type RunRow = (DateTime<Utc>, u16, String, Option<String>, Option<String>);

pub async fn rows_of(cluster: &TestCluster, job: &str) -> Rows {
    let db = cluster.db().await;
    let rows: Vec<RunRow> = sqlx::query_as(
        "SELECT scheduled_at, attempt, status, reason, worker_id FROM runs WHERE job_id = ? ORDER BY scheduled_at, attempt",
    )
    .bind(job)
    .fetch_all(&db)
    .await
    .expect("runs");
    db.close().await;
    rows.into_iter()
        .map(|(t, a, status, reason, worker)| {
            (
                (t, a),
                Row {
                    status,
                    reason,
                    worker,
                },
            )
        })
        .collect()
}

/// The job's rows once none is under way (`running` or `pending`): what a verdict on a job
/// taken off its schedule reads, since the last outcomes reach MySQL a moment after the runs
/// end.
pub async fn settled_rows(cluster: &TestCluster, job: &str) -> Rows {
    eventually(
        "the job's last runs to be recorded",
        Duration::from_secs(20),
        || async {
            let rows = rows_of(cluster, job).await;
            let busy = rows
                .values()
                .any(|r| r.status == "running" || r.status == "pending");
            (!busy).then_some(rows)
        },
    )
    .await
}

pub fn id_of(job: &Value) -> String {
    job["id"].as_str().expect("job id").to_string()
}

/// Creates `n` every-second jobs that append to `witness`, tagged `<tag><i>`; returns their ids.
pub async fn every_second_jobs(
    client: &ApiClient,
    witness: &Witness,
    tag: &str,
    n: usize,
) -> Vec<String> {
    let mut jobs = Vec::with_capacity(n);
    for i in 0..n {
        jobs.push(id_of(
            &client
                .create_job(&every_second(witness, &format!("{tag}{i}")))
                .await,
        ));
    }
    jobs
}

pub fn every_second(witness: &Witness, extra: &str) -> Value {
    json!({"type": "command", "schedule": "* * * * * *", "executable": witness.command(extra)})
}

/// The whole second `t` (seconds since the epoch) falls in.
pub fn second(t: f64) -> DateTime<Utc> {
    DateTime::from_timestamp(t.floor() as i64, 0).expect("time")
}

pub fn seconds(t: DateTime<Utc>) -> f64 {
    t.timestamp() as f64
}

/// No (job, scheduled time, attempt, what) was written twice.
pub fn assert_no_duplicates(entries: &[WitnessEntry]) {
    let mut seen: HashMap<(String, DateTime<Utc>, u16, String), &WitnessEntry> = HashMap::new();
    for e in entries {
        let key = (e.job.clone(), e.scheduled_at, e.attempt, e.extra.clone());
        if let Some(first) = seen.insert(key, e) {
            panic!("ran twice: {first:?} and {e:?}");
        }
    }
}

/// Waits until every one of `jobs` has a witness line started after `after`; returns the first
/// such line of each.
pub async fn each_runs_after(
    witness: &Witness,
    jobs: &[String],
    after: f64,
    what: &str,
    timeout: Duration,
) -> HashMap<String, WitnessEntry> {
    eventually(what, timeout, || {
        let entries = witness.entries();
        async move {
            let mut first: HashMap<String, WitnessEntry> = HashMap::new();
            for e in entries.into_iter().filter(|e| e.started > after) {
                match first.get(&e.job) {
                    Some(f) if f.started <= e.started => {}
                    _ => {
                        first.insert(e.job.clone(), e);
                    }
                }
            }
            jobs.iter().all(|j| first.contains_key(j)).then_some(first)
        }
    })
    .await
}

/// Deletes the jobs and waits until nothing more is appended to the witness.
pub async fn stop_jobs(cluster: &TestCluster, jobs: &[String], witness: &Witness) {
    let admin = cluster.admin();
    for j in jobs {
        admin.delete(&format!("/jobs/{j}")).await;
    }
    let mut last = usize::MAX;
    eventually(
        "the deleted jobs to stop running (the witness to settle)",
        Duration::from_secs(20),
        || {
            let n = witness.lines().len();
            let settled = n == last;
            last = n;
            async move {
                tokio::time::sleep(Duration::from_millis(1500)).await;
                settled.then_some(())
            }
        },
    )
    .await;
}

/// Checks that every second of `job`, from its first run to its last, either ran exactly once
/// (and its row says `succeeded`) or has a row saying why not: `skipped` with a reason, or
/// `interrupted`. Returns the skipped seconds and their reasons.
pub fn assert_every_second_accounted(
    job: &str,
    entries: &[WitnessEntry],
    rows: &Rows,
) -> BTreeMap<DateTime<Utc>, String> {
    let ran: Vec<&WitnessEntry> = entries
        .iter()
        .filter(|e| e.job == job && e.attempt == 1)
        .collect();
    let from = ran.iter().map(|e| e.scheduled_at).min().expect("it ran");
    let to = ran.iter().map(|e| e.scheduled_at).max().expect("it ran");
    let mut skipped = BTreeMap::new();
    let mut t = from;
    while t <= to {
        let ran_here = ran.iter().filter(|e| e.scheduled_at == t).count();
        match rows.get(&(t, 1)) {
            Some(r) if r.status == "succeeded" => {
                assert_eq!(ran_here, 1, "{job} at {t}: succeeded, so it ran once")
            }
            Some(Row {
                status,
                reason: Some(reason),
                ..
            }) if status == "skipped" => {
                assert_eq!(ran_here, 0, "{job} at {t}: skipped ({reason}) yet it ran");
                skipped.insert(t, reason.clone());
            }
            Some(r) if r.status == "interrupted" => {
                assert!(
                    ran_here <= 1,
                    "{job} at {t}: interrupted, ran {ran_here} times"
                )
            }
            other => panic!("{job} at {t}: {other:?} (ran {ran_here} times)"),
        }
        t += ChronoDuration::seconds(1);
    }
    skipped
}

/// The misfire policy `run_once` after an outage during which the ticks `from..=to` could not
/// be claimed: at most one of them ran, and only once the outage was over (`ended`); if none
/// did, the first tick after them is the catch-up run. Every other second from `from` up to the
/// catch-up run is recorded as skipped, misfire, and the catch-up run `succeeded`. Also checks
/// that every second from the job's first run to its last is accounted for. `entries` has one
/// line per run (its start). Returns the number of misfires.
pub fn assert_outage_caught_up_once(
    job: &str,
    entries: &[WitnessEntry],
    rows: &Rows,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    ended: f64,
) -> usize {
    let skipped = assert_every_second_accounted(job, entries, rows);
    let mine: Vec<&WitnessEntry> = entries.iter().filter(|e| e.job == job).collect();
    let inside: Vec<&&WitnessEntry> = mine
        .iter()
        .filter(|e| e.scheduled_at >= from && e.scheduled_at <= to)
        .collect();
    assert!(
        inside.len() <= 1,
        "{job}: more than one catch-up run for the outage ({from} to {to}): {inside:?}"
    );
    let catch_up = match inside.first() {
        Some(e) => **e,
        None => mine
            .iter()
            .filter(|e| e.scheduled_at > to)
            .min_by_key(|e| e.scheduled_at)
            .copied()
            .unwrap_or_else(|| panic!("{job}: no run after the outage")),
    };
    assert!(
        catch_up.started >= ended,
        "{job}: {catch_up:?} started before the outage was over ({ended:.3})"
    );
    let mut misfires = 0;
    let mut t = from;
    while t <= to.max(catch_up.scheduled_at) {
        if t != catch_up.scheduled_at {
            let reason = skipped
                .get(&t)
                .unwrap_or_else(|| panic!("{job} at {t}: missed, yet not recorded as skipped"));
            assert!(reason.starts_with("misfire"), "{job} at {t}: {reason}");
            misfires += 1;
        }
        t += ChronoDuration::seconds(1);
    }
    assert_eq!(
        rows.get(&(catch_up.scheduled_at, 1))
            .map(|r| r.status.as_str()),
        Some("succeeded"),
        "{job}: the catch-up run {catch_up:?}"
    );
    misfires
}

/// What a worker's `/healthz` says about launching: `None` while it launches, else why not.
pub async fn paused_reason(url: String) -> Option<String> {
    let r = reqwest::Client::new()
        .get(format!("{url}/healthz"))
        .timeout(Duration::from_secs(1))
        .send()
        .await
        .ok()?;
    let body: Value = r.json().await.ok()?;
    body["launching"]["paused"].as_str().map(str::to_string)
}

pub async fn launches(url: String) -> bool {
    let Ok(r) = reqwest::Client::new()
        .get(format!("{url}/healthz"))
        .timeout(Duration::from_secs(1))
        .send()
        .await
    else {
        return false;
    };
    r.json::<Value>()
        .await
        .is_ok_and(|b| b["launching"] == true)
}

/// Waits until the job has a run in a final state, and returns it with its output.
pub async fn finished_run(client: &ApiClient, job: &str, timeout: Duration) -> Value {
    let id = eventually(&format!("a finished run of job {job}"), timeout, || {
        let client = client.clone();
        let job = job.to_string();
        async move {
            let runs = client.get(&format!("/jobs/{job}/runs")).await.body;
            runs.as_array()?
                .iter()
                .find(|r| {
                    !matches!(
                        r["status"].as_str(),
                        Some("claimed") | Some("running") | Some("pending")
                    )
                })
                .map(|r| r["id"].as_str().unwrap_or_default().to_string())
        }
    })
    .await;
    let run = client.get(&format!("/runs/{id}")).await;
    assert_eq!(run.status, StatusCode::OK);
    run.body
}

/// Sleeps until the middle of a second, so that a fault injected next is half a second away
/// from every tick of an every-second job.
pub async fn until_mid_second() {
    let frac = epoch_now().fract();
    let wait = if frac < 0.5 { 0.5 - frac } else { 1.5 - frac };
    tokio::time::sleep(Duration::from_secs_f64(wait)).await;
}

/// The `key=value` lines a probe job printed, from its run's stdout (values trimmed).
pub fn stdout_report(run: &Value) -> std::collections::BTreeMap<String, String> {
    run["output"]["stdout"]
        .as_str()
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}
