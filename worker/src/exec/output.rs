//! A run's output as it comes: each stream read into the run's `Live` output (at most `limit`
//! bytes a stream; the rest read and dropped, so the process never blocks on a full pipe, and
//! the stream marked truncated), cut into numbered chunks when one fills or when the shipper
//! (`crate::logship`) takes what came since its last pass (so chunks are numbered in the order
//! they were cut, which interleaves the two streams only as finely as those passes), and the
//! chunks not yet written kept until they are: those go with the run's outcome.

use distcron_core::{OutputChunk, RunId, Stream};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};

/// A chunk is cut once this much of a stream has come.
pub const CHUNK_BYTES: usize = 16 * 1024;

/// One run's output.
#[derive(Default)]
pub struct Live {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Per stream: what came since its last chunk.
    pending: [Vec<u8>; 2],
    /// Per stream: bytes kept so far, towards the limit.
    kept: [usize; 2],
    /// Per stream: the rest is being dropped (its last chunk says so).
    truncated: [bool; 2],
    next_seq: u32,
    /// Cut, not yet known written.
    unsent: Vec<OutputChunk>,
    /// The run ended: its outcome carries the rest.
    finished: bool,
}

impl State {
    /// Cuts what `stream` has pending into a chunk. With `whole_chars`, an incomplete UTF-8
    /// character at its end waits for the rest of it.
    fn cut(&mut self, stream: Stream, whole_chars: bool, truncated: bool) {
        let i = stream.index();
        let pending = &mut self.pending[i];
        let at = if whole_chars {
            char_boundary(pending)
        } else {
            pending.len()
        };
        if at == 0 && !truncated {
            return;
        }
        let rest = pending.split_off(at);
        let data = std::mem::replace(pending, rest);
        self.unsent.push(OutputChunk {
            seq: self.next_seq,
            stream,
            data,
            truncated,
        });
        self.next_seq += 1;
    }
}

/// Where `data` can be cut without splitting a UTF-8 character: before an incomplete one at
/// its end, else its length. Bytes that are not UTF-8 at all are cut anywhere.
fn char_boundary(data: &[u8]) -> usize {
    for back in 1..=data.len().min(3) {
        let b = data[data.len() - back];
        if b & 0xC0 == 0x80 {
            continue; // a continuation byte: look further back for its lead
        }
        let width = match b {
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF7 => 4,
            _ => 1,
        };
        return if width > back {
            data.len() - back
        } else {
            data.len()
        };
    }
    data.len()
}

impl Live {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes in what `stream` printed.
    fn push(&self, stream: Stream, mut data: &[u8], limit: usize) {
        let i = stream.index();
        let mut s = self.lock();
        if s.truncated[i] {
            return;
        }
        let room = limit.saturating_sub(s.kept[i]);
        let over = data.len() > room;
        data = &data[..data.len().min(room)];
        s.kept[i] += data.len();
        s.pending[i].extend_from_slice(data);
        if over {
            s.truncated[i] = true;
            s.cut(stream, false, true);
        } else if s.pending[i].len() >= CHUNK_BYTES {
            s.cut(stream, true, false);
        }
    }

    /// For the shipper: cuts what came since the last pass (with `cut`: while writes fail, what
    /// comes waits to fill whole chunks instead, so that an outage does not pile up a chunk a
    /// pass) and returns every chunk not yet known written (nothing once the run has ended).
    pub fn unsent(&self, cut: bool) -> Vec<OutputChunk> {
        let mut s = self.lock();
        if s.finished {
            return Vec::new();
        }
        if cut {
            for stream in Stream::ALL {
                s.cut(stream, true, false);
            }
        }
        s.unsent.clone()
    }

    /// The chunks up to `seq` are written.
    pub fn written_through(&self, seq: u32) {
        self.lock().unsent.retain(|c| c.seq > seq);
    }

    /// The run ended: cuts the rest and returns every chunk not yet known written. `cut_off`
    /// marks, per stream, a pipe that was still open (its output after this is lost).
    fn finish(&self, cut_off: [bool; 2]) -> Vec<OutputChunk> {
        let mut s = self.lock();
        s.finished = true;
        for stream in Stream::ALL {
            let cut = cut_off[stream.index()] && !s.truncated[stream.index()];
            s.cut(stream, false, cut);
        }
        std::mem::take(&mut s.unsent)
    }
}

/// The output of every run in progress, for the shipper.
#[derive(Default)]
pub struct LiveOutputs {
    runs: Mutex<HashMap<RunId, Arc<Live>>>,
}

impl LiveOutputs {
    fn lock(&self) -> MutexGuard<'_, HashMap<RunId, Arc<Live>>> {
        self.runs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The output of a run about to start; it leaves the set when the returned guard drops.
    pub fn open(self: &Arc<Self>, run: RunId) -> Opened {
        let live = Arc::new(Live::default());
        self.lock().insert(run, live.clone());
        Opened {
            outputs: self.clone(),
            run,
            live,
        }
    }

    /// Every run's output at this moment.
    pub fn snapshot(&self) -> Vec<(RunId, Arc<Live>)> {
        self.lock()
            .iter()
            .map(|(id, live)| (*id, live.clone()))
            .collect()
    }
}

