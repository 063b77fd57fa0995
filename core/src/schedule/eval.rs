//! Finding fire times: parsed fields become `cron` crate schedules searched on the naive wall
//! clock, and wall-clock times become instants under distcron's daylight-saving policy.

use super::ScheduleError;
use super::field::Field;
use super::parse::Fields;
use chrono::{DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, TimeDelta, Utc};
use chrono::{Offset as _, TimeZone as _, Weekday};
use chrono_tz::Tz;
use std::str::FromStr;
use std::sync::OnceLock;

/// The `cron` crate knows only these years and returns nothing outside them.
const CRATE_FIRST_YEAR: i32 = 1970;
const CRATE_LAST_YEAR: i32 = 2100;
/// The Gregorian calendar repeats every 400 years, so a schedule that has not fired within that
/// span never will (parsing already refuses those, this only bounds the loop).
const SEARCH_YEARS: i32 = 400;
/// Longest clock change to walk through minute by minute; Samoa skipped a whole day in 2011.
const MAX_CLOCK_CHANGE_MINUTES: u32 = 2 * 24 * 60;

/// A parsed expression ready for evaluation.
#[derive(Clone, Debug)]
pub(super) struct Compiled {
    /// Under the AND rule, the whole schedule; under the OR rule, the day-of-month half.
    primary: cron::Schedule,
    /// Under the OR rule, the day-of-week half; the schedule fires at whichever comes first.
    alternative: Option<cron::Schedule>,
}

impl Compiled {
    /// Translates the fields for the `cron` crate. Parsing calls this, so a schedule that
    /// parses is one that evaluates: should the crate ever refuse a translation, the user gets
    /// an error rather than a panic in the API or a worker.
    pub(super) fn new(fields: &Fields) -> Result<Compiled, ScheduleError> {
        let second = fields
            .second
            .as_ref()
            .map_or_else(|| "0".to_string(), |f| list(f, 0, 59));
        let head = format!(
            "{second} {} {} ",
            list(&fields.minute, 0, 59),
            list(&fields.hour, 0, 23)
        );
        let month = list(&fields.month, 1, 12);
        let days = list(&fields.day_of_month, 1, 31);
        let weekdays = weekday_list(&fields.day_of_week);
        let build = |days: &str, weekdays: &str| {
            crate_schedule(&format!("{head}{days} {month} {weekdays}"))
        };
        // crontab(5): "If both fields are restricted (i.e., don't start with *), the command will
        // be run when either field matches"; the cron crate always ANDs them.
        let or_rule = !fields.day_of_month.starts_with_star && !fields.day_of_week.starts_with_star;
        if or_rule {
            Ok(Compiled {
                primary: build(&days, "*")?,
                alternative: Some(build("*", &weekdays)?),
            })
        } else {
            Ok(Compiled {
                primary: build(&days, &weekdays)?,
                alternative: None,
            })
        }
    }

    /// The `cron` crate expressions evaluated, for tests of the translation.
    #[cfg(test)]
    pub(super) fn sources(&self) -> Vec<&str> {
        std::iter::once(&self.primary)
            .chain(&self.alternative)
            .map(|s| s.source())
            .collect()
    }

    /// The first fire instant strictly after `after`, wall-clock times being read in `tz`.
    pub(super) fn next_after(&self, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Mapping wall-clock times to instants never goes backwards, so the answer is the first
        // candidate after `after`'s own wall-clock time whose instant is past `after`. Only a
        // time repeated when the clocks went back can map to an instant at or before `after`.
        // chrono's `naive_local` panics when the wall clock is past the last instant it knows.
        let offset = tz.offset_from_utc_datetime(&after.naive_utc()).fix();
        let mut from = after.naive_utc().checked_add_offset(offset)?;
        loop {
            let candidate = self.next_local(from)?;
            let instant = to_instant(tz, candidate)?;
            if instant > after {
                return Some(instant);
            }
            from = skip_repeated(tz, candidate, after);
        }
    }

