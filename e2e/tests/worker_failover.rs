//! The promise under faults: each scheduled time of each job runs once and ends with a recorded
//! outcome, through worker deaths, leader failover and paused processes. The checker reads the
//! witness file the jobs append to (not only MySQL, which is one of the things that fail).

use chrono::{DateTime, Duration as ChronoDuration, DurationRound, Utc};
use distcron_e2e::checks::{
    Row, assert_no_duplicates, every_second, every_second_jobs, rows_of, second, stop_jobs,
};
use distcron_e2e::{ClusterOptions, TestCluster, WitnessEntry, epoch_now, eventually};
use nix::sys::signal::Signal;
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;

#[tokio::test]
async fn an_every_second_job_runs_each_second_exactly_once_for_a_minute() {
    let cluster = TestCluster::start().await;
    let witness = cluster.witness("minute");
    let job = cluster
        .admin()
        .create_job(&every_second(&witness, ""))
        .await;
    let id = job["id"].as_str().expect("id").to_string();
    let created: DateTime<Utc> = job["created_at"]
        .as_str()
        .expect("created_at")
        .parse()
        .expect("time");
    let first = created
        .duration_trunc(ChronoDuration::seconds(1))
        .expect("trunc")
        + ChronoDuration::seconds(1);
    let last = first + ChronoDuration::seconds(59);
    eventually("a minute of runs", Duration::from_secs(90), || {
        let done = witness.entries().iter().any(|e| e.scheduled_at > last);
        async move { done.then_some(()) }
    })
    .await;
    stop_jobs(&cluster, std::slice::from_ref(&id), &witness).await;

    let entries = witness.entries();
    assert_no_duplicates(&entries);
    let in_window: Vec<&WitnessEntry> = entries
        .iter()
        .filter(|e| e.scheduled_at >= first && e.scheduled_at <= last)
        .collect();
    assert_eq!(
        in_window.len(),
        60,
        "60 runs, one per second, from {first} to {last}"
    );
    let mut t = first;
    while t <= last {
        assert_eq!(
            in_window.iter().filter(|e| e.scheduled_at == t).count(),
            1,
            "second {t}"
        );
        t += ChronoDuration::seconds(1);
    }
    // MySQL agrees: one succeeded run per second.
    let rows = rows_of(&cluster, &id).await;
    let mut t = first;
    while t <= last {
        let row = rows
            .get(&(t, 1))
            .unwrap_or_else(|| panic!("no run row for {t}"));
        assert_eq!(row.status, "succeeded", "second {t}");
        t += ChronoDuration::seconds(1);
    }
    let lags: Vec<f64> = in_window.iter().map(|e| e.lag()).collect();
    let worst = lags.iter().cloned().fold(0.0, f64::max);
    eprintln!("start lag over the minute: max {:.1} ms", worst * 1000.0);
    assert!(
        worst < 1.0,
        "every run started within a second of its time (worst {worst:.3} s)"
    );
}

