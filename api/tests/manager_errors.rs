//! The leader's refusals, each kind mapped to its public answer once; and a leader that cannot
//! be reached.

mod support;

use distcron_core::internal::ErrorKind;
use reqwest::{Method, StatusCode};
use serde_json::json;
use support::{Answer, Reply, TestApi};

async fn create_refused_with(kind: ErrorKind, message: &str) -> Answer {
    let api = TestApi::start_with(|s| s.leader_wait_ms = 600).await;
    let _stub = api
        .stub_leader(Reply::Refuse(kind, message.to_string()))
        .await;
    let body = json!({"type": "command", "schedule": "@hourly", "executable": "true"});
    api.post("/jobs", &api.admin_token, &body).await
}

#[tokio::test]
async fn the_leaders_client_errors_reach_the_caller_with_their_message() {
    let a = create_refused_with(ErrorKind::Invalid, "a new job needs a schedule").await;
    a.assert_refused(
        StatusCode::BAD_REQUEST,
        "invalid",
        "a new job needs a schedule",
    );
    let a = create_refused_with(ErrorKind::NotFound, "no job 42").await;
    a.assert_refused(StatusCode::NOT_FOUND, "not_found", "no job 42");
    let a = create_refused_with(ErrorKind::Conflict, "user `admin` is disabled").await;
    a.assert_refused(StatusCode::CONFLICT, "conflict", "user `admin` is disabled");
}

#[tokio::test]
async fn the_leaders_unavailable_dependencies_are_a_503_to_retry() {
    let a = create_refused_with(ErrorKind::Unavailable, "MySQL is down: secret detail").await;
    a.assert_refused(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "the manager's dependencies is unavailable; nothing was changed, try again shortly",
    );
    assert_eq!(a.headers["retry-after"], "1");
    assert!(!a.body.to_string().contains("secret detail"), "{}", a.body);
}

#[tokio::test]
async fn the_leaders_own_failures_are_a_generic_500() {
    for kind in [ErrorKind::Internal, ErrorKind::Unauthorized] {
        let a = create_refused_with(kind, "stack trace here").await;
        a.assert_refused(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        );
        assert!(!a.body.to_string().contains("stack trace"), "{}", a.body);
    }
}

#[tokio::test]
async fn a_manager_that_says_it_does_not_lead_is_asked_again_then_a_503() {
    let a = create_refused_with(ErrorKind::NotLeader, "this manager is not the leader").await;
    a.assert_refused(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "the manager is unavailable",
    );
}

#[tokio::test]
async fn an_unreachable_leader_is_a_503_within_the_leader_wait() {
    let api = TestApi::start_with(|s| s.leader_wait_ms = 500).await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("address")
    };
    api.register_leader(&format!("http://{closed}")).await;
    let alice = api.user("alice", false).await;
    let started = std::time::Instant::now();
    let body = json!({"type": "command", "schedule": "@hourly", "executable": "true"});
    let a = api.post("/jobs", &alice, &body).await;
    a.assert_refused(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "the manager is unavailable; nothing was changed",
    );
    assert_eq!(a.headers["retry-after"], "1");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    // Deletes and user writes take the same path.
    let a = api
        .request(Method::DELETE, "/users/alice", Some(&api.admin_token), None)
        .await;
    a.assert_refused(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "the manager",
    );
}

#[tokio::test]
async fn no_elected_leader_is_a_503() {
    let api = TestApi::start_with(|s| s.leader_wait_ms = 300).await;
    let body = json!({"name": "carol"});
    let a = api.post("/users", &api.admin_token, &body).await;
    a.assert_refused(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "the manager",
    );
}
