//! Crontab(5) schedules and the time zones they are read in: parsing with exact errors, and the
//! next fire instants of a job.
//!
//! # Syntax
//!
//! A schedule is what crontab(5) puts before the command:
//!
//! - five fields: minute (0-59), hour (0-23), day of month (1-31), month (1-12 or `jan`-`dec`)
//!   and day of week (0-7, where 0 and 7 are both Sunday, or `sun`-`sat`); names are the
//!   three-letter ones, in any case;
//! - each field is `*` or a comma-separated list of values, ranges `a-b` (names allowed, as in
//!   `mon-fri`) and steps `*/n`, `a-b/n` and `a/n` (the last meaning `a-max/n`, as FreeBSD's cron
//!   reads it; cronie refuses it); ranges do not wrap around, and a step is at least 1;
//! - optionally a sixth field in front for the second (0-59), a distcron extension: `*/15 * * * * *`
//!   fires every 15 seconds;
//! - or one of the macros `@yearly`/`@annually` (`0 0 1 1 *`), `@monthly` (`0 0 1 * *`),
//!   `@weekly` (`0 0 * * 0`), `@daily`/`@midnight` (`0 0 * * *`) and `@hourly` (`0 * * * *`),
//!   or distcron's `@once`, which runs the job once as soon as possible. `@reboot` is refused.
//!
//! Quartz syntax (`?`, `L`, `W`, `#`) is refused with a message saying so, as is a day-of-month
//! and month combination that exists in no year (`0 0 30 2 *`).
//!
//! # The two day fields
//!
//! As in Vixie cron and cronie, and as crontab(5) puts it: "If both fields are restricted (i.e.,
//! don't start with *), the command will be run when either field matches the current time."
//! So `0 0 1,15 * mon` runs on the 1st, on the 15th and on every Monday, and `0 0 13 * 5` on
//! every 13th and every Friday. When either field starts with `*`, including a step such as
//! `*/2`, a day must match both: `0 0 */2 * 1` runs on Mondays that fall on an odd day of the
//! month.
//!
//! # Time zones and daylight saving time
//!
//! A job's schedule is read on the wall clock of the job's time zone (UTC unless the job names
//! another). When the clocks go back, a wall-clock time that occurs twice fires once, at its
//! first occurrence. When the clocks go forward, a wall-clock time that does not exist fires at
//! the first instant after the gap: 02:30 on 9 March 2025 in America/New_York fires at 03:00 EDT
//! (07:00 UTC), so a daily job never skips a day, and several skipped times in one gap fire only
//! once. Interval schedules such as `*/15 * * * *` therefore have one longer pause when the
//! clocks go back and lose the runs of the skipped hour when they go forward; for strict
//! intervals, keep the default time zone, UTC.
//!
//! # Evaluation
//!
//! Fields are matched by the `cron` crate, which ANDs the day fields, numbers weekdays 1-7 from
//! Sunday, and repeats or skips times around clock changes. Each expression is therefore
//! expanded here and handed to the crate as explicit lists (two schedules under the OR rule,
//! whose earlier time wins), evaluated in UTC standing in for the naive wall clock, and the
//! wall-clock times found are mapped to instants by the policy above.

mod eval;
mod field;
mod parse;

use chrono::{DateTime, Utc};
use std::fmt;
use std::str::FromStr;

/// One of the fields of a cron expression, named the way error messages name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CronField {
    Second,
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
}

impl fmt::Display for CronField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CronField::Second => "second",
            CronField::Minute => "minute",
            CronField::Hour => "hour",
            CronField::DayOfMonth => "day-of-month",
            CronField::Month => "month",
            CronField::DayOfWeek => "day-of-week",
        })
    }
}