#[tokio::test]
async fn killing_a_worker_that_owns_a_third_of_50_every_second_jobs_moves_them_without_running_any_second_twice()
 {
    let session = Duration::from_secs(4);
    let mut cluster = TestCluster::start_with(ClusterOptions {
        workers: 1,
        session_timeout_ms: session.as_millis() as u64,
        ..Default::default()
    })
    .await;
    let admin = cluster.admin();
    let witness = cluster.witness("kill9");
    let jobs = every_second_jobs(&admin, &witness, "tick-", 50).await;
    // A long run that will be in flight when its worker dies.
    let long = admin
        .create_job(&json!({"type": "command", "schedule": "@once", "executable": format!("{}; sleep 300", witness.command("long"))}))
        .await;
    let long_id = long["id"].as_str().expect("id").to_string();
    eventually(
        "every job to run on worker-1",
        Duration::from_secs(20),
        || {
            let entries = witness.entries();
            let running: std::collections::HashSet<String> =
                entries.iter().map(|e| e.job.clone()).collect();
            async move { (running.len() == 51).then_some(()) }
        },
    )
    .await;
    // Two more workers join and take their share (a third each, through handoffs); then
    // worker-1 dies owning its third.
    cluster.add_worker(2);
    cluster.add_worker(3);
    cluster.wait_healthy("worker-2").await;
    cluster.wait_healthy("worker-3").await;
    eventually("the rebalance to settle", Duration::from_secs(30), || {
        let admin = admin.clone();
        async move {
            let workers = admin.get("/workers").await.body;
            let jobs: Vec<u64> = workers
                .as_array()?
                .iter()
                .filter_map(|w| w["jobs"].as_u64())
                .collect();
            (jobs == [17, 17, 17]).then_some(())
        }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let long_pid = witness
        .entries()
        .iter()
        .find(|e| e.job == long_id)
        .expect("long run")
        .pid;
    cluster.kill("worker-1");
    let killed = epoch_now();
    // The jobs worker-1 owned: those whose last run before the kill was there.
    let mut last_on: HashMap<String, (f64, String)> = HashMap::new();
    for e in witness
        .entries()
        .into_iter()
        .filter(|e| e.extra.starts_with("tick"))
    {
        let last = last_on
            .entry(e.job.clone())
            .or_insert((e.started, e.worker.clone()));
        if e.started >= last.0 {
            *last = (e.started, e.worker);
        }
    }
    let owned: Vec<String> = last_on
        .into_iter()
        .filter(|(_, (_, w))| w == "worker-1")
        .map(|(j, _)| j)
        .collect();
    assert!(
        (16..=17).contains(&owned.len()),
        "worker-1 owned a third: {}",
        owned.len()
    );

    // Every job it owned runs again, on another worker, within the session timeout plus 2 s.
    let resumed = eventually(
        "every job of worker-1 to run on the other workers",
        Duration::from_secs(30),
        || {
            let entries = witness.entries();
            let owned = owned.clone();
            async move {
                let mut first_after: HashMap<String, f64> = HashMap::new();
                for e in entries.iter().filter(|e| {
                    e.worker != "worker-1" && e.started > killed && owned.contains(&e.job)
                }) {
                    let t = first_after.entry(e.job.clone()).or_insert(e.started);
                    *t = t.min(e.started);
                }
                (first_after.len() == owned.len()).then_some(first_after)
            }
        },
    )
    .await;
    let slowest = resumed.values().cloned().fold(0.0, f64::max) - killed;
    eprintln!(
        "worker-1's {} jobs ran again {slowest:.2} s after the kill (session timeout {session:?})",
        owned.len()
    );
    assert!(
        slowest <= session.as_secs_f64() + 2.0,
        "jobs resumed {slowest:.2} s after the kill; allowed: session timeout + 2 s"
    );

    // The in-flight run is interrupted and retried as attempt 2 on another worker.
    let retry = eventually(
        "the interrupted run's retry",
        Duration::from_secs(30),
        || {
            let entries = witness.entries();
            let long_id = long_id.clone();
            async move {
                entries
                    .into_iter()
                    .find(|e| e.job == long_id && e.attempt == 2)
            }
        },
    )
    .await;
    assert_ne!(retry.worker, "worker-1");
    let rows = rows_of(&cluster, &long_id).await;
    let first = rows.iter().find(|((_, a), _)| *a == 1).expect("attempt 1");
    assert_eq!(first.1.status, "interrupted", "{rows:?}");
    assert!(
        first.1.reason.as_deref().unwrap_or("").contains("worker-1"),
        "{rows:?}"
    );
    assert!(rows.iter().any(|((_, a), r)| *a == 2
        && r.status == "running"
        && r.worker.as_deref() == Some(retry.worker.as_str())));
    // Attempt 1's process is gone: its worker's guardian ended it.
    assert!(
        !std::path::Path::new(&format!("/proc/{long_pid}")).exists(),
        "attempt 1 still runs"
    );

    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut all = jobs.clone();
    all.push(long_id);
    stop_jobs(&cluster, &all, &witness).await;

    let entries = witness.entries();
    assert_no_duplicates(&entries);
    // Every second of every job, from its first run to the end, ran once or is recorded as
    // skipped with its reason; the outage shows as misfires.
    let mut misfires = 0;
    for job in &jobs {
        let ran: Vec<DateTime<Utc>> = entries
            .iter()
            .filter(|e| &e.job == job)
            .map(|e| e.scheduled_at)
            .collect();
        let from = *ran.iter().min().expect("ran");
        let to = *ran.iter().max().expect("ran");
        let rows = rows_of(&cluster, job).await;
        let mut t = from;
        while t <= to {
            let ran_here = ran.iter().filter(|r| **r == t).count();
            match rows.get(&(t, 1)) {
                Some(r) if r.status == "succeeded" => {
                    assert_eq!(ran_here, 1, "{job} at {t}: a succeeded run in the witness")
                }
                Some(Row {
                    status,
                    reason: Some(reason),
                    ..
                }) if status == "skipped" => {
                    assert_eq!(ran_here, 0, "{job} at {t}: skipped yet ran");
                    assert!(reason.starts_with("misfire"), "{reason}");
                    misfires += 1;
                }
                // The worker died between starting the run and recording it.
                Some(r) if r.status == "interrupted" => {
                    assert_eq!(r.worker.as_deref(), Some("worker-1"))
                }
                other => panic!("{job} at {t}: {other:?} (ran {ran_here} times)"),
            }
            t += ChronoDuration::seconds(1);
        }
    }
    eprintln!("{misfires} missed seconds recorded as skipped (misfire), over 50 jobs");
    assert!(
        misfires >= owned.len(),
        "the outage left missed seconds for every job of the dead worker"
    );
}

#[tokio::test]
async fn killing_the_leader_manager_while_jobs_run_leaves_the_runs_untouched() {
    let mut cluster = TestCluster::start().await;
    let admin = cluster.admin();
    let witness = cluster.witness("leader");
    let jobs = every_second_jobs(&admin, &witness, "j", 6).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let leader = cluster.leader().await;
    cluster.kill(&leader);
    let killed = second(epoch_now());
    cluster.wait_leader_other_than(&leader).await;
    tokio::time::sleep(Duration::from_secs(8)).await;
    stop_jobs(&cluster, &jobs, &witness).await;

    let entries = witness.entries();
    assert_no_duplicates(&entries);
    for job in &jobs {
        let ran: Vec<DateTime<Utc>> = entries
            .iter()
            .filter(|e| &e.job == job)
            .map(|e| e.scheduled_at)
            .collect();
        let from = *ran.iter().min().expect("ran");
        let to = *ran.iter().max().expect("ran");
        assert!(
            from < killed && to > killed + ChronoDuration::seconds(5),
            "{job} ran before and after the kill"
        );
        let mut t = from;
        while t <= to {
            assert_eq!(
                ran.iter().filter(|r| **r == t).count(),
                1,
                "{job}: second {t} ran once, leader or not"
            );
            t += ChronoDuration::seconds(1);
        }
    }
}

#[tokio::test]
async fn a_worker_paused_past_its_session_launches_nothing_stale_when_it_resumes() {
    let session = Duration::from_secs(3);
    let mut cluster = TestCluster::start_with(ClusterOptions {
        workers: 1,
        session_timeout_ms: session.as_millis() as u64,
        ..Default::default()
    })
    .await;
    let admin = cluster.admin();
    let witness = cluster.witness("pause");
    let jobs = every_second_jobs(&admin, &witness, "p", 10).await;
    eventually("the jobs to run", Duration::from_secs(20), || {
        let n = witness
            .entries()
            .iter()
            .map(|e| e.job.clone())
            .collect::<std::collections::HashSet<_>>()
            .len();
        async move { (n == 10).then_some(()) }
    })
    .await;
    cluster.add_worker(2);
    cluster.wait_healthy("worker-2").await;

    // The fault: worker-1 is frozen for twice its session timeout, then thawed; between two
    // ticks, so that no process it has just spawned writes its line after the freeze.
    distcron_e2e::checks::until_mid_second().await;
    cluster.signal("worker-1", Signal::SIGSTOP);
    let stopped = epoch_now();
    tokio::time::sleep(session * 2).await;
    cluster.signal("worker-1", Signal::SIGCONT);
    let resumed = epoch_now();
    tokio::time::sleep(Duration::from_secs(5)).await;
    stop_jobs(&cluster, &jobs, &witness).await;

    let entries = witness.entries();
    assert_no_duplicates(&entries);
    // Thawed, it launches nothing of what it held; it rejoins as a new life of itself, and
    // the jobs it then takes back come through handoffs, timed `HANDOFF_LEAD` (3 s) ahead.
    let stale: Vec<&WitnessEntry> = entries
        .iter()
        .filter(|e| {
            e.worker == "worker-1" && e.started > stopped + 0.05 && e.started < resumed + 2.5
        })
        .collect();
    assert!(
        stale.is_empty(),
        "worker-1 launched after it was paused: {stale:?}"
    );
    // The others took over while it was frozen.
    assert!(
        entries
            .iter()
            .any(|e| e.worker == "worker-2" && e.started < resumed)
    );
    // And every second is accounted for exactly once.
    for job in &jobs {
        let rows = rows_of(&cluster, job).await;
        let ran: Vec<DateTime<Utc>> = entries
            .iter()
            .filter(|e| &e.job == job)
            .map(|e| e.scheduled_at)
            .collect();
        let from = *ran.iter().min().expect("ran");
        let to = *ran.iter().max().expect("ran");
        let mut t = from;
        while t <= to {
            let row = rows
                .get(&(t, 1))
                .unwrap_or_else(|| panic!("{job}: no record of {t}"));
            let ran_here = ran.iter().filter(|r| **r == t).count();
            match row.status.as_str() {
                "succeeded" => assert_eq!(ran_here, 1),
                "skipped" => assert_eq!(ran_here, 0),
                "interrupted" => {}
                other => panic!("{job} at {t}: {other}"),
            }
            t += ChronoDuration::seconds(1);
        }
    }
}
