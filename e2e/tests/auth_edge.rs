//! Authentication at the edge, through HAProxy and directly: a request refused before its body
//! was read (401, 403, 404) still gets its answer, however large the body, instead of a reset
//! connection.

use distcron_e2e::{ApiClient, ClusterOptions, TestCluster};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// A body far larger than the socket buffers: the server must take it in before answering, or
/// the client sees a reset instead of the answer.
fn large_job_body() -> Vec<u8> {
    json!({
        "type": "command",
        "schedule": "@hourly",
        "executable": "x".repeat(5 * 1024 * 1024),
    })
    .to_string()
    .into_bytes()
}

async fn post_large(client: &ApiClient, path: &str) -> StatusCode {
    let a = client
        .try_request_raw(Method::POST, path, Some(large_job_body()))
        .await
        .unwrap_or_else(|e| panic!("POST {path} to {}: no answer: {e:?}", client.base));
    assert!(a.body["code"].is_string(), "{path}: {}", a.body);
    a.status
}

#[tokio::test]
async fn a_refused_request_with_a_large_body_gets_its_answer_every_time() {
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let alice = cluster.user("alice", false).await;
    let bad = cluster.admin().with_token("dct_wrong");
    let anonymous = cluster.anonymous();
    let bases = [
        cluster.url(),
        cluster.url_of("api-1"),
        cluster.url_of("api-2"),
    ];
    for base in &bases {
        for attempt in 0..4 {
            assert_eq!(
                post_large(&bad.at(base), "/jobs").await,
                StatusCode::UNAUTHORIZED,
                "attempt {attempt} at {base}, a bad token"
            );
        }
        assert_eq!(
            post_large(&anonymous.at(base), "/jobs").await,
            StatusCode::UNAUTHORIZED,
            "{base}, no token"
        );
        let alice = alice.at(base);
        for attempt in 0..2 {
            // Admins only: 403.
            assert_eq!(
                post_large(&alice, "/users").await,
                StatusCode::FORBIDDEN,
                "attempt {attempt} at {base}, a non-admin creating a user"
            );
            // Another user's token: as if there were no such user.
            assert_eq!(
                post_large(&alice, "/users/admin/token").await,
                StatusCode::NOT_FOUND,
                "attempt {attempt} at {base}, a non-admin replacing another's token"
            );
        }
        assert_eq!(
            post_large(&alice, "/no/such/route").await,
            StatusCode::NOT_FOUND,
            "{base}, an unknown route"
        );
    }
    // The connections were kept sound: the API still answers as usual.
    assert_eq!(alice.get("/jobs").await.status, StatusCode::OK);
}