    /// The first wall-clock time strictly after `from` that the fields select.
    fn next_local(&self, from: NaiveDateTime) -> Option<NaiveDateTime> {
        let primary = next_local(&self.primary, from);
        match &self.alternative {
            None => primary,
            Some(alternative) => match (primary, next_local(alternative, from)) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
        }
    }
}

/// The `cron` crate's schedule for a translated expression.
fn crate_schedule(source: &str) -> Result<cron::Schedule, ScheduleError> {
    cron::Schedule::from_str(source).map_err(|e| ScheduleError::Unsupported {
        reason: format!("its translation `{source}` was refused by the evaluator: {e}"),
    })
}

/// The field's values as a `cron` list, or `*` when it selects every value: the crate skips its
/// weekday test for `*`, and `*` keeps the expression short.
fn list(field: &Field, min: u8, max: u8) -> String {
    if (min..=max).all(|v| field.values.contains(v)) {
        return "*".to_string();
    }
    join(field.values.iter())
}

/// crontab numbers weekdays 0-7 with 0 and 7 both Sunday; the `cron` crate numbers them 1-7 with
/// 1 Sunday.
fn weekday_list(field: &Field) -> String {
    let mut days = [false; 7];
    for crontab_day in field.values.iter() {
        days[usize::from(crontab_day % 7)] = true;
    }
    if days.iter().all(|&d| d) {
        return "*".to_string();
    }
    join((0u8..7).filter(|&d| days[usize::from(d)]).map(|d| d + 1))
}

fn join(values: impl Iterator<Item = u8>) -> String {
    values.map(|v| v.to_string()).collect::<Vec<_>>().join(",")
}

/// The next time strictly after `from` on a clock without daylight saving. The crate is run in
/// UTC, which stands in for the naive wall clock, so that it never sees a skipped or repeated
/// time; years it does not know are mapped to a year with the same calendar.
fn next_local(schedule: &cron::Schedule, from: NaiveDateTime) -> Option<NaiveDateTime> {
    let mut year = from.year();
    // `None` once the search has moved on to the start of `year`.
    let mut start = Some(from);
    let last_year = year.saturating_add(SEARCH_YEARS);
    while year <= last_year {
        if (CRATE_FIRST_YEAR..=CRATE_LAST_YEAR).contains(&year) {
            let after = match start {
                Some(t) => t,
                None => end_of_year(year - 1)?,
            };
            if let Some(hit) = schedule.after(&after.and_utc()).next() {
                return Some(hit.naive_utc());
            }
            year = CRATE_LAST_YEAR + 1;
        } else {
            let proxy = proxy_year(year);
            let after = match start {
                Some(t) => t.with_year(proxy)?,
                None => end_of_year(proxy - 1)?,
            };
            if let Some(hit) = schedule.after(&after.and_utc()).next()
                && hit.year() == proxy
            {
                return hit.naive_utc().with_year(year);
            }
            year += 1;
        }
        start = None;
    }
    None
}

fn end_of_year(year: i32) -> Option<NaiveDateTime> {
    NaiveDate::from_ymd_opt(year, 12, 31)?.and_hms_opt(23, 59, 59)
}

fn is_leap(year: i32) -> bool {
    NaiveDate::from_ymd_opt(year, 2, 29).is_some()
}

fn jan_first(year: i32) -> Option<Weekday> {
    NaiveDate::from_ymd_opt(year, 1, 1).map(|d| d.weekday())
}

/// A year the crate knows whose calendar (leap or not, weekday of 1 January) is `year`'s, so a
/// month/day/weekday match in one is a match in the other.
fn proxy_year(year: i32) -> i32 {
    static TABLE: OnceLock<[[i32; 7]; 2]> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut table = [[0; 7]; 2];
        // 1971-2099 holds every calendar and leaves room on both sides for the crate. The latest
        // match wins: after a miss the crate scans on to 2100 before giving up.
        for y in 1971..=2099 {
            if let Some(day) = jan_first(y) {
                table[usize::from(is_leap(y))][day.num_days_from_monday() as usize] = y;
            }
        }
        table
    });
    let day = jan_first(year).map_or(0, |d| d.num_days_from_monday() as usize);
    table[usize::from(is_leap(year))][day]
}

