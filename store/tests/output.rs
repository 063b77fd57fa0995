//! Runs' output chunks against a real MySQL: a backlog of many small chunks (what a worker
//! holds after an outage) goes in statements MariaDB takes, and reads back whole and in order;
//! a chunk written twice is kept once.

mod common;

use chrono::{SubsecRound, Utc};
use common::{TestDb, claimant, tick};
use distcron_core::{JobOptions, Output, OutputChunk, Stream};

#[tokio::test]
async fn twenty_thousand_small_chunks_are_written_and_read_back_in_order() {
    let db = TestDb::new().await;
    let job = db.job(JobOptions::default()).await;
    let run = tick(job, Utc::now().trunc_subsecs(0), 1);
    db.store
        .claim_runs(std::slice::from_ref(&run), &claimant("w"))
        .await
        .expect("claim");
    let chunks: Vec<OutputChunk> = (0..20_000u32)
        .map(|seq| OutputChunk {
            seq,
            stream: if seq % 2 == 0 {
                Stream::Stdout
            } else {
                Stream::Stderr
            },
            data: vec![b'a' + (seq % 26) as u8],
            truncated: false,
        })
        .collect();
    // Handed over out of order, and again: the same chunks, kept once.
    let mut rows: Vec<_> = chunks.iter().rev().map(|c| (run.id, c)).collect();
    db.store.write_output(&rows).await.expect("write");
    rows.truncate(10);
    db.store.write_output(&rows).await.expect("write again");

    let back = db
        .store
        .output_after(&run.id, None, u32::MAX)
        .await
        .expect("read");
    assert_eq!(back, chunks);
    let page = db
        .store
        .output_after(&run.id, Some(19_989), 100)
        .await
        .expect("read");
    assert_eq!(page.first().map(|c| c.seq), Some(19_990));
    assert_eq!(page.len(), 10);
    let whole = Output::from_chunks(back);
    assert_eq!((whole.stdout.len(), whole.stderr.len()), (10_000, 10_000));
}
