//! A run's output: the chunks a worker writes while the run runs (both streams numbered in one
//! sequence, in the order the worker cut them), and the whole of it put back together.

use serde::{Deserialize, Serialize};

/// Which of a run's streams a chunk came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub const ALL: [Stream; 2] = [Stream::Stdout, Stream::Stderr];

    /// Its code in `run_output_chunks.stream`.
    pub fn code(self) -> u8 {
        match self {
            Stream::Stdout => 1,
            Stream::Stderr => 2,
        }
    }

    pub fn from_code(code: u8) -> Option<Stream> {
        match code {
            1 => Some(Stream::Stdout),
            2 => Some(Stream::Stderr),
            _ => None,
        }
    }

    /// Its index in a per-stream pair.
    pub fn index(self) -> usize {
        usize::from(self.code() - 1)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// A piece of a run's output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputChunk {
    /// Its place in the run's output (both streams share the sequence, from 0).
    pub seq: u32,
    pub stream: Stream,
    pub data: Vec<u8>,
    /// What the stream printed after this chunk was dropped (the worker's per-run limit, or a
    /// pipe still held open after the run ended).
    pub truncated: bool,
}

/// A run's output put back together.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Output {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
}

impl Output {
    /// The output of `chunks`, taken in sequence order.
    pub fn from_chunks(mut chunks: Vec<OutputChunk>) -> Output {
        chunks.sort_by_key(|c| c.seq);
        let mut out = Output::default();
        for c in chunks {
            let (data, truncated) = match c.stream {
                Stream::Stdout => (&mut out.stdout, &mut out.stdout_truncated),
                Stream::Stderr => (&mut out.stderr, &mut out.stderr_truncated),
            };
            data.extend_from_slice(&c.data);
            *truncated |= c.truncated;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(seq: u32, stream: Stream, data: &str, truncated: bool) -> OutputChunk {
        OutputChunk {
            seq,
            stream,
            data: data.into(),
            truncated,
        }
    }

    #[test]
    fn chunks_go_back_together_by_sequence_and_stream() {
        let out = Output::from_chunks(vec![
            chunk(2, Stream::Stdout, "world", true),
            chunk(0, Stream::Stdout, "hello ", false),
            chunk(1, Stream::Stderr, "oops", false),
        ]);
        assert_eq!(out.stdout, b"hello world");
        assert_eq!(out.stderr, b"oops");
        assert!(out.stdout_truncated);
        assert!(!out.stderr_truncated);
    }

    #[test]
    fn stream_codes_round_trip() {
        for s in Stream::ALL {
            assert_eq!(Stream::from_code(s.code()), Some(s));
        }
        assert_eq!(Stream::from_code(0), None);
    }
}
