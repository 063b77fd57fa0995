//! Runs' output, as the chunks workers write while a run runs and with its outcome
//! (`run_output_chunks`, keyed by run and sequence: a chunk written twice is kept once).

use crate::{Result, Store};
use distcron_core::{Output, OutputChunk, Run, RunId, Stream};
use sqlx::{MySql, MySqlConnection, QueryBuilder};

/// The most chunk data one statement carries (well under MariaDB's `max_allowed_packet`).
const STATEMENT_BYTES: usize = 1024 * 1024;
/// The most chunks one statement carries (five placeholders each, under MariaDB's 65,535).
const STATEMENT_ROWS: usize = 1000;

type ChunkRow = (u32, u8, Vec<u8>, bool);

impl Store {
    /// Writes chunks of runs' output; a chunk already written stays as it is.
    pub async fn write_output(&self, chunks: &[(RunId, &OutputChunk)]) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        insert_chunks(&mut tx, chunks).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The run's output from the chunk after `after` (from the start without it), at most
    /// `limit` chunks, in sequence order.
    pub async fn output_after(
        &self,
        run: &RunId,
        after: Option<u32>,
        limit: u32,
    ) -> Result<Vec<OutputChunk>> {
        let rows: Vec<ChunkRow> = sqlx::query_as(
            "SELECT seq, stream, data, truncated FROM run_output_chunks \
             WHERE run_id = ? AND seq >= ? ORDER BY seq LIMIT ?",
        )
        .bind(run.to_string())
        .bind(after.map_or(0, |a| u64::from(a) + 1))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().filter_map(chunk_of).collect())
    }

    /// The run's output so far, put together; none for a run that has printed nothing and
    /// not started a process (one that started has an output, be it empty).
    pub async fn shown_output(&self, run: &Run) -> Result<Option<Output>> {
        let chunks = self.output_after(&run.id, None, u32::MAX).await?;
        Ok((run.started_at.is_some() || !chunks.is_empty()).then(|| Output::from_chunks(chunks)))
    }
}

fn chunk_of((seq, stream, data, truncated): ChunkRow) -> Option<OutputChunk> {
    Some(OutputChunk {
        seq,
        stream: Stream::from_code(stream)?,
        data,
        truncated,
    })
}

/// Inserts `chunks` through `conn` (a transaction of the caller's), in key order (so that two
/// writers of the same runs' chunks lock them in the same order), in statements of at most
/// `STATEMENT_ROWS` chunks and `STATEMENT_BYTES` of data.
pub(crate) async fn insert_chunks(
    conn: &mut MySqlConnection,
    chunks: &[(RunId, &OutputChunk)],
) -> Result<()> {
    let mut sorted = chunks.to_vec();
    sorted.sort_by_key(|(run, c)| (*run, c.seq));
    let mut rest = sorted.as_slice();
    while !rest.is_empty() {
        let mut bytes = 0;
        let n = rest
            .iter()
            .take(STATEMENT_ROWS)
            .take_while(|(_, c)| {
                bytes += c.data.len();
                bytes <= STATEMENT_BYTES
            })
            .count()
            .max(1);
        let (batch, tail) = rest.split_at(n);
        rest = tail;
        let mut q: QueryBuilder<MySql> = QueryBuilder::new(
            "INSERT INTO run_output_chunks (run_id, seq, stream, data, truncated) ",
        );
        q.push_values(batch, |mut b, (run, c)| {
            b.push_bind(run.to_string())
                .push_bind(c.seq)
                .push_bind(c.stream.code())
                .push_bind(c.data.as_slice())
                .push_bind(c.truncated);
        });
        q.push(" ON DUPLICATE KEY UPDATE seq = seq");
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}
