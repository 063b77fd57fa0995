//! Edits through the whole path: API (validated as a create is) → leader (the row's new
//! version, its audit with old and new values, the task republished) → the owner worker, which
//! takes the new definition from its next tick not yet claimed, without a tick lost or run
//! twice and without restarting anything.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Timelike, Utc};
use distcron_e2e::checks::{
    assert_every_second_accounted, each_runs_after, every_second, id_of, settled_rows, stop_jobs,
};
use distcron_e2e::{ClusterOptions, TestCluster, epoch_now, eventually};
use serde_json::{Value, json};
use std::time::Duration;

async fn edit(client: &distcron_e2e::ApiClient, id: &str, body: Value) -> Value {
    let a = client.patch(&format!("/jobs/{id}"), &body).await;
    assert_eq!(a.status, 200, "PATCH {body}: {}", a.body);
    a.body
}

#[tokio::test]
async fn an_edit_takes_effect_from_the_next_tick_with_no_tick_lost_or_run_twice() {
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 2,
        ..Default::default()
    })
    .await;
    let alice = cluster.user("alice", false).await;
    let witness = cluster.witness("edit");
    let job = alice.create_job(&every_second(&witness, "v1")).await;
    let id = id_of(&job);
    assert_eq!(job["version"], 1);
    each_runs_after(
        &witness,
        std::slice::from_ref(&id),
        0.0,
        "a first run",
        Duration::from_secs(20),
    )
    .await;

    let asked = epoch_now();
    let edited = edit(
        &alice,
        &id,
        json!({"executable": witness.command("v2"), "name": "renamed"}),
    )
    .await;
    assert_eq!(edited["version"], 2, "{edited}");
    assert_eq!(edited["name"], "renamed", "{edited}");
    let first_v2 = eventually("a run of the new command", Duration::from_secs(10), || {
        let e = witness.entries();
        async move { e.into_iter().find(|e| e.extra == "v2") }
    })
    .await;
    println!(
        "edit → first run of the new definition: {:.3} s",
        first_v2.started - asked
    );
    assert!(
        first_v2.started - asked < 3.0,
        "the edit took {:.3} s",
        first_v2.started - asked
    );
    // The same edit again is no change: no new version, no audit row.
    let again = edit(
        &alice,
        &id,
        json!({"executable": witness.command("v2"), "name": "renamed"}),
    )
    .await;
    assert_eq!(again["version"], 2, "{again}");

    // A new schedule: every other second, from the next unclaimed tick on.
    let rescheduled_at = epoch_now();
    let rescheduled = edit(&alice, &id, json!({"schedule": "*/2 * * * * *"})).await;
    assert_eq!(rescheduled["version"], 3, "{rescheduled}");
    assert_eq!(rescheduled["schedule"], "*/2 * * * * *", "{rescheduled}");
    each_runs_after(
        &witness,
        std::slice::from_ref(&id),
        rescheduled_at + 4.0,
        "runs on the new schedule",
        Duration::from_secs(15),
    )
    .await;
    stop_jobs(&cluster, std::slice::from_ref(&id), &witness).await;

    let entries: Vec<_> = witness
        .entries()
        .into_iter()
        .filter(|e| e.job == id)
        .collect();
    // The old command never runs once the new one has: the switch happens at one tick.
    let last_v1 = entries
        .iter()
        .filter(|e| e.extra == "v1")
        .map(|e| e.scheduled_at)
        .max()
        .expect("v1 ran");
    let first_v2 = entries
        .iter()
        .filter(|e| e.extra == "v2")
        .map(|e| e.scheduled_at)
        .min()
        .expect("v2 ran");
    assert!(
        last_v1 < first_v2,
        "v1 ran at {last_v1}, after v2 at {first_v2}"
    );
    // The schedule changed at one tick, `switch`: up to it every second ran once (whichever
    // command), after it only even seconds, and it came within the claim lead and the
    // update's way to the worker of the edit's answer.
    let mut ran: Vec<DateTime<Utc>> = entries.iter().map(|e| e.scheduled_at).collect();
    ran.sort();
    let switch = ran
        .windows(2)
        .find(|w| w[1] - w[0] > chrono::Duration::seconds(1))
        .map(|w| w[0])
        .expect("a gap: the new schedule");
    let answered =
        DateTime::<Utc>::from_timestamp_micros((rescheduled_at * 1e6) as i64).expect("time");
    assert!(
        switch <= answered + chrono::Duration::seconds(3),
        "the old schedule ran on until {switch}, edited at {answered}"
    );
    let before: Vec<_> = entries
        .iter()
        .filter(|e| e.scheduled_at <= switch)
        .cloned()
        .collect();
    let after: Vec<_> = entries.iter().filter(|e| e.scheduled_at > switch).collect();
    assert!(
        after.len() >= 2,
        "hardly anything ran on the new schedule: {after:?}"
    );
    for e in &after {
        assert_eq!(
            e.scheduled_at.second() % 2,
            0,
            "an odd second ran on */2: {e:?}"
        );
    }
    let mut rows = settled_rows(&cluster, &id).await;
    rows.retain(|(t, _), _| *t <= switch);
    let skipped = assert_every_second_accounted(&id, &before, &rows);
    assert!(skipped.is_empty(), "skipped during the edits: {skipped:?}");
    let mut seen = std::collections::HashSet::new();
    for e in &entries {
        assert!(seen.insert((e.scheduled_at, e.attempt)), "ran twice: {e:?}");
    }

    let db = cluster.db().await;
    let audit: Vec<(String, Value)> = sqlx::query_as(
        "SELECT actor, detail FROM audit_log WHERE action = 'job.edit' AND object_id = ? ORDER BY id",
    )
    .bind(&id)
    .fetch_all(&db)
    .await
    .expect("audit");
    assert_eq!(audit.len(), 2, "one row per change: {audit:?}");
    let (actor, detail) = &audit[0];
    assert_eq!(actor, "alice");
    assert_eq!(detail["version"], 2, "{detail}");
    assert_eq!(
        detail["old"]["executable"],
        witness.command("v1"),
        "{detail}"
    );
    assert_eq!(
        detail["new"]["executable"],
        witness.command("v2"),
        "{detail}"
    );
    assert_eq!(detail["old"]["name"], Value::Null, "{detail}");
    assert_eq!(detail["new"]["name"], "renamed", "{detail}");
    assert_eq!(
        audit[1].1["new"]["schedule"], "*/2 * * * * *",
        "{}",
        audit[1].1
    );
}

