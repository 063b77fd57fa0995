//! The pure parts of a scenario: which ticks it measures, and what the witness files say
//! about them.

use super::Kind;
use crate::stats::{Summary, summarize};
use crate::witness::Tick;
use chrono::{DateTime, DurationRound, SecondsFormat, TimeDelta, Timelike, Utc};
use std::collections::HashMap;

pub(super) fn secs(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub(super) fn ns(t: DateTime<Utc>) -> i64 {
    t.timestamp_nanos_opt().unwrap_or(0)
}

/// Sleeps until the wall clock reads `t`.
pub(super) async fn sleep_until(t: DateTime<Utc>) {
    if let Ok(d) = (t - Utc::now()).to_std() {
        tokio::time::sleep(d).await;
    }
}

/// The first whole second at or after `t`.
pub(super) fn second_at_or_after(t: DateTime<Utc>) -> DateTime<Utc> {
    let floor = t.duration_trunc(TimeDelta::seconds(1)).unwrap_or(t);
    if floor == t {
        t
    } else {
        floor + TimeDelta::seconds(1)
    }
}

/// The first whole minute at or after `t`.
pub(super) fn minute_at_or_after(t: DateTime<Utc>) -> DateTime<Utc> {
    let floor = t.duration_trunc(TimeDelta::minutes(1)).unwrap_or(t);
    if floor == t {
        t
    } else {
        floor + TimeDelta::minutes(1)
    }
}
/// The ticks a scenario measures, and how the report names them.
pub(super) struct Planned {
    pub ticks: Vec<Tick>,
    /// The tick (burst) or the minute (spread), in words.
    pub measured: String,
    pub schedule: String,
}

/// A burst's tick is the whole minute at `first`; a spread's 60 seconds start at `first`, and
/// job i (scheduled at second i % 60) is measured at its first tick in them.
pub(super) fn planned_ticks(kind: Kind, ids: &[String], first: DateTime<Utc>) -> Planned {
    match kind {
        Kind::Burst => Planned {
            ticks: ids.iter().map(|id| (id.clone(), first)).collect(),
            measured: format!("the tick at {}", secs(first)),
            schedule: "* * * * *".into(),
        },
        Kind::Spread => Planned {
            ticks: ids
                .iter()
                .enumerate()
                .map(|(i, id)| {
                    let s = (i % 60) as i64;
                    let wait = (s - i64::from(first.second())).rem_euclid(60);
                    (id.clone(), first + TimeDelta::seconds(wait))
                })
                .collect(),
            measured: format!(
                "every tick from {} to {}",
                secs(first),
                secs(first + TimeDelta::seconds(59))
            ),
            schedule: "S * * * * * (S = i % 60)".into(),
        },
    }
}

/// What the witness files say about the measured ticks.
pub(super) struct Tally {
    pub ran: usize,
    pub missed: usize,
    /// Ticks whose witness file has more than one line.
    pub duplicated: usize,
    /// Start lag (earliest witness line minus scheduled time) of the ticks that ran.
    pub lag: Option<Summary>,
}

/// `seen` holds each tick's witness lines (start times in ns since the epoch).
pub(super) fn tally(ticks: &[Tick], seen: &HashMap<Tick, Vec<i64>>) -> Tally {
    let mut lags = Vec::with_capacity(ticks.len());
    let (mut ran, mut missed, mut duplicated) = (0, 0, 0);
    for t in ticks {
        match seen.get(t).map(Vec::as_slice) {
            None | Some([]) => missed += 1,
            Some(lines) => {
                ran += 1;
                if lines.len() > 1 {
                    duplicated += 1;
                }
                let start = lines.iter().copied().min().unwrap_or(0);
                lags.push(start - ns(t.1));
            }
        }
    }
    Tally {
        ran,
        missed,
        duplicated,
        lag: summarize(lags),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minutes() {
        let t: DateTime<Utc> = "2026-01-01T10:00:00Z".parse().unwrap();
        assert_eq!(minute_at_or_after(t), t);
        assert_eq!(second_at_or_after(t), t);
        assert_eq!(
            second_at_or_after("2026-01-01T10:00:00.5Z".parse().unwrap()),
            "2026-01-01T10:00:01Z".parse::<DateTime<Utc>>().unwrap()
        );
        let u: DateTime<Utc> = "2026-01-01T10:00:00.5Z".parse().unwrap();
        assert_eq!(
            minute_at_or_after(u),
            "2026-01-01T10:01:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }

    #[test]
    fn a_spread_measures_each_jobs_first_tick_in_the_minute() {
        let first: DateTime<Utc> = "2026-01-01T10:00:50Z".parse().unwrap();
        let ids: Vec<String> = (0..62).map(|i| format!("j{i}")).collect();
        let planned = planned_ticks(Kind::Spread, &ids, first);
        let at = |i: usize| planned.ticks[i].1.to_rfc3339();
        assert_eq!(at(50), "2026-01-01T10:00:50+00:00");
        assert_eq!(at(49), "2026-01-01T10:01:49+00:00");
        assert_eq!(at(0), "2026-01-01T10:01:00+00:00");
        assert_eq!(at(61), at(1));
        let burst = planned_ticks(Kind::Burst, &ids, first);
        assert!(burst.ticks.iter().all(|t| t.1 == first));
    }

    #[test]
    fn a_tally_counts_missed_and_doubled_ticks_and_the_earliest_start() {
        let at: DateTime<Utc> = "2026-01-01T10:00:00Z".parse().unwrap();
        let ticks: Vec<Tick> = ["a", "b", "c"].map(|id| (id.to_string(), at)).to_vec();
        let seen = HashMap::from([
            (ticks[0].clone(), vec![ns(at) + 3_000_000]),
            (
                ticks[1].clone(),
                vec![ns(at) + 9_000_000, ns(at) + 5_000_000],
            ),
        ]);
        let t = tally(&ticks, &seen);
        assert_eq!((t.ran, t.missed, t.duplicated), (2, 1, 1));
        let lag = t.lag.expect("two ticks ran");
        assert_eq!((lag.min_ms, lag.max_ms), (3.0, 5.0));
    }
}
