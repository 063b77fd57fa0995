//! `/metrics` on every process: Prometheus' exposition format that Debian's `promtool check
//! metrics` accepts, with what each process knows (a worker's runs by outcome, start lag and
//! skips; an API server's requests; which manager leads), hidden behind HAProxy; and a real
//! Prometheus scraping the live cluster and answering `distcron_runs_total` back.

use distcron_e2e::checks::id_of;
use distcron_e2e::{ApiClient, ClusterOptions, TestCluster, eventually, free_port};
use serde_json::{Value, json};
use std::process::{Command, Stdio};
use std::time::Duration;

async fn scrape(url: &str) -> String {
    let answer = reqwest::get(format!("{url}/metrics"))
        .await
        .expect("scrape");
    assert_eq!(answer.status(), 200, "{url}/metrics");
    let kind = answer.headers()["content-type"]
        .to_str()
        .expect("type")
        .to_string();
    assert!(
        kind.starts_with("text/plain; version=0.0.4"),
        "{url}: {kind}"
    );
    answer.text().await.expect("text")
}

/// `promtool check metrics`, which reads the text on its stdin and lints it.
fn promtool_accepts(what: &str, text: &str) {
    use std::io::Write;
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian's prometheus package; make test installs it)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool refused {what}'s metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The value of the first sample of `name` whose labels contain `labels`.
fn sample(text: &str, name: &str, labels: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| {
            l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']) && l.contains(labels)
        })
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[tokio::test]
async fn every_process_exposes_metrics_promtool_accepts_and_prometheus_scrapes_them() {
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 1,
        ..Default::default()
    })
    .await;
    let admin = cluster.admin();
    let ok = id_of(
        &admin
            .create_job(
                &json!({"type": "command", "schedule": "* * * * * *", "executable": "true"}),
            )
            .await,
    );
    let bad = id_of(
        &admin
            .create_job(
                &json!({"type": "command", "schedule": "* * * * * *", "executable": "exit 3"}),
            )
            .await,
    );
    let worker = cluster.url_of("worker-1");
    eventually(
        "runs of both outcomes on the worker's metrics",
        Duration::from_secs(20),
        || {
            let worker = worker.clone();
            async move {
                let text = scrape(&worker).await;
                let good = sample(&text, "distcron_runs_total", "outcome=\"succeeded\"")?;
                let failed = sample(&text, "distcron_runs_total", "outcome=\"failed\"")?;
                (good >= 2.0 && failed >= 2.0).then_some(())
            }
        },
    )
    .await;

    let text = scrape(&worker).await;
    promtool_accepts("the worker", &text);
    assert!(
        sample(
            &text,
            "distcron_run_start_lag_seconds_bucket",
            "le=\"0.001\""
        )
        .is_some(),
        "{text}"
    );
    assert!(
        sample(&text, "distcron_run_start_lag_seconds_count", "").is_some_and(|n| n >= 4.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "distcron_launch_gate_open", ""),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "distcron_zookeeper_connected", ""),
        Some(1.0),
        "{text}"
    );
    assert!(
        sample(&text, "distcron_mysql_pool_connections", "state=\"idle\"").is_some(),
        "{text}"
    );

    let mut leaders = 0.0;
    for m in ["manager-1", "manager-2"] {
        let text = scrape(&cluster.url_of(m)).await;
        promtool_accepts(m, &text);
        leaders += sample(&text, "distcron_leader", "").expect("distcron_leader");
    }
    assert_eq!(leaders, 1.0, "exactly one manager leads");

    let api = cluster.url_of("api-1");
    let direct = ApiClient::new(api.clone(), admin.token.clone());
    assert_eq!(direct.get(&format!("/jobs/{ok}")).await.status, 200);
    assert_eq!(direct.get("/jobs/not-an-id").await.status, 400);
    let text = scrape(&api).await;
    promtool_accepts("the API server", &text);
    let get_job = "route=\"/jobs/{id}\"";
    assert!(
        sample(
            &text,
            "distcron_http_requests_total",
            &format!("{get_job},method=\"GET\",status=\"200\"")
        )
        .is_some(),
        "{text}"
    );
    assert!(
        sample(
            &text,
            "distcron_http_requests_total",
            &format!("{get_job},method=\"GET\",status=\"400\"")
        )
        .is_some(),
        "{text}"
    );
    assert!(
        !text.contains(&ok),
        "a job id in a label: series would grow with the jobs"
    );
    assert!(
        sample(
            &text,
            "distcron_http_request_duration_seconds_bucket",
            get_job
        )
        .is_some(),
        "{text}"
    );

    // From outside, through HAProxy: no metrics.
    let outside = cluster.anonymous().get("/metrics").await;
    assert_eq!(outside.status, 404, "{}", outside.body);

    // A real Prometheus scrapes the live cluster, and answers a query on what it scraped.
    let port = free_port();
    let dir = cluster.shared_dir().join("prometheus");
    std::fs::create_dir_all(&dir).expect("dir");
    let targets: Vec<String> = ["worker-1", "api-1", "manager-1"]
        .iter()
        .map(|n| format!("\"{}\"", cluster.url_of(n).trim_start_matches("http://")))
        .collect();
    let config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: distcron\n    static_configs:\n      - targets: [{}]\n",
        targets.join(", ")
    );
    std::fs::write(dir.join("prometheus.yml"), config).expect("config");
    let mut prometheus = Command::new("prometheus")
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("prometheus.log")).expect("log"))
        .spawn()
        .expect("prometheus (Debian's package)");
    let query = format!("http://127.0.0.1:{port}/api/v1/query?query=distcron_runs_total");
    let answered = eventually(
        "Prometheus to answer distcron_runs_total",
        Duration::from_secs(40),
        || {
            let query = query.clone();
            async move {
                let body: Value = reqwest::get(&query).await.ok()?.json().await.ok()?;
                let results = body["data"]["result"].as_array()?.clone();
                (!results.is_empty()).then_some(results)
            }
        },
    )
    .await;
    let _ = prometheus.kill();
    let _ = prometheus.wait();
    let outcomes: Vec<&str> = answered
        .iter()
        .filter_map(|r| r["metric"]["outcome"].as_str())
        .collect();
    assert!(
        outcomes.contains(&"succeeded") && outcomes.contains(&"failed"),
        "{answered:?}"
    );
    for job in [&ok, &bad] {
        admin.delete(&format!("/jobs/{job}")).await;
    }
}