#[tokio::test]
async fn edits_are_refused_as_creates_are_and_a_new_file_or_a_paused_job_takes_them() {
    let cluster = TestCluster::start().await;
    let alice = cluster.user("alice", false).await;
    let bob = cluster.user("bob", false).await;
    let witness = cluster.witness("edit-file");
    let script = |tag: &str| STANDARD.encode(format!("#!/bin/sh\n{}\n", witness.command(tag)));
    let job = alice
        .create_job(&json!({"type": "script", "schedule": "* * * * * *", "content": script("A"), "timeout_seconds": 30}))
        .await;
    let id = id_of(&job);

    let not_yours = bob
        .patch(&format!("/jobs/{id}"), &json!({"name": "mine"}))
        .await;
    assert_eq!(not_yours.status, 404, "{}", not_yours.body);
    for (body, status, code) in [
        (json!({"owner": "bob"}), 400, ""),
        (json!({"schedule": "every day"}), 400, "invalid_schedule"),
        (json!({"schedule": "@once"}), 400, "invalid_schedule"),
        (json!({"timezone": "Mars/Olympus"}), 400, "invalid_timezone"),
        (json!({"type": "command"}), 400, "invalid_type"),
        (json!({"concurrency": "sometimes"}), 400, "invalid_option"),
        (json!({"executable": "/bin/true"}), 400, "unexpected_field"),
        (json!({"content": "%%%"}), 400, "invalid_base64"),
        (
            json!({"content": STANDARD.encode("no interpreter line")}),
            400,
            "invalid_content",
        ),
        (json!({"privileged": true}), 403, ""),
        (json!({"run_as": "root"}), 403, ""),
    ] {
        let a = alice.patch(&format!("/jobs/{id}"), &body).await;
        assert_eq!(a.status, status, "{body}: {}", a.body);
        if !code.is_empty() {
            assert_eq!(a.body["code"], code, "{body}: {}", a.body);
        }
    }
    assert_eq!(
        alice.get(&format!("/jobs/{id}")).await.body["version"],
        1,
        "a refused edit changed the job"
    );

    // A new file: stored anew, a new digest, and the runs run it.
    let edited = edit(
        &alice,
        &id,
        json!({"content": script("B"), "timeout_seconds": null}),
    )
    .await;
    assert_ne!(edited["sha256"], job["sha256"], "{edited}");
    assert_ne!(edited["executable"], job["executable"], "{edited}");
    assert!(
        edited.get("timeout_seconds").is_none_or(Value::is_null),
        "cleared: {edited}"
    );
    eventually("a run of the new file", Duration::from_secs(15), || {
        let ran = witness
            .entries()
            .iter()
            .any(|e| e.job == id && e.extra == "B");
        async move { ran.then_some(()) }
    })
    .await;

    // A paused job takes an edit (a new version, still paused) and runs it once resumed.
    assert_eq!(
        alice
            .post(&format!("/jobs/{id}/pause"), &json!({}))
            .await
            .status,
        200
    );
    let paused = edit(&alice, &id, json!({"content": script("C")})).await;
    assert_eq!(paused["status"], "paused", "{paused}");
    assert_eq!(paused["version"], 3, "{paused}");
    assert_eq!(
        alice
            .post(&format!("/jobs/{id}/resume"), &json!({}))
            .await
            .status,
        200
    );
    eventually(
        "a run of the file edited while paused",
        Duration::from_secs(15),
        || {
            let ran = witness
                .entries()
                .iter()
                .any(|e| e.job == id && e.extra == "C");
            async move { ran.then_some(()) }
        },
    )
    .await;

    // A finished job no longer changes.
    alice.delete(&format!("/jobs/{id}")).await;
    let finished = alice
        .patch(&format!("/jobs/{id}"), &json!({"name": "late"}))
        .await;
    assert_eq!(finished.status, 409, "{}", finished.body);
    assert!(finished.error().contains("finished"), "{}", finished.body);
}

