//! The cluster-wide lists: `GET /runs` (the runs under way: an admin's view is the cluster's,
//! anyone else's its own jobs') and `GET /audit` (admins only, filtered and paginated).

use distcron_e2e::checks::id_of;
use distcron_e2e::{ApiClient, TestCluster, eventually};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;

fn ids(page: &Value) -> BTreeSet<String> {
    page.as_array().expect("a list").iter().map(id_of).collect()
}

fn jobs_of(page: &Value) -> BTreeSet<String> {
    page.as_array()
        .expect("a list")
        .iter()
        .map(|r| r["job_id"].as_str().expect("job id").to_string())
        .collect()
}

/// Follows `x-next-cursor` from `first` to the end; every id, in order.
async fn all_pages(client: &ApiClient, first: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut path = first.to_string();
    loop {
        let page = client.get(&path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        for row in page.body.as_array().expect("a list") {
            out.push(row["id"].to_string().trim_matches('"').to_string());
        }
        let Some(link) = page.headers.get("link").and_then(|v| v.to_str().ok()) else {
            return out;
        };
        path = link
            .trim_start_matches('<')
            .split('>')
            .next()
            .expect("a link")
            .to_string();
    }
}

#[tokio::test]
async fn runs_under_way_are_listed_cluster_wide_for_admins_and_per_owner_for_others() {
    let cluster = TestCluster::start().await;
    let admin = cluster.admin();
    let alice = cluster.user("alice", false).await;
    let bob = cluster.user("bob", false).await;
    let long = json!({"type": "command", "schedule": "@once", "executable": "sleep 600"});
    let a = id_of(&alice.create_job(&long).await);
    let b = id_of(&bob.create_job(&long).await);
    let both: BTreeSet<String> = [a.clone(), b.clone()].into();
    eventually("both runs to be running", Duration::from_secs(20), || {
        let admin = admin.clone();
        let both = both.clone();
        async move {
            let page = admin.get("/runs?status=running").await;
            let running = page
                .body
                .as_array()?
                .iter()
                .filter(|r| r["status"] == "running");
            let jobs: BTreeSet<String> = running
                .map(|r| r["job_id"].as_str().unwrap_or_default().to_string())
                .collect();
            both.is_subset(&jobs).then_some(())
        }
    })
    .await;
    assert_eq!(jobs_of(&alice.get("/runs").await.body), [a.clone()].into());
    assert_eq!(jobs_of(&bob.get("/runs").await.body), [b.clone()].into());
    assert!(
        alice
            .get("/runs?status=pending")
            .await
            .body
            .as_array()
            .expect("list")
            .is_empty()
    );
    // Pages of one: each run once, in order, whatever the page size.
    let whole = ids(&admin.get("/runs").await.body);
    let paged = all_pages(&admin, "/runs?limit=1").await;
    assert_eq!(paged.iter().cloned().collect::<BTreeSet<_>>(), whole);
    assert_eq!(paged.len(), whole.len(), "a run on two pages: {paged:?}");
    for bad in [
        "/runs?status=succeeded",
        "/runs?status=nope",
        "/runs?cursor=x",
        "/runs?limit=0",
        "/runs?owner=bob",
    ] {
        let a = alice.get(bad).await;
        assert_eq!(a.status, 400, "{bad}: {}", a.body);
    }
    for job in [&a, &b] {
        assert_eq!(
            admin
                .post(&format!("/jobs/{job}/kill"), &json!({}))
                .await
                .status,
            202
        );
    }
}

#[tokio::test]
async fn the_audit_log_is_for_admins_filtered_by_actor_object_action_and_time() {
    let cluster = TestCluster::start().await;
    let admin = cluster.admin();
    let alice = cluster.user("alice", false).await;
    let never = json!({"type": "command", "schedule": "0 0 1 1 *", "executable": "true"});
    let mut jobs = Vec::new();
    for _ in 0..3 {
        jobs.push(id_of(&alice.create_job(&never).await));
    }
    assert_eq!(
        alice
            .post(&format!("/jobs/{}/pause", jobs[0]), &json!({}))
            .await
            .status,
        200
    );
    alice.delete(&format!("/jobs/{}", jobs[0])).await;

    let refused = alice.get("/audit").await;
    assert_eq!(refused.status, 403, "{}", refused.body);

    let mine = admin.get("/audit?actor=alice").await;
    assert_eq!(mine.status, 200, "{}", mine.body);
    let rows = mine.body.as_array().expect("a list");
    assert!(rows.iter().all(|r| r["actor"] == "alice"), "{}", mine.body);
    let actions: Vec<&str> = rows
        .iter()
        .map(|r| r["action"].as_str().expect("action"))
        .collect();
    assert_eq!(
        actions.iter().filter(|a| **a == "job.create").count(),
        3,
        "{actions:?}"
    );

    // One object's trail, newest first, with the change's detail.
    let trail = admin
        .get(&format!("/audit?object_type=job&object_id={}", jobs[0]))
        .await;
    let trail: Vec<&str> = trail
        .body
        .as_array()
        .expect("a list")
        .iter()
        .map(|r| r["action"].as_str().expect("action"))
        .collect();
    assert_eq!(trail, ["job.finish", "job.pause", "job.create"]);
    let created = admin
        .get(&format!(
            "/audit?object_type=job&object_id={}&action=job.create",
            jobs[1]
        ))
        .await;
    assert_eq!(
        created.body[0]["detail"]["schedule"], "0 0 1 1 *",
        "{}",
        created.body
    );

    // Pages of one, by the Link header: every creation once.
    let paged = all_pages(&admin, "/audit?actor=alice&action=job.create&limit=1").await;
    assert_eq!(paged.len(), 3, "{paged:?}");
    assert_eq!(paged.iter().collect::<BTreeSet<_>>().len(), 3, "{paged:?}");

    let later = admin
        .get("/audit?actor=alice&from=2999-01-01T00:00:00Z")
        .await;
    assert_eq!(later.body, json!([]), "{}", later.body);
    let earlier = admin
        .get("/audit?actor=alice&to=2000-01-01T00:00:00Z")
        .await;
    assert_eq!(earlier.body, json!([]), "{}", earlier.body);
    for bad in [
        "/audit?from=yesterday",
        "/audit?object_id=x",
        "/audit?cursor=-1",
        "/audit?what=1",
    ] {
        let a = admin.get(bad).await;
        assert_eq!(a.status, 400, "{bad}: {}", a.body);
    }
}

#[tokio::test]
async fn workers_show_their_runs_their_heartbeat_and_their_gate_and_a_frozen_one_shows_so() {
    let cluster = TestCluster::start_with(distcron_e2e::ClusterOptions {
        workers: 2,
        ..Default::default()
    })
    .await;
    let alice = cluster.user("alice", false).await;
    let long = json!({"type": "command", "schedule": "@once", "executable": "sleep 600"});
    let job = id_of(&alice.create_job(&long).await);
    let owner = eventually("the run to be running", Duration::from_secs(20), || {
        let alice = alice.clone();
        let job = job.clone();
        async move {
            let runs = alice.get(&format!("/jobs/{job}/runs")).await.body;
            let run = runs.as_array()?.first()?.clone();
            (run["status"] == "running").then(|| run["worker"].as_str().map(str::to_string))?
        }
    })
    .await;
    let workers = alice.get("/workers").await;
    assert_eq!(workers.status, 200, "{}", workers.body);
    let list = workers.body.as_array().expect("a list");
    assert_eq!(list.len(), 2, "{}", workers.body);
    for w in list {
        assert_eq!(w["reachable"], true, "{w}");
        assert_eq!(w["gate"]["open"], true, "{w}");
        let beat: chrono::DateTime<chrono::Utc> = w["last_heartbeat_at"]
            .as_str()
            .expect("heartbeat")
            .parse()
            .expect("time");
        let age = chrono::Utc::now() - beat;
        assert!(
            age < chrono::Duration::seconds(5),
            "heartbeat {age} old: {w}"
        );
        let expected = u64::from(w["id"] == owner.as_str());
        assert_eq!(w["running"], expected, "{w}");
        assert_eq!(w["runs_in_process"], expected, "{w}");
    }

    // A worker frozen (SIGSTOP) is still registered until its session expires, and shows that
    // it does not answer.
    let other = list
        .iter()
        .map(|w| w["id"].as_str().expect("id").to_string())
        .find(|w| *w != owner)
        .expect("another");
    cluster.signal(&other, nix::sys::signal::Signal::SIGSTOP);
    let frozen = alice.get("/workers").await;
    cluster.signal(&other, nix::sys::signal::Signal::SIGCONT);
    let shown = frozen
        .body
        .as_array()
        .expect("a list")
        .iter()
        .find(|w| w["id"] == other.as_str())
        .cloned();
    let shown = shown.expect("still registered");
    assert_eq!(shown["reachable"], false, "{shown}");
    assert!(
        shown["error"]
            .as_str()
            .unwrap_or("")
            .contains("status server"),
        "{shown}"
    );
    assert_eq!(admin_kill(&cluster, &job).await, 202);
}

async fn admin_kill(cluster: &TestCluster, job: &str) -> u16 {
    cluster
        .admin()
        .post(&format!("/jobs/{job}/kill"), &json!({}))
        .await
        .status
        .as_u16()
}
