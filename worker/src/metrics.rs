//! The worker's metrics: what became of its runs and ticks as it decides them, and, at each
//! scrape, what it holds now.

use crate::gate::Gate;
use crate::inflight::InFlight;
use crate::recorder::Recorder;
use distcron_core::RunStatus;
use distcron_core::run::skip;
use distcron_store::Store;

pub fn describe() {
    metrics::describe_counter!("distcron_runs_total", "Runs this worker ended, by outcome");
    metrics::describe_histogram!(
        "distcron_run_start_lag_seconds",
        metrics::Unit::Seconds,
        "From a run's scheduled time to its process's start"
    );
    metrics::describe_counter!(
        "distcron_ticks_skipped_total",
        "Ticks this worker recorded skipped, by reason"
    );
    metrics::describe_gauge!("distcron_runs_running", "Runs in flight on this worker");
    metrics::describe_gauge!(
        "distcron_records_pending",
        "Run starts and outcomes waiting to be written to MySQL"
    );
    metrics::describe_counter!(
        "distcron_output_chunks_written_total",
        "Chunks of runs' output written while the runs ran"
    );
    metrics::describe_counter!(
        "distcron_output_bytes_written_total",
        metrics::Unit::Bytes,
        "Bytes of runs' output written while the runs ran"
    );
    metrics::describe_counter!(
        "distcron_output_write_failures_total",
        "Passes of the output shipper whose write failed (the output waits for the next)"
    );
    metrics::describe_gauge!(
        "distcron_launch_gate_open",
        "1 while the worker may start runs (its launch gate is open)"
    );
}

/// A run's end, as the worker decided it.
pub fn run_ended(status: RunStatus) {
    metrics::counter!("distcron_runs_total", "outcome" => status.as_str()).increment(1);
}

/// A run's process started `lag` after its scheduled time.
pub fn run_started(lag: chrono::Duration) {
    let seconds = lag.num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6;
    metrics::histogram!("distcron_run_start_lag_seconds").record(seconds.max(0.0));
}

/// The shipper wrote `chunks` of runs' output, `bytes` in all.
pub fn output_written(chunks: usize, bytes: usize) {
    metrics::counter!("distcron_output_chunks_written_total").increment(chunks as u64);
    metrics::counter!("distcron_output_bytes_written_total").increment(bytes as u64);
}

pub fn output_write_failed() {
    metrics::counter!("distcron_output_write_failures_total").increment(1);
}

/// A tick recorded skipped: the reason's short name as the label.
pub fn tick_skipped(reason: &str) {
    let short = match reason {
        r if r == skip::MISFIRE => "misfire",
        r if r == skip::OVERLAP => "overlap",
        r if r == skip::DELETED => "deleted",
        r if r == skip::PAUSED => "paused",
        _ => "other",
    };
    metrics::counter!("distcron_ticks_skipped_total", "reason" => short).increment(1);
}

/// What the worker holds at a scrape.
pub struct Scrape {
    pub gate: std::sync::Arc<Gate>,
    pub inflight: std::sync::Arc<InFlight>,
    pub recorder: Recorder,
    pub store: Store,
}

impl Scrape {
    pub fn gauges(&self) {
        metrics::gauge!("distcron_runs_running").set(self.inflight.len() as f64);
        metrics::gauge!("distcron_records_pending").set(self.recorder.pending() as f64);
        metrics::gauge!("distcron_launch_gate_open").set(f64::from(u8::from(self.gate.is_open())));
        metrics::gauge!("distcron_zookeeper_connected")
            .set(f64::from(u8::from(self.gate.is_connected())));
        let pool = self.store.pool();
        distcron_service::metrics::pool_gauges(pool.size(), pool.num_idle());
    }
}
