//! Percentiles of a sample of durations (nearest rank), in milliseconds.

use serde::Serialize;

/// p50, p99 and max of a sample, in milliseconds.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq)]
pub struct Summary {
    pub count: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub min_ms: f64,
}

/// The nearest-rank percentile `p` (0 < p <= 100) of a sorted, non-empty sample.
pub fn percentile(sorted: &[i64], p: f64) -> i64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Summarises nanosecond durations; `None` for an empty sample.
pub fn summarize(mut nanos: Vec<i64>) -> Option<Summary> {
    if nanos.is_empty() {
        return None;
    }
    nanos.sort_unstable();
    let ms = |n: i64| n as f64 / 1e6;
    Some(Summary {
        count: nanos.len(),
        p50_ms: ms(percentile(&nanos, 50.0)),
        p99_ms: ms(percentile(&nanos, 99.0)),
        max_ms: ms(*nanos.last().unwrap_or(&0)),
        min_ms: ms(nanos[0]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let v: Vec<i64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&v, 100.0), 100);
        assert_eq!(percentile(&[7], 99.0), 7);
        let s = summarize(vec![3_000_000, 1_000_000, 2_000_000]).unwrap();
        assert_eq!(s.p50_ms, 2.0);
        assert_eq!(s.max_ms, 3.0);
        assert!(summarize(vec![]).is_none());
    }
}
