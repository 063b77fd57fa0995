//! Who may call what: bearer tokens, and other owners' jobs.

mod support;

use reqwest::{Method, StatusCode};
use serde_json::json;
use support::TestApi;

#[tokio::test]
async fn a_request_without_a_token_is_refused_with_401_and_a_bearer_challenge() {
    let api = TestApi::start().await;
    let a = api.request(Method::GET, "/jobs", None, None).await;
    a.assert_refused(StatusCode::UNAUTHORIZED, "unauthorized", "bearer token");
    assert_eq!(a.headers["www-authenticate"], "Bearer");
    let body = json!({"type": "command", "schedule": "@hourly", "executable": "true"});
    let a = api.request(Method::POST, "/jobs", None, Some(&body)).await;
    a.assert_refused(StatusCode::UNAUTHORIZED, "unauthorized", "bearer token");
}

#[tokio::test]
async fn a_request_with_an_unknown_token_is_refused_with_401() {
    let api = TestApi::start().await;
    let a = api.get("/jobs", "dct_not-a-token").await;
    a.assert_refused(StatusCode::UNAUTHORIZED, "unauthorized", "bearer token");
    let a = api.get("/jobs", &api.admin_token).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
}

#[tokio::test]
async fn another_owners_job_is_a_404_to_a_non_admin_and_visible_to_an_admin() {
    let api = TestApi::start().await;
    let alice = api.user("alice", false).await;
    let bob = api.user("bob", false).await;
    let id = api.insert_job("bob").await;

    let a = api.get(&format!("/jobs/{id}"), &alice).await;
    a.assert_refused(StatusCode::NOT_FOUND, "not_found", &format!("no job {id}"));
    let a = api.get(&format!("/jobs/{id}/runs"), &alice).await;
    a.assert_refused(StatusCode::NOT_FOUND, "not_found", &format!("no job {id}"));
    // Deleting it is refused before the manager is asked: no leader is even registered.
    let a = api
        .request(Method::DELETE, &format!("/jobs/{id}"), Some(&alice), None)
        .await;
    a.assert_refused(StatusCode::NOT_FOUND, "not_found", &format!("no job {id}"));
    let listed = api.get("/jobs", &alice).await;
    assert_eq!(listed.body, json!([]), "alice lists none of bob's jobs");

    for token in [&bob, &api.admin_token] {
        let a = api.get(&format!("/jobs/{id}"), token).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        assert_eq!(a.body["owner"], "bob");
    }
}