/// Why a schedule or time zone was refused. The messages reach API users verbatim.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("schedule is empty")]
    Empty,
    #[error(
        "expected 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, \
         found {found}"
    )]
    FieldCount { found: usize },
    #[error(
        "unknown schedule macro `{0}`: supported are @yearly, @annually, @monthly, @weekly, \
         @daily, @midnight, @hourly, @once"
    )]
    UnknownMacro(String),
    #[error("schedule macro `{name}` must stand alone, found `{expression}`")]
    MacroWithFields { name: String, expression: String },
    #[error("invalid {field} field `{value}`: {reason}")]
    Field {
        field: CronField,
        value: String,
        reason: String,
    },
    #[error("schedule never fires: {reason}")]
    NeverFires { reason: String },
    /// A well-formed expression the evaluator cannot take; none is known, but a refusal must
    /// reach the user as a 400 like any other, never as a panic.
    #[error("schedule cannot be evaluated: {reason}")]
    Unsupported { reason: String },
    #[error(
        "unknown time zone `{0}`: expected an IANA time zone name such as UTC, Europe/Berlin or \
         America/New_York"
    )]
    UnknownTimeZone(String),
}

/// A validated crontab(5) schedule, ready to evaluate.
#[derive(Clone, Debug)]
pub struct Schedule {
    expression: String,
    kind: Kind,
}

#[derive(Clone, Debug)]
enum Kind {
    Once,
    Cron {
        compiled: Box<eval::Compiled>,
        has_seconds: bool,
    },
}

impl Schedule {
    pub fn parse(expression: &str) -> Result<Schedule, ScheduleError> {
        let expression = expression.trim();
        let kind = match parse::parse(expression)? {
            parse::Parsed::Once => Kind::Once,
            parse::Parsed::Fields(fields) => Kind::Cron {
                compiled: Box::new(eval::Compiled::new(&fields)?),
                has_seconds: fields.second.is_some(),
            },
        };
        Ok(Schedule {
            expression: expression.to_string(),
            kind,
        })
    }

    /// The expression as given, trimmed.
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// Whether this is `@once`, which has no fire times of its own: the job runs when it is
    /// created.
    pub fn is_once(&self) -> bool {
        matches!(self.kind, Kind::Once)
    }

    /// Whether the expression has the leading seconds field.
    pub fn has_seconds(&self) -> bool {
        matches!(
            self.kind,
            Kind::Cron {
                has_seconds: true,
                ..
            }
        )
    }

    /// The first fire instant strictly after `after`, the schedule being read on `tz`'s wall
    /// clock; `None` for `@once` and when no fire time is left.
    pub fn next_after(&self, tz: &TimeZone, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.kind {
            Kind::Once => None,
            Kind::Cron { compiled, .. } => compiled.next_after(tz.0, after),
        }
    }

    /// The fire instants strictly after `after`, strictly increasing.
    pub fn iter_after<'s>(
        &'s self,
        tz: &TimeZone,
        after: DateTime<Utc>,
    ) -> impl Iterator<Item = DateTime<Utc>> + use<'s> {
        let tz = *tz;
        let mut last = Some(after);
        std::iter::from_fn(move || {
            let next = self.next_after(&tz, last?);
            last = next;
            next
        })
    }
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Self) -> bool {
        self.expression == other.expression
    }
}
impl Eq for Schedule {}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expression)
    }
}

impl FromStr for Schedule {
    type Err = ScheduleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Schedule::parse(s)
    }
}

impl serde::Serialize for Schedule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.expression)
    }
}
impl<'de> serde::Deserialize<'de> for Schedule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Schedule::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An IANA time zone, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeZone(pub chrono_tz::Tz);

impl TimeZone {
    pub fn utc() -> TimeZone {
        TimeZone(chrono_tz::UTC)
    }
    pub fn parse(name: &str) -> Result<TimeZone, ScheduleError> {
        name.parse::<chrono_tz::Tz>()
            .map(TimeZone)
            .map_err(|_| ScheduleError::UnknownTimeZone(name.to_string()))
    }
    pub fn name(&self) -> &'static str {
        self.0.name()
    }
}

