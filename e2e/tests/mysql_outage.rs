//! MySQL outages: the API answers 503 (not 500, not a hang), and nothing is half-created.

use distcron_e2e::mysql::PrivateMysql;
use distcron_e2e::{ApiClient, ClusterOptions, TestCluster, unique_name};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test]
async fn with_mysql_stopped_post_answers_503_and_no_partial_job_exists_once_it_is_back() {
    let mut mysql = PrivateMysql::start(&unique_name()).await;
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 1,
        mysql: Some(mysql.url()),
        ..Default::default()
    })
    .await;
    let admin = cluster.admin();
    let kept = admin
        .create_job(&json!({"type": "command", "executable": "true", "schedule": "@hourly"}))
        .await;

    // Readiness, from each API server itself: all well, then MySQL named as what is down. A
    // caller the server has just seen still gets the report while MySQL is down.
    let servers: Vec<ApiClient> = ["api-1", "api-2"]
        .into_iter()
        .map(|api| ApiClient::new(cluster.url_of(api), Some(cluster.admin_token.clone())))
        .collect();
    for server in &servers {
        let ready = server.get("/readyz").await;
        assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
        for check in ["zookeeper", "mysql", "s3", "manager"] {
            assert_eq!(ready.body["checks"][check]["ok"], true, "{}", ready.body);
        }
    }

    mysql.kill();
    for server in &servers {
        let ready = server
            .try_request(Method::GET, "/readyz", None)
            .await
            .expect("an answer, not a hang");
        assert_eq!(
            ready.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{}",
            ready.body
        );
        assert_eq!(ready.body["ready"], false, "{}", ready.body);
        assert_eq!(ready.body["checks"]["mysql"]["ok"], false, "{}", ready.body);
        assert_eq!(
            ready.body["checks"]["zookeeper"]["ok"], true,
            "{}",
            ready.body
        );
    }
    for body in [
        json!({"type": "command", "executable": "echo lost", "schedule": "@hourly"}),
        json!({"type": "script", "schedule": "@hourly", "content": "IyEvYmluL3NoCmVjaG8gbG9zdAo="}),
    ] {
        let started = Instant::now();
        let a = admin
            .try_request(Method::POST, "/jobs", Some(&body))
            .await
            .expect("an answer, not a hang");
        assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE, "{}", a.body);
        assert!(a.error().contains("unavailable"), "{}", a.body);
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "503 took {:?}",
            started.elapsed()
        );
    }
    assert_eq!(
        admin
            .try_request(Method::GET, "/jobs", None)
            .await
            .expect("answer")
            .status,
        StatusCode::SERVICE_UNAVAILABLE
    );

    mysql.start_again().await;
    // Once MySQL is back: only the job created before the outage exists, in MySQL and in
    // ZooKeeper alike.
    let jobs = distcron_e2e::eventually("the API to serve again", Duration::from_secs(30), || {
        let admin = admin.clone();
        async move {
            let a = admin.try_request(Method::GET, "/jobs", None).await.ok()?;
            (a.status == StatusCode::OK).then_some(a.body)
        }
    })
    .await;
    let ids: Vec<&str> = jobs
        .as_array()
        .expect("array")
        .iter()
        .map(|j| j["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, vec![kept["id"].as_str().expect("id")]);
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM jobs")
        .fetch_one(&cluster.db().await)
        .await
        .expect("count");
    assert_eq!(n, 1);
    let zk = cluster.zk().await;
    assert_eq!(distcron_e2e::zookeeper::children(&zk, "/jobs").await, ids);
    // And writes work again.
    admin
        .create_job(&json!({"type": "command", "executable": "true", "schedule": "@daily"}))
        .await;
}
