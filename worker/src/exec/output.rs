//! Captured output: the first `limit` bytes of a stream, and whether more came.

use tokio::io::{AsyncRead, AsyncReadExt};

/// Reads `stream` to its end, keeping at most `limit` bytes. Reading goes on past the limit
/// (and drops the rest) so the process never blocks on a full pipe.
pub async fn capture<R: AsyncRead + Unpin>(stream: Option<R>, limit: usize) -> (Vec<u8>, bool) {
    let Some(mut stream) = stream else {
        return (Vec::new(), false);
    };
    let mut kept = Vec::new();
    let mut truncated = false;
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = limit.saturating_sub(kept.len());
                kept.extend_from_slice(&chunk[..n.min(room)]);
                truncated |= n > room;
            }
        }
    }
    (kept, truncated)
}

/// The captured output, once the process is gone.
pub async fn collect(task: tokio::task::JoinHandle<(Vec<u8>, bool)>) -> (Vec<u8>, bool) {
    // Without a cgroup, a `setsid` escapee may hold the pipe open: do not wait for it forever.
    match tokio::time::timeout(std::time::Duration::from_secs(2), task).await {
        Ok(Ok(r)) => r,
        _ => (Vec::new(), true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn output_beyond_the_limit_is_dropped_and_marked() {
        let data = vec![b'x'; 100_000];
        let (kept, truncated) = capture(Some(&data[..]), 1000).await;
        assert_eq!(kept.len(), 1000);
        assert!(truncated);
        let (kept, truncated) = capture(Some(&b"hello"[..]), 1000).await;
        assert_eq!(kept, b"hello");
        assert!(!truncated);
    }
}