/// A run's output in the set of runs in progress.
pub struct Opened {
    outputs: Arc<LiveOutputs>,
    run: RunId,
    live: Arc<Live>,
}

impl Opened {
    /// Reads `stream` into the run's output until its end.
    pub fn capture<R: AsyncRead + Unpin + Send + 'static>(
        &self,
        stream: Option<R>,
        which: Stream,
        limit: usize,
    ) -> tokio::task::JoinHandle<()> {
        let live = self.live.clone();
        tokio::spawn(async move {
            let Some(mut stream) = stream else { return };
            let mut buf = vec![0u8; CHUNK_BYTES];
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => live.push(which, &buf[..n], limit),
                }
            }
        })
    }

    /// Once the process is gone: waits for both streams' ends (not for ever: without a
    /// cgroup, a `setsid` escapee may hold a pipe open) and returns the chunks not yet written.
    pub async fn finish(self, readers: [tokio::task::JoinHandle<()>; 2]) -> Vec<OutputChunk> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        let mut cut_off = [false; 2];
        for (i, reader) in readers.into_iter().enumerate() {
            let abort = reader.abort_handle();
            if tokio::time::timeout_at(deadline, reader).await.is_err() {
                abort.abort();
                cut_off[i] = true;
            }
        }
        self.live.finish(cut_off)
    }
}

impl Drop for Opened {
    fn drop(&mut self) {
        self.outputs.lock().remove(&self.run);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use distcron_core::Output;

    fn pushed(live: &Live, stream: Stream, data: &[u8], limit: usize) {
        live.push(stream, data, limit);
    }

    #[test]
    fn output_beyond_the_limit_is_dropped_and_marked() {
        let live = Live::default();
        pushed(&live, Stream::Stdout, &vec![b'x'; 100_000], 1000);
        pushed(&live, Stream::Stdout, b"more", 1000);
        pushed(&live, Stream::Stderr, b"hello", 1000);
        let out = Output::from_chunks(live.finish([false; 2]));
        assert_eq!(out.stdout.len(), 1000);
        assert!(out.stdout_truncated);
        assert_eq!(out.stderr, b"hello");
        assert!(!out.stderr_truncated);
    }

    #[test]
    fn chunks_are_numbered_across_streams_and_kept_until_written() {
        let live = Live::default();
        pushed(&live, Stream::Stdout, b"one\n", 1 << 20);
        pushed(&live, Stream::Stderr, b"two\n", 1 << 20);
        let first = live.unsent(true);
        assert_eq!(
            first.iter().map(|c| (c.seq, c.stream)).collect::<Vec<_>>(),
            vec![(0, Stream::Stdout), (1, Stream::Stderr)]
        );
        pushed(&live, Stream::Stdout, b"three\n", 1 << 20);
        // Not yet written: handed out again, with what came since.
        assert_eq!(live.unsent(true).len(), 3);
        live.written_through(1);
        let rest = live.finish([false; 2]);
        assert_eq!(rest.len(), 1);
        assert_eq!((rest[0].seq, rest[0].data.as_slice()), (2, &b"three\n"[..]));
        assert!(
            live.unsent(true).is_empty(),
            "an ended run's rest goes with its outcome"
        );
    }

    #[test]
    fn a_full_chunk_is_cut_at_once_and_characters_are_not_split() {
        let live = Live::default();
        let mut data = vec![b'a'; CHUNK_BYTES - 1];
        data.extend_from_slice("é".as_bytes()); // two bytes: the chunk is full in the middle
        pushed(&live, Stream::Stdout, &data[..CHUNK_BYTES], 1 << 20);
        let chunks = live.unsent(true);
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].data.len(), CHUNK_BYTES - 1);
        pushed(&live, Stream::Stdout, &data[CHUNK_BYTES..], 1 << 20);
        let chunks = live.unsent(true);
        assert_eq!(chunks[1].data, "é".as_bytes());
    }

    #[test]
    fn while_writes_fail_new_output_waits_to_fill_whole_chunks() {
        let live = Live::default();
        pushed(&live, Stream::Stdout, b"a", 1 << 20);
        assert_eq!(live.unsent(true).len(), 1);
        for _ in 0..100 {
            pushed(&live, Stream::Stdout, b"b", 1 << 20);
            assert_eq!(
                live.unsent(false).len(),
                1,
                "no chunk a pass during an outage"
            );
        }
        let rest = live.finish([false; 2]);
        assert_eq!(rest.len(), 2);
        assert_eq!(rest[1].data, vec![b'b'; 100]);
    }

    #[test]
    fn a_pipe_held_open_is_marked_cut_off() {
        let live = Live::default();
        pushed(&live, Stream::Stdout, b"partial", 1 << 20);
        let out = Output::from_chunks(live.finish([true, false]));
        assert_eq!(out.stdout, b"partial");
        assert!(out.stdout_truncated);
        assert!(!out.stderr_truncated);
    }

    #[test]
    fn char_boundaries() {
        assert_eq!(char_boundary(b"abc"), 3);
        assert_eq!(char_boundary(&"é".as_bytes()[..1]), 0);
        assert_eq!(char_boundary("aé".as_bytes()), 3);
        assert_eq!(char_boundary(&"a€".as_bytes()[..3]), 1);
        assert_eq!(char_boundary(&[0xff, 0xfe]), 2);
    }
}
