//! The scheduler's clock: the wall clock ticks are named in, and the moment of the tokio
//! clock at which it reads a given time. Injected, so that the deadline queue's logic runs
//! under `tokio::time::pause`/`advance` in unit tests (`TokioClock`).

use chrono::{DateTime, Utc};
use tokio::time::Instant;

pub trait Clock: Send + Sync + 'static {
    /// The wall clock now.
    fn now(&self) -> DateTime<Utc>;

    /// The moment of the tokio clock at which the wall clock reads `at` (now, if it has passed).
    fn instant_for(&self, at: DateTime<Utc>) -> Instant {
        let now = Instant::now();
        match (at - self.now()).to_std() {
            Ok(d) => now + d,
            Err(_) => now,
        }
    }
}

/// The system's wall clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A wall clock driven by the tokio clock: it reads `start` when made and moves exactly as
/// tokio's time does, paused and advanced by tests.
pub struct TokioClock {
    start: DateTime<Utc>,
    origin: Instant,
}

impl TokioClock {
    pub fn starting_at(start: DateTime<Utc>) -> TokioClock {
        TokioClock {
            start,
            origin: Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = Instant::now().duration_since(self.origin);
        self.start + chrono::Duration::from_std(elapsed).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn a_tokio_clock_moves_with_tokio_time_and_maps_wall_times_onto_it() {
        let start = Utc::now();
        let clock = TokioClock::starting_at(start);
        let at = start + chrono::Duration::seconds(3);
        let when = clock.instant_for(at);
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(clock.now(), start + chrono::Duration::seconds(2));
        assert_eq!(when.duration_since(Instant::now()), Duration::from_secs(1));
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(
            clock.instant_for(at),
            Instant::now(),
            "a passed time is now"
        );
    }
}
