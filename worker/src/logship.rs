//! The output shipper: every `output_flush_ms`, what the runs in progress printed since the
//! last pass is written to MySQL in one batch, so a follower sees it live and what a run
//! printed before its worker died is kept. A batch that fails stays with its runs and goes in
//! the next pass, or with the run's outcome if the run ends first (chunks are keyed by run and
//! sequence, so one written twice is kept once).

use crate::exec::output::LiveOutputs;
use distcron_core::{OutputChunk, RunId};
use distcron_store::Store;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub struct Shipper {
    pub store: Store,
    pub outputs: Arc<LiveOutputs>,
    pub every: Duration,
}

impl Shipper {
    pub async fn run(self, token: CancellationToken) -> anyhow::Result<()> {
        let mut tick = tokio::time::interval(self.every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tokio::select! {
                _ = token.cancelled() => return Ok(()),
                _ = tick.tick() => {}
            }
            let runs: Vec<_> = self
                .outputs
                .snapshot()
                .into_iter()
                .map(|(id, live)| {
                    let chunks = live.unsent(!failing);
                    (id, live, chunks)
                })
                .filter(|(_, _, chunks)| !chunks.is_empty())
                .collect();
            if runs.is_empty() {
                continue;
            }
            let rows: Vec<(RunId, &OutputChunk)> = runs
                .iter()
                .flat_map(|(id, _, chunks)| chunks.iter().map(|c| (*id, c)))
                .collect();
            let bytes: usize = rows.iter().map(|(_, c)| c.data.len()).sum();
            match self.store.write_output(&rows).await {
                Ok(()) => {
                    for (_, live, chunks) in &runs {
                        if let Some(last) = chunks.last() {
                            live.written_through(last.seq);
                        }
                    }
                    crate::metrics::output_written(rows.len(), bytes);
                    if std::mem::take(&mut failing) {
                        tracing::info!("runs' output is written again");
                    }
                }
                Err(e) => {
                    crate::metrics::output_write_failed();
                    if !std::mem::replace(&mut failing, true) {
                        tracing::warn!(error = %e, runs = runs.len(), "cannot write runs' output yet: it is kept, and goes with each run's outcome if need be");
                    }
                }
            }
        }
    }
}
