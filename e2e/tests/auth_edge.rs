//! Authentication at the edge, through HAProxy: a client address that keeps failing to
//! authenticate is throttled (429, in the API's error shape) while others are not, and a request
//! refused before its body was read (401, 403, 404) still gets its answer, however large the
//! body, instead of a reset connection.

use distcron_e2e::{ApiClient, ClusterOptions, TestCluster, eventually};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

/// Another client than the tests' own 127.0.0.1, to HAProxy.
const OTHER_CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));

#[tokio::test]
async fn failed_authentications_from_one_address_are_throttled_and_other_addresses_are_not() {
    let threshold = 5;
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 0,
        haproxy_env: vec![("DC_HAPROXY_AUTH_FAILURES".into(), threshold.to_string())],
        ..Default::default()
    })
    .await;
    let admin = cluster.admin();
    let bad_token = "dct_0123456789abcdef-not-a-token-of-this-cluster";
    let guesser = admin.with_token(bad_token).bound_to(OTHER_CLIENT);

    // Up to the threshold, the guesser gets 401s; then 429s.
    let mut refused = 0;
    let throttled = loop {
        let a = guesser.get("/jobs").await;
        match a.status {
            StatusCode::UNAUTHORIZED => refused += 1,
            StatusCode::TOO_MANY_REQUESTS => break a,
            other => panic!("a bad token got {other}: {}", a.body),
        }
        assert!(refused <= 4 * threshold, "{refused} 401s and no 429 yet");
    };
    assert!(
        refused > threshold,
        "throttled after {refused} failures, not more than {threshold}"
    );
    assert_eq!(
        throttled.body["code"], "too_many_requests",
        "{}",
        throttled.body
    );
    assert!(
        throttled.error().contains("failed authentications"),
        "{}",
        throttled.body
    );
    assert_eq!(
        throttled
            .headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    assert_eq!(
        throttled
            .headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok()),
        Some("10")
    );
    // The address is throttled, whatever token it shows.
    let good_from_there = admin.bound_to(OTHER_CLIENT);
    assert_eq!(
        good_from_there.get("/jobs").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Other addresses are not: a good token works, a bad one is a plain 401.
    assert_eq!(admin.get("/jobs").await.status, StatusCode::OK);
    assert_eq!(
        admin.with_token(bad_token).get("/jobs").await.status,
        StatusCode::UNAUTHORIZED
    );

    // Logged, with the address and the status (HAProxy writes a request's line once it has
    // answered), never the token.
    eventually(
        "HAProxy to log a 429 to 127.0.0.3",
        Duration::from_secs(5),
        || {
            let log = cluster.haproxy_log();
            async move {
                log.lines()
                    .any(|l| l.starts_with("127.0.0.3:") && l.contains(" 429 "))
                    .then_some(())
            }
        },
    )
    .await;
    for name in ["haproxy", "api-1", "api-2"] {
        let log = std::fs::read_to_string(cluster.dir.join(format!("{name}.log")))
            .unwrap_or_else(|e| panic!("{name}'s log: {e}"));
        assert!(!log.contains(bad_token), "{name}'s log holds the bad token");
        assert!(
            !log.contains(&cluster.admin_token),
            "{name}'s log holds the admin token"
        );
    }

    // Once its failures stop, the address gets in again (the rate is over 10 s).
    eventually(
        "the throttled address to get in again",
        Duration::from_secs(40),
        || {
            let client = good_from_there.clone();
            async move {
                let a = client.try_request(Method::GET, "/jobs", None).await.ok()?;
                (a.status == StatusCode::OK).then_some(())
            }
        },
    )
    .await;
}

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
