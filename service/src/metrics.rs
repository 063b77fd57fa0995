//! Metrics in Prometheus' exposition format, through the `metrics` facade and
//! `metrics-exporter-prometheus`'s recorder: each process installs it once, records with the
//! `metrics` macros where things happen, and serves `render()` at its `/metrics`. Histograms
//! are true Prometheus histograms, with buckets from 1 ms to 60 s.

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;

/// Latency buckets, in seconds, for every histogram.
pub const BUCKETS: [f64; 15] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder.
#[derive(Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
}

/// Installs the recorder (once per process: a later call gets the same one) and the thread
/// that keeps its histograms drained between scrapes.
pub fn install() -> anyhow::Result<Metrics> {
    if let Some(handle) = HANDLE.get() {
        return Ok(Metrics {
            handle: handle.clone(),
        });
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets(&BUCKETS)?
        .build_recorder();
    let handle = recorder.handle();
    if HANDLE.set(handle.clone()).is_err() {
        // Another thread won the race; its recorder is the one installed.
        return install();
    }
    metrics::set_global_recorder(recorder)?;
    let upkeep = handle.clone();
    std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(5));
                upkeep.run_upkeep();
            }
        })?;
    metrics::describe_gauge!(
        "distcron_zookeeper_connected",
        "1 while the process's ZooKeeper session is connected"
    );
    metrics::describe_gauge!(
        "distcron_mysql_pool_connections",
        "MySQL connections of the process's pool, by state (idle, in_use)"
    );
    Ok(Metrics { handle })
}

impl Metrics {
    /// A scrape of a process with a MySQL pool of `size` connections, `idle` of them idle:
    /// the pool's gauges set, then everything rendered, with its content type.
    pub fn scrape(&self, size: u32, idle: usize) -> ([(&'static str, &'static str); 1], String) {
        pool_gauges(size, idle);
        ([("content-type", CONTENT_TYPE)], self.render())
    }

    /// The exposition text of everything recorded so far.
    pub fn render(&self) -> String {
        self.handle.run_upkeep();
        self.handle.render()
    }
}

/// The content type of `render`'s text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Records what the process's MySQL pool looks like now.
pub fn pool_gauges(size: u32, idle: usize) {
    let idle = idle as f64;
    metrics::gauge!("distcron_mysql_pool_connections", "state" => "idle").set(idle);
    metrics::gauge!("distcron_mysql_pool_connections", "state" => "in_use")
        .set((f64::from(size) - idle).max(0.0));
}
