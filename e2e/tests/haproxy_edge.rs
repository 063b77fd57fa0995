//! HAProxy's own defences: a client that stalls in its request headers is cut off after the
//! header timeout (while a slow upload body is not), the stats page takes a password (and
//! without one set, nobody gets in), and the API is served over HTTPS with the cluster's
//! certificate, which clients must trust explicitly.

use distcron_e2e::haproxy::tls;
use distcron_e2e::{ClusterOptions, TestCluster};
use reqwest::StatusCode;
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads what the server sends until it closes the connection or `limit` passes.
async fn read_answer(stream: &mut TcpStream, limit: Duration) -> String {
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(limit, stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_client_stalling_in_its_headers_gets_408_but_a_slow_upload_body_is_not_cut() {
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 0,
        haproxy_env: vec![("DC_HAPROXY_HEADER_TIMEOUT".into(), "1s".into())],
        ..Default::default()
    })
    .await;
    let address = format!("127.0.0.1:{}", cluster.port("haproxy"));

    // Half a header, then nothing.
    let mut stalled = TcpStream::connect(&address).await.expect("connect");
    stalled
        .write_all(b"POST /jobs HTTP/1.1\r\nHost: distcron\r\nAuthorization: Bea")
        .await
        .expect("send");
    let sent = Instant::now();
    let answer = read_answer(&mut stalled, Duration::from_secs(10)).await;
    let waited = sent.elapsed();
    assert!(
        answer.starts_with("HTTP/1.1 408"),
        "a stalled header got, after {waited:?}: {answer:?}"
    );
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "408 after {waited:?}, not after the 1 s header timeout"
    );

    // All the headers at once, then the body a few bytes at a time over three header timeouts:
    // the upload goes through.
    let body =
        json!({"type": "command", "executable": "true", "schedule": "@hourly", "name": "slow"})
            .to_string();
    let mut slow = TcpStream::connect(&address).await.expect("connect");
    let head = format!(
        "POST /jobs HTTP/1.1\r\nHost: distcron\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        cluster.admin_token,
        body.len()
    );
    slow.write_all(head.as_bytes()).await.expect("send headers");
    let pieces: Vec<&[u8]> = body.as_bytes().chunks(body.len().div_ceil(10)).collect();
    let started = Instant::now();
    for piece in pieces {
        // A slow client, on purpose: 10 pieces 300 ms apart.
        tokio::time::sleep(Duration::from_millis(300)).await;
        slow.write_all(piece)
            .await
            .expect("send a piece of the body");
    }
    assert!(started.elapsed() >= Duration::from_secs(3));
    let answer = read_answer(&mut slow, Duration::from_secs(20)).await;
    assert!(
        answer.starts_with("HTTP/1.1 201"),
        "a slow upload got: {answer:?}"
    );
    assert!(answer.contains("\"name\":\"slow\""), "{answer}");
}

/// A client that opens a connection per request: HAProxy closes the stats page's connections
/// after a 401, and a pooled one could be reused as it closes.
fn fresh_connections() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("HTTP client")
}

#[tokio::test]
async fn the_stats_page_needs_the_clusters_password() {
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let http = fresh_connections();
    let get = |user: Option<(&str, &str)>| {
        let mut req = http.get(cluster.stats_url());
        if let Some((user, password)) = user {
            req = req.basic_auth(user, Some(password));
        }
        req.send()
    };
    let anonymous = get(None).await.expect("an answer");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert!(
        anonymous
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .is_some_and(|v| v.to_str().unwrap_or("").starts_with("Basic")),
        "{:?}",
        anonymous.headers()
    );
    let wrong = get(Some(("stats", "not-the-password")))
        .await
        .expect("an answer");
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let right = get(Some(("stats", &cluster.stats_password)))
        .await
        .expect("an answer");
    assert_eq!(right.status(), StatusCode::OK);
    let page = right.text().await.expect("the page");
    assert!(page.contains("Statistics Report"), "{page}");
}

#[tokio::test]
async fn without_a_stats_password_set_nobody_gets_the_stats_page() {
    let cluster = TestCluster::start_with(ClusterOptions {
        apis: 1,
        managers: 1,
        workers: 0,
        haproxy_env: vec![("DC_HAPROXY_STATS_PASSWORD".into(), String::new())],
        ..Default::default()
    })
    .await;
    let http = fresh_connections();
    for user in [None, Some(("stats", ""))] {
        let mut req = http.get(cluster.stats_url());
        if let Some((user, password)) = user {
            req = req.basic_auth(user, Some(password));
        }
        let a = req.send().await.expect("an answer");
        assert_eq!(a.status(), StatusCode::FORBIDDEN, "as {user:?}");
    }
    // The API itself is served as usual.
    assert_eq!(cluster.admin().get("/jobs").await.status, StatusCode::OK);
}

/// `curl` as a user runs it, over HTTPS to the cluster's HAProxy: (exit status, HTTP code or
/// nothing, stderr). The token goes in a header file, not on the command line.
fn curl(cluster: &TestCluster, extra: &[&str], path: &str) -> (i32, String, String) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let header = cluster.dir.join("curl-auth.header");
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&header)
        .and_then(|mut f| write!(f, "Authorization: Bearer {}", cluster.admin_token))
        .expect("header file");
    let out = std::process::Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "20",
        ])
        .arg("-H")
        .arg(format!("@{}", header.display()))
        .args(extra)
        .arg(format!("{}{path}", cluster.tls_url()))
        .output()
        .expect("curl (apt-get install curl)");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn curl_over_https_gets_the_api_with_the_clusters_certificate_and_refuses_it_without() {
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let cert = tls().cert.display().to_string();
    let job = cluster
        .admin()
        .create_job(&json!({"type": "command", "executable": "true", "schedule": "@hourly"}))
        .await;

    let (status, code, stderr) = curl(&cluster, &["--cacert", &cert], "/jobs");
    assert_eq!(
        (status, code.as_str()),
        (0, "200"),
        "curl --cacert: {stderr}"
    );
    let (status, code, stderr) = curl(
        &cluster,
        &["--cacert", &cert],
        &format!("/jobs/{}", job["id"].as_str().expect("id")),
    );
    assert_eq!(
        (status, code.as_str()),
        (0, "200"),
        "curl --cacert: {stderr}"
    );

    // Without the certificate, curl does not trust the server: no request is sent.
    let (status, code, stderr) = curl(&cluster, &[], "/jobs");
    assert_eq!(
        status, 60,
        "curl without --cacert exited {status} (HTTP {code}): {stderr}"
    );
    assert!(stderr.contains("certificate"), "{stderr}");
}
