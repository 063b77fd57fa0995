//! A run task that panics (a debug-build test hook, `DC_TEST_PANIC_RUN_TASK_FOR`, panics
//! inside the supervision of one job's runs once their process has started) ends in a
//! recorded failure with the panic in its reason, leaves no process of the run behind, and
//! the worker goes on scheduling: another job's later ticks still run.

use distcron_e2e::checks::{finished_run, id_of};
use distcron_e2e::process::processes_with;
use distcron_e2e::{ClusterOptions, TestCluster, epoch_of_json, eventually};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn a_panicking_run_task_is_recorded_failed_its_processes_are_killed_and_scheduling_goes_on() {
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 1,
        worker_env: vec![("DC_TEST_PANIC_RUN_TASK_FOR".into(), "panics".into())],
        ..Default::default()
    })
    .await;
    let admin = cluster.admin();
    let steady = admin
        .create_job(&json!({"type": "command", "schedule": "* * * * * *", "executable": "true"}))
        .await;
    let marker = format!("{}", 2000 + std::process::id() % 50_000);
    // A background child and the main process, both sleeping far past the test.
    let command = format!("sleep {marker}.1 & sleep {marker}.2");
    let job = admin
        .create_job(&json!({"type": "command", "schedule": "@once", "executable": command, "name": "panics"}))
        .await;

    let run = finished_run(&admin, &id_of(&job), Duration::from_secs(20)).await;
    assert_eq!(run["status"], "failed", "{run}");
    let reason = run["reason"].as_str().expect("a reason");
    assert!(
        reason.starts_with("the worker's run task panicked: ")
            && reason.contains("DC_TEST_PANIC_RUN_TASK_FOR"),
        "{reason}"
    );
    eventually(
        "every process of the panicked run to be gone",
        Duration::from_secs(5),
        || {
            let needle = format!("sleep {marker}");
            async move { processes_with(&needle).is_empty().then_some(()) }
        },
    )
    .await;

    // The worker still schedules: a tick of the other job after the panic runs and succeeds.
    let after = epoch_of_json(&run["finished_at"]);
    let steady_id = id_of(&steady);
    eventually(
        "a later tick of another job to succeed",
        Duration::from_secs(15),
        || {
            let (admin, steady_id) = (admin.clone(), steady_id.clone());
            async move {
                let runs = admin.get(&format!("/jobs/{steady_id}/runs")).await.body;
                runs.as_array()?
                    .iter()
                    .find(|r| {
                        r["status"] == "succeeded"
                            && epoch_of_json(&r["scheduled_at"]) > after + 1.0
                    })
                    .map(|_| ())
            }
        },
    )
    .await;
    assert!(
        cluster.log_of("worker-1").contains("a run task panicked"),
        "the worker logs the panic"
    );
}
