//! Tokens are replaced and users disabled, and either takes effect on every API server within
//! the bound of their token caches (2 s): `POST /users/{name}/token` (the user itself or an
//! admin) and `DELETE /users/{name}` (admins), whose user's jobs go off the schedule at once and
//! whose runs under way are killed.

use distcron_core::run::skip;
use distcron_e2e::checks::{each_runs_after, every_second, every_second_jobs, id_of};
use distcron_e2e::{ApiClient, ClusterOptions, TestCluster, epoch_now, epoch_of, eventually};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::{Duration, Instant};

/// How long an API server takes a verified token on trust (`KnownTokens::FRESH`), plus room
/// for the polling and a loaded machine.
const BOUND: Duration = Duration::from_secs(2);
const SLACK: Duration = Duration::from_millis(800);

/// The API servers themselves, not HAProxy: each must refuse the token on its own.
fn servers(cluster: &TestCluster) -> [String; 2] {
    [cluster.url_of("api-1"), cluster.url_of("api-2")]
}

/// Makes every API server verify `client`'s token now, so that each has it in its cache.
async fn seen_by_every_server(cluster: &TestCluster, client: &ApiClient) {
    for server in servers(cluster) {
        let a = client.at(&server).get("/jobs").await;
        assert_eq!(a.status, StatusCode::OK, "{server}: {}", a.body);
    }
}

/// Waits until every API server refuses `client`'s token, and insists it took no longer than
/// the bound since `since`.
async fn refused_everywhere_within_the_bound(
    cluster: &TestCluster,
    client: &ApiClient,
    since: Instant,
    what: &str,
) {
    let clients: Vec<ApiClient> = servers(cluster).iter().map(|s| client.at(s)).collect();
    eventually(what, BOUND + SLACK, || {
        let clients = clients.clone();
        async move {
            for c in &clients {
                let a = c.try_request(Method::GET, "/jobs", None).await.ok()?;
                if a.status != StatusCode::UNAUTHORIZED {
                    return None;
                }
            }
            Some(())
        }
    })
    .await;
    let took = since.elapsed();
    assert!(took <= BOUND + SLACK, "{what}: took {took:?}");
    // And through HAProxy.
    assert_eq!(client.get("/jobs").await.status, StatusCode::UNAUTHORIZED);
}

/// (action, actor) of the audit rows of one object, oldest first.
async fn audit(cluster: &TestCluster, object_type: &str, id: &str) -> Vec<(String, String)> {
    let db = cluster.db().await;
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT action, actor FROM audit_log WHERE object_type = ? AND object_id = ? ORDER BY id",
    )
    .bind(object_type)
    .bind(id)
    .fetch_all(&db)
    .await
    .expect("audit rows");
    db.close().await;
    rows
}

fn entry(action: &str, actor: &str) -> (String, String) {
    (action.to_string(), actor.to_string())
}