impl Default for TimeZone {
    fn default() -> Self {
        TimeZone::utc()
    }
}
impl fmt::Display for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
impl serde::Serialize for TimeZone {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}
impl<'de> serde::Deserialize<'de> for TimeZone {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        TimeZone::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339)
            .expect("valid instant")
            .to_utc()
    }

    #[test]
    fn once_has_no_fire_times() {
        let once = Schedule::parse(" @once ").unwrap();
        assert!(once.is_once());
        assert!(!once.has_seconds());
        assert_eq!(once.expression(), "@once");
        assert_eq!(
            once.next_after(&TimeZone::utc(), at("2025-01-01T00:00:00Z")),
            None
        );
        assert_eq!(
            once.iter_after(&TimeZone::utc(), at("2025-01-01T00:00:00Z"))
                .count(),
            0
        );
    }

    #[test]
    fn expression_is_kept_as_written() {
        let s = Schedule::parse("\t0  9 * * MON-fri \n").unwrap();
        assert_eq!(s.expression(), "0  9 * * MON-fri");
        assert_eq!(s.to_string(), "0  9 * * MON-fri");
        assert!(!s.is_once());
        assert!(!s.has_seconds());
        assert!(Schedule::parse("0 0 9 * * *").unwrap().has_seconds());
        // Equality is by text, not by meaning.
        assert_ne!(
            Schedule::parse("@daily").unwrap(),
            Schedule::parse("0 0 * * *").unwrap()
        );
        assert_eq!(
            "@daily".parse::<Schedule>().unwrap(),
            Schedule::parse(" @daily").unwrap()
        );
    }

    #[test]
    fn serde_revalidates() {
        let s: Schedule = serde_json::from_str("\"*/5 * * * *\"").unwrap();
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"*/5 * * * *\"");
        let err = serde_json::from_str::<Schedule>("\"0 0 * * 8\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("8 is out of range 0-7"), "{err}");
        let tz: TimeZone = serde_json::from_str("\"Europe/Berlin\"").unwrap();
        assert_eq!(serde_json::to_string(&tz).unwrap(), "\"Europe/Berlin\"");
        assert!(serde_json::from_str::<TimeZone>("\"Mars/Olympus\"").is_err());
    }

    #[test]
    fn iteration_is_strictly_increasing() {
        let tz = TimeZone::parse("America/New_York").unwrap();
        let s = Schedule::parse("*/20 * * * *").unwrap();
        // Through both of 2025's clock changes.
        for start in ["2025-03-09T04:00:00Z", "2025-11-02T04:00:00Z"] {
            let times: Vec<_> = s.iter_after(&tz, at(start)).take(20).collect();
            assert_eq!(times.len(), 20);
            assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
        }
    }

    #[test]
    fn the_ends_of_time_do_not_panic() {
        // Out of reach of the API (RFC 3339 years stop at 9999), but a wall clock ahead of UTC
        // at chrono's last instant, or behind it at its first, does not exist.
        let s = Schedule::parse("* * * * *").unwrap();
        for zone in [
            "UTC",
            "Pacific/Kiritimati",
            "Etc/GMT+12",
            "America/New_York",
        ] {
            let tz = TimeZone::parse(zone).unwrap();
            assert_eq!(s.next_after(&tz, DateTime::<Utc>::MAX_UTC), None, "{zone}");
            let first = s.next_after(&tz, DateTime::<Utc>::MIN_UTC);
            assert!(first.is_none_or(|t| t > DateTime::<Utc>::MIN_UTC), "{zone}");
        }
    }

    #[test]
    fn next_after_is_fast() {
        // The worker asks this for thousands of jobs per tick; the bound is loose for debug
        // builds on a shared machine, the real cost is microseconds.
        for expression in ["* * * * * *", "*/5 * * * *"] {
            let schedule = Schedule::parse(expression).unwrap();
            let tz = TimeZone::utc();
            let mut after = at("2025-01-01T00:00:00Z");
            let started = Instant::now();
            for _ in 0..100_000 {
                after = schedule.next_after(&tz, after).unwrap();
            }
            let elapsed = started.elapsed();
            assert!(elapsed.as_secs_f64() < 5.0, "{expression}: {elapsed:?}");
        }
    }

    #[test]
    fn every_second_in_a_repeated_hour_stays_cheap() {
        // 01:30 EST is the second pass of 01:30 on 2025-11-02; every candidate up to 02:00 maps
        // to the first pass and must be skipped without walking it second by second.
        let tz = TimeZone::parse("America/New_York").unwrap();
        let s = Schedule::parse("* * * * * *").unwrap();
        let started = Instant::now();
        for _ in 0..1000 {
            assert_eq!(
                s.next_after(&tz, at("2025-11-02T06:30:00Z")),
                Some(at("2025-11-02T07:00:00Z"))
            );
        }
        assert!(
            started.elapsed().as_secs_f64() < 5.0,
            "{:?}",
            started.elapsed()
        );
    }
}
