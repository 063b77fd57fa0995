//! Property tests of `Schedule` against bad input and against crontab(5) itself: no text makes
//! parsing or evaluation panic; every well-formed crontab(5) line is accepted (or refused as
//! never firing, exactly when it never fires) and fires when a brute-force reading of the
//! manual page says it does; and a line with one field crontab(5) refuses is refused, naming
//! that field.

mod crontab_model;

use chrono::{DateTime, TimeDelta, TimeZone as _, Utc};
use crontab_model::{Line, strategy};
use distcron_core::{Schedule, ScheduleError, TimeZone};
use proptest::prelude::*;

/// Fire times compared per line.
const FIRES: usize = 5;
/// How far past the start the brute force walks: ten years cover 29 February across 2100,
/// which is not a leap year (2096 to 2104).
const HORIZON: TimeDelta = TimeDelta::days(3660);

/// Zones for the no-panic property, with their odd clock changes: 30-minute shifts, a skipped
/// day (Apia, 2011), a 45-minute offset.
const ZONES: [&str; 7] = [
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "Pacific/Apia",
    "Asia/Kathmandu",
    "America/Sao_Paulo",
];

fn timestamp(year: i32) -> i64 {
    Utc.with_ymd_and_hms(year, 1, 1, 0, 0, 0)
        .single()
        .expect("a year chrono knows")
        .timestamp()
}

fn instant(seconds: i64, nanos: u32) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, nanos).expect("an instant chrono knows")
}

/// Starts mostly from 1965 to 2135, on both sides of the years the `cron` crate knows
/// (1970-2100), sometimes anywhere in years 0-9999 (which distcron maps onto years the crate
/// knows), on whole seconds or between them.
fn start() -> impl Strategy<Value = DateTime<Utc>> {
    let seconds = prop_oneof![
        4 => timestamp(1965)..timestamp(2135),
        1 => timestamp(0)..timestamp(10_000),
    ];
    let nanos = prop_oneof![Just(0u32), 0..1_000_000_000u32];
    (seconds, nanos).prop_map(|(s, n)| instant(s, n))
}

/// Any instant the API can be given: RFC 3339 years 0000 to 9999, with any offset.
fn api_instant() -> impl Strategy<Value = DateTime<Utc>> {
    let edges = (timestamp(-1) + 364 * 86_400)..(timestamp(10_000) + 86_400);
    (edges, 0..1_000_000_000u32).prop_map(|(s, n)| instant(s, n))
}

/// Pieces of crontab syntax and of what is near it: Unicode blanks and digits, Quartz's letters,
/// numbers past `u32`.
#[rustfmt::skip]
const TOKENS: &[&str] = &[
    "0", "1", "7", "23", "31", "59", "60", "00", "*", "*/", "/", "-", ",", " ", "\t", "\n", "\r",
    "\u{a0}", "\u{2003}", "\u{3000}", "\0", "@", "@daily", "@once", "@reboot", "jan", "DEC",
    "MON", "sun", "L", "W", "#", "?", "é", "\u{663}", "\u{ff11}", "🕐", "99999999999999999999",
    "4294967296", "-0", "+1",
];

/// Text of every kind: any characters (NUL, controls, any script), crontab's alphabet and
/// tokens mixed with Unicode blanks and digits, a well-formed line with a character dropped
/// in, many fields, and very long fields.
fn any_text() -> impl Strategy<Value = String> {
    let chars = proptest::collection::vec(any::<char>(), 0..64);
    let tokens = proptest::collection::vec(proptest::sample::select(TOKENS), 0..40);
    let mutated = (
        strategy::well_formed(),
        any::<prop::sample::Index>(),
        any::<char>(),
    );
    let many_fields = proptest::collection::vec("[0-9*/,a-z-]{1,6}", 0..200);
    let long = (
        1000..20_000usize,
        proptest::sample::select(&["1,", "9", "*/", "a", "\0"][..]),
    );
    prop_oneof![
        strategy::well_formed().prop_map(|line| line.text),
        chars.prop_map(String::from_iter),
        tokens.prop_map(|t| t.concat()),
        mutated.prop_map(|(line, at, c)| {
            let mut text = line.text;
            let boundaries: Vec<usize> = (0..=text.len())
                .filter(|&i| text.is_char_boundary(i))
                .collect();
            text.insert(boundaries[at.index(boundaries.len())], c);
            text
        }),
        many_fields.prop_map(|fields| fields.join(" ")),
        // `1,1,…,1,0` is a valid field of thousands of items.
        long.prop_map(|(n, unit)| format!("{}0 * * * *", unit.repeat(n))),
    ]
}

fn show(times: &[DateTime<Utc>]) -> Vec<String> {
    times.iter().map(|t| t.to_rfc3339()).collect()
}

/// Checks one accepted line against the brute force, from `after`, in UTC.
fn fires_like_crontab(
    line: &Line,
    schedule: &Schedule,
    after: DateTime<Utc>,
) -> Result<(), TestCaseError> {
    let limit = after + HORIZON;
    let expected = line.fire_times(after, FIRES, limit);
    let got: Vec<_> = schedule
        .iter_after(&TimeZone::utc(), after)
        .take(expected.len() + 1)
        .collect();
    let shown = got.len().min(expected.len());
    prop_assert_eq!(
        show(&got[..shown]),
        show(&expected),
        "`{}` after {}",
        line.text,
        after
    );
    // Fewer than FIRES within the horizon: distcron has nothing else before it either.
    if expected.len() < FIRES
        && let Some(next) = got.get(expected.len())
    {
        prop_assert!(
            *next > limit,
            "`{}` after {}: {} was missed by the brute force",
            line.text,
            after,
            next
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn no_text_makes_parsing_or_evaluation_panic(
        text in any_text(),
        zone in proptest::sample::select(&ZONES[..]),
        after in api_instant(),
    ) {
        // An `Err` is fine; a panic fails the test.
        let Ok(schedule) = Schedule::parse(&text) else { return Ok(()) };
        prop_assert_eq!(schedule.expression(), text.trim());
        prop_assert!(Schedule::parse(&schedule.to_string()).is_ok());
        let tz = TimeZone::parse(zone).expect("a known zone");
        let times: Vec<_> = schedule.iter_after(&tz, after).take(3).collect();
        prop_assert!(times.iter().all(|t| *t > after), "{:?}", times);
        prop_assert!(times.windows(2).all(|w| w[0] < w[1]), "{:?}", times);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn well_formed_lines_fire_when_crontab_says(
        line in prop_oneof![9 => strategy::well_formed(), 1 => strategy::macro_line()],
        after in start(),
    ) {
        match Schedule::parse(&line.text) {
            Ok(schedule) => {
                prop_assert!(!line.never_fires(), "`{}` never fires", line.text);
                prop_assert_eq!(schedule.has_seconds(), line.second.is_some());
                fires_like_crontab(&line, &schedule, after)?;
            }
            // distcron refuses what crontab(5) would accept and never run.
            Err(ScheduleError::NeverFires { .. }) => {
                prop_assert!(line.never_fires(), "`{}` does fire", line.text);
            }
            Err(e) => prop_assert!(false, "`{}` was refused: {}", line.text, e),
        }
    }

    #[test]
    fn lines_crontab_refuses_are_refused_naming_the_field(
        (line, kind) in strategy::ill_formed(),
    ) {
        match Schedule::parse(&line.text) {
            Err(ScheduleError::Field { field, .. }) => prop_assert_eq!(field, kind.cron_field()),
            other => prop_assert!(
                false,
                "`{}`: expected a {:?} field error, got {:?}",
                line.text,
                kind,
                other
            ),
        }
    }
}