#[tokio::test]
async fn a_replaced_token_stops_working_on_both_api_servers_within_two_seconds() {
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let admin = cluster.admin();
    let alice = cluster.user("alice", false).await;
    let bob = cluster.user("bob", false).await;

    // A user replaces its own token.
    seen_by_every_server(&cluster, &alice).await;
    let a = alice
        .request(Method::POST, "/users/alice/token", None)
        .await;
    let replaced = Instant::now();
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(
        (a.body["name"].as_str(), a.body["admin"].as_bool()),
        (Some("alice"), Some(false))
    );
    let token = a.body["token"].as_str().expect("a new token").to_string();
    assert!(token.starts_with("dct_") && Some(&token) != alice.token.as_ref());
    refused_everywhere_within_the_bound(
        &cluster,
        &alice,
        replaced,
        "alice's old token to be refused",
    )
    .await;
    let alice = alice.with_token(token);
    seen_by_every_server(&cluster, &alice).await;

    // Anyone else but an admin: as if the user did not exist, whether it exists or not.
    for name in ["alice", "nobody"] {
        let a = bob
            .request(Method::POST, &format!("/users/{name}/token"), None)
            .await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "bob on {name}: {}", a.body);
        assert_eq!(a.body["code"], "not_found");
        assert_eq!(a.error(), format!("no user {name}"));
    }
    seen_by_every_server(&cluster, &alice).await;

    // An admin replaces anyone's.
    let a = admin
        .request(Method::POST, "/users/alice/token", None)
        .await;
    let replaced = Instant::now();
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    refused_everywhere_within_the_bound(
        &cluster,
        &alice,
        replaced,
        "alice's second token to be refused",
    )
    .await;
    let alice = alice.with_token(a.body["token"].as_str().expect("token"));
    seen_by_every_server(&cluster, &alice).await;
    let a = admin
        .request(Method::POST, "/users/nobody/token", None)
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.body);
    // The bootstrap admin's token is the managers' file's: replacing it here would be undone by
    // the next leader.
    let a = admin
        .request(Method::POST, "/users/admin/token", None)
        .await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.body);
    assert!(
        a.error().contains("bootstrap_admin_token_file"),
        "{}",
        a.body
    );
    assert_eq!(admin.get("/jobs").await.status, StatusCode::OK);

    assert_eq!(
        audit(&cluster, "user", "alice").await,
        [
            entry("user.create", "admin"),
            entry("user.token_rotate", "alice"),
            entry("user.token_rotate", "admin"),
        ]
    );
}