/// The instant of a wall-clock time: a repeated time maps to its first occurrence, a skipped time
/// to the end of the gap, i.e. the first instant after it.
fn to_instant(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t.to_utc()),
        LocalResult::Ambiguous(a, b) => Some(a.min(b).to_utc()),
        LocalResult::None => gap_end(tz, local),
    }
}

fn earliest(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    tz.from_local_datetime(&local)
        .earliest()
        .map(|t| t.to_utc())
}

/// The first instant after the gap holding the skipped wall-clock time `missing`: step forward a
/// minute at a time until a wall-clock time exists, then find the second it starts at.
fn gap_end(tz: Tz, missing: NaiveDateTime) -> Option<DateTime<Utc>> {
    let mut before = missing;
    for _ in 0..MAX_CLOCK_CHANGE_MINUTES {
        let probe = before.checked_add_signed(TimeDelta::minutes(1))?;
        if earliest(tz, probe).is_some() {
            // `before` is missing and `before + hi` exists.
            let (mut lo, mut hi) = (0, 60);
            while hi - lo > 1 {
                let mid = (lo + hi) / 2;
                if earliest(tz, before + TimeDelta::seconds(mid)).is_some() {
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
            return earliest(tz, before + TimeDelta::seconds(hi));
        }
        before = probe;
    }
    None
}

/// `candidate` is a repeated wall-clock time whose first occurrence is not after `after`: the
/// latest wall-clock time, a whole number of minutes on, that is still in that position. Every
/// candidate up to it would be skipped one by one, which for a schedule firing every second
/// means thousands of candidates in a one-hour repeat.
fn skip_repeated(tz: Tz, candidate: NaiveDateTime, after: DateTime<Utc>) -> NaiveDateTime {
    let mut last = candidate;
    for _ in 0..MAX_CLOCK_CHANGE_MINUTES {
        match last.checked_add_signed(TimeDelta::minutes(1)) {
            Some(probe) if earliest(tz, probe).is_some_and(|t| t <= after) => last = probe,
            _ => break,
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::super::parse::{Parsed, parse};
    use super::*;

    fn sources(expression: &str) -> Vec<String> {
        let Ok(Parsed::Fields(fields)) = parse(expression) else {
            panic!("{expression}")
        };
        Compiled::new(&fields)
            .expect("the crate accepts the translation")
            .sources()
            .into_iter()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn weekday_numbers_become_the_crates() {
        assert_eq!(sources("0 0 * * 0"), ["0 0 0 * * 1"]);
        assert_eq!(sources("0 0 * * 7"), ["0 0 0 * * 1"]);
        assert_eq!(sources("0 0 * * 0,7"), ["0 0 0 * * 1"]);
        assert_eq!(sources("0 0 * * 1"), ["0 0 0 * * 2"]);
        assert_eq!(sources("0 0 * * 6"), ["0 0 0 * * 7"]);
        assert_eq!(sources("0 0 * * 5-7"), ["0 0 0 * * 1,6,7"]);
        assert_eq!(sources("0 0 * * 1-5"), ["0 0 0 * * 2,3,4,5,6"]);
        assert_eq!(sources("0 0 * * */2"), ["0 0 0 * * 1,3,5,7"]);
        assert_eq!(sources("0 0 * * 0-6"), ["0 0 0 * * *"]);
        assert_eq!(sources("0 0 * * 1-7"), ["0 0 0 * * *"]);
    }

    #[test]
    fn names_become_numbers() {
        assert_eq!(sources("0 0 * * sun"), ["0 0 0 * * 1"]);
        assert_eq!(sources("0 0 * * SUN"), ["0 0 0 * * 1"]);
        assert_eq!(sources("0 0 * * sat,sun"), ["0 0 0 * * 1,7"]);
        assert_eq!(sources("0 0 * * mon-fri"), ["0 0 0 * * 2,3,4,5,6"]);
        assert_eq!(sources("0 0 * * Tue-Thu"), ["0 0 0 * * 3,4,5"]);
        assert_eq!(sources("0 0 1 jan-mar,DEC *"), ["0 0 0 1 1,2,3,12 *"]);
    }

    #[test]
    fn star_prefix_decides_between_and_and_or() {
        // Both restricted: two schedules, one per day field.
        assert_eq!(sources("0 0 1,15 * mon"), ["0 0 0 1,15 * *", "0 0 0 * * 2"]);
        assert_eq!(sources("0 0 13 * 5"), ["0 0 0 13 * *", "0 0 0 * * 6"]);
        assert_eq!(sources("0 0 1-31 * 1"), ["0 0 0 * * *", "0 0 0 * * 2"]);
        // One starts with `*`: a single schedule ANDing them.
        assert_eq!(sources("0 0 */2 * 1").len(), 1);
        assert_eq!(
            sources("0 0 */2 * 1"),
            ["0 0 0 1,3,5,7,9,11,13,15,17,19,21,23,25,27,29,31 * 2"]
        );
        assert_eq!(sources("0 0 1 * */2"), ["0 0 0 1 * 1,3,5,7"]);
        assert_eq!(sources("0 0 * * 1"), ["0 0 0 * * 2"]);
        assert_eq!(sources("0 0 15 * *"), ["0 0 0 15 * *"]);
    }

    #[test]
    fn seconds_lead_and_default_to_zero() {
        assert_eq!(sources("*/15 * * * * *"), ["0,15,30,45 * * * * *"]);
        assert_eq!(sources("30 0 * * * *"), ["30 0 * * * *"]);
        assert_eq!(
            sources("*/5 * * * *"),
            ["0 0,5,10,15,20,25,30,35,40,45,50,55 * * * *"]
        );
        assert_eq!(sources("@hourly"), ["0 0 * * * *"]);
        assert_eq!(
            sources("59 23 31 12 6"),
            ["0 59 23 31 12 *", "0 59 23 * 12 7"]
        );
    }

    #[test]
    fn every_field_extreme_is_accepted_by_the_crate() {
        sources("0-58 0-22 2-31 2-12 1-6 ");
        sources("59 23 31 12 7");
        sources("0,59 0,23 1,31 1,12 0,7");
        sources("59 59 23 31 12 7");
    }

    #[test]
    fn a_translation_the_crate_refuses_is_an_error() {
        let err = crate_schedule("0 0 0 32 * *").expect_err("day 32");
        assert!(matches!(err, ScheduleError::Unsupported { .. }), "{err:?}");
        let message = err.to_string();
        assert!(
            message.starts_with("schedule cannot be evaluated: its translation `0 0 0 32 * *`"),
            "{message}"
        );
    }

    #[test]
    fn proxy_years_share_the_calendar() {
        for year in [1600, 1900, 1969, 2101, 2104, 2200, 2400, 3000, 9999] {
            let proxy = proxy_year(year);
            assert!((1971..=2099).contains(&proxy), "{year} -> {proxy}");
            assert_eq!(is_leap(proxy), is_leap(year), "{year} -> {proxy}");
            assert_eq!(jan_first(proxy), jan_first(year), "{year} -> {proxy}");
        }
    }

    #[test]
    fn gap_end_is_found_to_the_second() {
        let tz: Tz = "America/New_York".parse().unwrap();
        let missing = NaiveDate::from_ymd_opt(2025, 3, 9)
            .unwrap()
            .and_hms_opt(2, 0, 0)
            .unwrap();
        let end = gap_end(tz, missing).unwrap();
        assert_eq!(end.to_rfc3339(), "2025-03-09T07:00:00+00:00");
        let late = missing + TimeDelta::seconds(3599);
        assert_eq!(gap_end(tz, late), Some(end));
    }
}