#[tokio::test]
async fn a_new_schedule_counts_from_the_edit_so_none_of_its_times_before_it_is_caught_up() {
    let cluster = TestCluster::start().await;
    let alice = cluster.user("alice", false).await;
    let witness = cluster.witness("edit-anchor");
    // Never due during the test: its worker's cursor stays at its creation.
    let job = alice
        .create_job(&json!({"type": "command", "schedule": "0 0 1 1 *", "executable": witness.command("anchor")}))
        .await;
    let id = id_of(&job);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let edited = edit(&alice, &id, json!({"schedule": "* * * * * *"})).await;
    let at = epoch_now();
    assert_eq!(edited["version"], 2, "{edited}");
    each_runs_after(
        &witness,
        std::slice::from_ref(&id),
        at + 2.0,
        "runs on the new schedule",
        Duration::from_secs(15),
    )
    .await;
    stop_jobs(&cluster, std::slice::from_ref(&id), &witness).await;
    // The three seconds between the creation and the edit were not ticks: none ran late and
    // none is recorded as missed.
    let rows = settled_rows(&cluster, &id).await;
    let edited_at = DateTime::<Utc>::from_timestamp_micros((at * 1e6) as i64).expect("time");
    for ((t, _), row) in &rows {
        assert!(
            *t > edited_at - chrono::Duration::seconds(1),
            "a time before the edit has a row: {t} {row:?}"
        );
        assert_ne!(row.status, "skipped", "{t}: {row:?}");
    }
    assert!(
        witness.entries().iter().all(|e| e.lag() < 1.0),
        "a run caught up late: {:?}",
        witness.entries()
    );
}
