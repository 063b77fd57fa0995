//! MySQL killed while runs are in flight: outcomes are recorded once it is back, no run stays
//! `running`, and the API answers 503 meanwhile.

use chrono::Duration as ChronoDuration;
use distcron_e2e::checks::*;
use distcron_e2e::mysql::PrivateMysql;
use distcron_e2e::{ClusterOptions, TestCluster, WitnessEntry, epoch_now, eventually, unique_name};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

#[tokio::test]
async fn killing_mysql_while_runs_are_in_flight_records_their_outcomes_when_it_returns() {
    let mut mysql = PrivateMysql::start(&unique_name()).await;
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 2,
        mysql: Some(mysql.url()),
        ..Default::default()
    })
    .await;
    let admin = cluster.admin();
    let witness = cluster.witness("mysql");
    let mut jobs = Vec::new();
    for i in 0..3 {
        // Every second, three seconds long: three runs of each job are always in flight.
        let command = format!(
            "{}; sleep 3; {}",
            witness.command(&format!("m{i}-start")),
            witness.command(&format!("m{i}-end"))
        );
        jobs.push(id_of(
            &admin
                .create_job(
                    &json!({"type": "command", "schedule": "* * * * * *", "executable": command}),
                )
                .await,
        ));
    }
    each_runs_after(
        &witness,
        &jobs,
        0.0,
        "every job to finish a run",
        Duration::from_secs(30),
    )
    .await;

    until_mid_second().await;
    mysql.kill();
    let killed = epoch_now();

    // Meanwhile the API answers 503 promptly: not 500, not a hang.
    let probe = |method: Method, path: String, body: Option<Value>| {
        let admin = admin.clone();
        async move {
            let started = Instant::now();
            let a = admin
                .try_request(method.clone(), &path, body.as_ref())
                .await
                .unwrap_or_else(|e| panic!("{method} {path}: no answer ({e})"));
            (format!("{method} {path}"), a, started.elapsed())
        }
    };
    let answers = tokio::join!(
        probe(Method::GET, "/jobs".into(), None),
        probe(Method::GET, format!("/jobs/{}/runs", jobs[0]), None),
        probe(
            Method::POST,
            "/jobs".into(),
            Some(json!({"type": "command", "schedule": "@hourly", "executable": "true"}))
        ),
    );
    for (what, a, took) in [answers.0, answers.1, answers.2] {
        assert_eq!(
            a.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{what}: {}",
            a.body
        );
        assert!(a.error().contains("unavailable"), "{what}: {}", a.body);
        assert!(took < Duration::from_secs(15), "{what}: 503 took {took:?}");
    }
    let so_far = Duration::from_secs_f64(epoch_now() - killed);
    tokio::time::sleep(Duration::from_secs(5).saturating_sub(so_far)).await;
    let restarting = epoch_now();
    mysql.start_again().await;
    let back = epoch_now();
    eprintln!(
        "MySQL down {:.1} s, back {:.1} s after its restart",
        restarting - killed,
        back - restarting
    );

    // The runs in flight at the kill ended while MySQL was away...
    let in_flight: Vec<WitnessEntry> = witness
        .entries()
        .into_iter()
        .filter(|e| {
            e.extra.ends_with("-end") && seconds(e.scheduled_at) < killed && e.started > killed
        })
        .collect();
    assert!(
        in_flight.len() >= jobs.len(),
        "runs were in flight when MySQL died: {in_flight:?}"
    );
    // ...and their outcomes are recorded now that it is back.
    eventually(
        "the outcomes of the runs that ended during the outage",
        Duration::from_secs(30),
        || {
            let in_flight = in_flight.clone();
            let cluster = &cluster;
            async move {
                for e in &in_flight {
                    let rows = rows_of(cluster, &e.job).await;
                    if rows.get(&(e.scheduled_at, 1)).map(|r| r.status.as_str())
                        != Some("succeeded")
                    {
                        return None;
                    }
                }
                Some(())
            }
        },
    )
    .await;
    // Their starts are kept: recorded before the outage or retried until MySQL took them.
    let db = cluster.db().await;
    for e in &in_flight {
        let (started,): (Option<chrono::DateTime<chrono::Utc>>,) = sqlx::query_as(
            "SELECT started_at FROM runs WHERE job_id = ? AND scheduled_at = ? AND attempt = 1",
        )
        .bind(&e.job)
        .bind(e.scheduled_at)
        .fetch_one(&db)
        .await
        .expect("run row");
        let started = started.unwrap_or_else(|| panic!("no start recorded for {e:?}"));
        let process = witness
            .entries()
            .into_iter()
            .find(|s| {
                s.job == e.job && s.scheduled_at == e.scheduled_at && s.extra.ends_with("-start")
            })
            .expect("the run's start line");
        let recorded = distcron_e2e::epoch_of(started);
        assert!(
            (recorded - process.started).abs() < 1.0,
            "{e:?}: started_at {recorded:.3}, its process started at {:.3}",
            process.started
        );
    }
    // The API serves again, and the jobs run again.
    eventually("the API to serve again", Duration::from_secs(30), || {
        let admin = admin.clone();
        async move {
            let a = admin.try_request(Method::GET, "/jobs", None).await.ok()?;
            (a.status == StatusCode::OK).then_some(())
        }
    })
    .await;
    each_runs_after(
        &witness,
        &jobs,
        back + 3.0,
        "every job to run after the outage",
        Duration::from_secs(30),
    )
    .await;
    stop_jobs(&cluster, &jobs, &witness).await;

    // No run is left `running`.
    eventually("every run to be final", Duration::from_secs(30), || {
        let jobs = jobs.clone();
        let cluster = &cluster;
        async move {
            for job in &jobs {
                if rows_of(cluster, job)
                    .await
                    .values()
                    .any(|r| matches!(r.status.as_str(), "running" | "pending"))
                {
                    return None;
                }
            }
            Some(())
        }
    })
    .await;
    let entries = witness.entries();
    assert_no_duplicates(&entries);
    let starts: Vec<WitnessEntry> = entries
        .into_iter()
        .filter(|e| e.extra.ends_with("-start"))
        .collect();
    // Nothing started while it was down: a run needs its row first. (A row written just
    // before the kill, up to the claim lead of 0.5 s ahead of its tick, starts its run at the
    // tick: allow 1 s.)
    let during: Vec<&WitnessEntry> = starts
        .iter()
        .filter(|e| e.started > killed + 1.0 && e.started < restarting)
        .collect();
    assert!(
        during.is_empty(),
        "runs started while MySQL was down: {during:?}"
    );
    // The seconds whose rows could not be written are misfires now, with one catch-up run.
    let outage_from = second(killed) + ChronoDuration::seconds(2);
    let outage_to = second(restarting) - ChronoDuration::seconds(1);
    for job in &jobs {
        let rows = rows_of(&cluster, job).await;
        assert_outage_caught_up_once(job, &starts, &rows, outage_from, outage_to, restarting);
    }
}