#[tokio::test]
async fn a_disabled_user_loses_its_token_its_runs_are_killed_and_nothing_of_its_jobs_starts() {
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 2,
        ..Default::default()
    })
    .await;
    let admin = cluster.admin();
    let carol = cluster.user("carol", false).await;
    let dave = cluster.user("dave", true).await;
    let witness = cluster.witness("disable");
    let jobs = every_second_jobs(&carol, &witness, "carol", 3).await;
    // And one run that would go on for ten minutes.
    let long = id_of(
        &carol
            .create_job(&json!({
                "type": "command",
                "schedule": "@once",
                "executable": format!("{}; exec sleep 600", witness.command("long")),
            }))
            .await,
    );
    let kept = id_of(&admin.create_job(&every_second(&witness, "kept")).await);
    let first = each_runs_after(
        &witness,
        &[jobs.clone(), vec![long.clone()]].concat(),
        0.0,
        "carol's jobs to run",
        Duration::from_secs(30),
    )
    .await;
    let long_pid = first[&long].pid;
    let mut finished = [jobs.clone(), vec![long.clone()]].concat();
    finished.sort();

    // Admins only, not oneself, not the bootstrap admin (the managers' file would undo it).
    let a = carol.delete("/users/carol").await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);
    let a = dave.delete("/users/dave").await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.body);
    assert!(a.error().contains("yourself"), "{}", a.body);
    let a = dave.delete("/users/admin").await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.body);
    assert_eq!(
        admin.delete("/users/nobody").await.status,
        StatusCode::NOT_FOUND
    );

    seen_by_every_server(&cluster, &carol).await;
    let a = dave.delete("/users/carol").await;
    let disabled = Instant::now();
    let answered = epoch_now();
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["disabled"], true);
    assert_eq!(a.body["jobs_finished"], json!(finished), "{}", a.body);
    assert!(a.body["runs_stopped"].as_u64() >= Some(1), "{}", a.body);
    refused_everywhere_within_the_bound(&cluster, &carol, disabled, "carol's token to be refused")
        .await;
    for job in &finished {
        let a = admin.get(&format!("/jobs/{job}")).await;
        assert_eq!(a.body["status"], "finished", "{job}: {}", a.body);
    }
    // The run under way is killed by its worker (at its next lease renewal, a second here),
    // its process gone.
    let run = eventually(
        "carol's long run to be killed",
        Duration::from_secs(15),
        || {
            let admin = admin.clone();
            let long = long.clone();
            async move {
                let runs = admin.get(&format!("/jobs/{long}/runs")).await.body;
                let run = runs.as_array()?.first()?.clone();
                (run["status"] == "killed").then_some(run)
            }
        },
    )
    .await;
    // distcron_store::OWNER_DISABLED
    assert_eq!(run["reason"], "killed: its owner was disabled", "{run}");
    assert!(
        !std::path::Path::new(&format!("/proc/{long_pid}")).exists(),
        "the killed run's process {long_pid} is still there"
    );

    // Carol's jobs fired every second; the admin's job goes on. Once it has run three seconds
    // past the answer, carol's would have run three times each, had they not stopped.
    each_runs_after(
        &witness,
        std::slice::from_ref(&kept),
        answered + 3.0,
        "the admin's job to go on running",
        Duration::from_secs(30),
    )
    .await;
    let db = cluster.db().await;
    let entries = witness.entries();
    type RunRow = (
        chrono::DateTime<chrono::Utc>,
        String,
        Option<String>,
        Option<chrono::DateTime<chrono::Utc>>,
    );
    for job in &jobs {
        let rows: Vec<RunRow> = sqlx::query_as(
            "SELECT scheduled_at, status, reason, started_at FROM runs WHERE job_id = ? ORDER BY scheduled_at",
        )
        .bind(job)
        .fetch_all(&db)
        .await
        .expect("runs");
        for (at, status, reason, started) in &rows {
            assert!(
                status != "running" && status != "pending",
                "{job} at {at}: still {status}"
            );
            if let Some(s) = started {
                assert!(
                    epoch_of(*s) < answered,
                    "{job} at {at}: started {:.3} s after the disable answered",
                    epoch_of(*s) - answered
                );
            }
            if epoch_of(*at) > answered {
                assert_eq!(
                    (status.as_str(), reason.as_deref()),
                    ("skipped", Some(skip::DELETED)),
                    "{job} at {at}: a tick after the disable"
                );
            }
        }
        // The witness, independent of MySQL: a process that wrote after the answer was started
        // before it (a process writes its line a moment after its start).
        for e in entries
            .iter()
            .filter(|e| &e.job == job && e.started > answered)
        {
            let spawned = rows
                .iter()
                .find(|(at, ..)| *at == e.scheduled_at)
                .and_then(|(.., s)| *s);
            assert!(
                spawned.is_some_and(|s| epoch_of(s) < answered && e.started - epoch_of(s) < 0.5),
                "{job}: a process wrote {:.3} s after the disable answered; its start: {spawned:?}",
                e.started - answered
            );
        }
    }

    // Recorded: who disabled carol, and each job it took off the schedule.
    assert_eq!(
        audit(&cluster, "user", "carol").await,
        [entry("user.create", "admin"), entry("user.disable", "dave")]
    );
    for job in &jobs {
        assert_eq!(
            audit(&cluster, "job", job).await,
            [entry("job.create", "carol"), entry("job.finish", "dave")]
        );
    }
    // Disabling again changes nothing; a disabled user gets no new token.
    let a = admin.delete("/users/carol").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["jobs_finished"], json!([]));
    let a = admin
        .request(Method::POST, "/users/carol/token", None)
        .await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.body);

    // The name is not given again, and neither is the run uid: a new user gets a higher one.
    let a = admin.post("/users", &json!({"name": "carol"})).await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.body);
    assert!(a.error().contains("disabled"), "{}", a.body);
    cluster.user("erin", false).await;
    let uids: Vec<(String, u32)> =
        sqlx::query_as("SELECT name, run_uid FROM users ORDER BY run_uid")
            .fetch_all(&db)
            .await
            .expect("users");
    assert_eq!(
        uids.last().map(|(n, _)| n.as_str()),
        Some("erin"),
        "{uids:?}"
    );
    let mut distinct: Vec<u32> = uids.iter().map(|(_, u)| *u).collect();
    distinct.dedup();
    assert_eq!(distinct.len(), uids.len(), "{uids:?}");
    db.close().await;
}
