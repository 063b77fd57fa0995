//! The acceptance table of crontab(5) schedules: expressions, time zones and starting instants
//! with the fire instants expected next, and the exact messages for refused expressions.
//!
//! The rows of `TABLE` were worked out by hand and compared with croniter, an independent
//! implementation (run with `day_or=False` where a day field starts with `*`, since croniter
//! only treats a bare `*` as unrestricted). The rows of `DST_TABLE` follow from distcron's
//! daylight-saving policy, as each comment explains; their clock changes are:
//!
//! - America/New_York: 2025-03-09 07:00Z (02:00 EST becomes 03:00 EDT, local 02:00-02:59 does
//!   not exist) and 2025-11-02 06:00Z (02:00 EDT becomes 01:00 EST, local 01:00-01:59 twice);
//! - Europe/London: 2025-03-30 01:00Z (01:00 GMT becomes 02:00 BST) and 2025-10-26 01:00Z
//!   (02:00 BST becomes 01:00 GMT);
//! - Europe/Berlin: 2025-03-30 01:00Z (02:00 CET becomes 03:00 CEST) and 2025-10-26 01:00Z
//!   (03:00 CEST becomes 02:00 CET);
//! - Australia/Lord_Howe, which shifts by 30 minutes: 2025-04-05 15:00Z (02:00 +11:00 becomes
//!   01:30 +10:30, local 01:30-01:59 twice) and 2025-10-04 15:30Z (02:00 +10:30 becomes
//!   02:30 +11:00, local 02:00-02:29 does not exist).

use chrono::{DateTime, SecondsFormat, Utc};
use distcron_core::{Schedule, ScheduleError, TimeZone};

/// (expression, time zone, after, the next fire instants in order)
type Row = (
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
);

#[rustfmt::skip]
const TABLE: &[Row] = &[
    // Plain fields, strictly after `after`, including from the middle of a second.
    ("* * * * *", "UTC", "2025-01-01T00:00:00Z", &["2025-01-01T00:01:00Z", "2025-01-01T00:02:00Z", "2025-01-01T00:03:00Z"]),
    ("* * * * *", "UTC", "2025-01-01T00:00:30.500Z", &["2025-01-01T00:01:00Z", "2025-01-01T00:02:00Z"]),
    ("5 * * * *", "UTC", "2025-06-15T10:05:00Z", &["2025-06-15T11:05:00Z", "2025-06-15T12:05:00Z", "2025-06-15T13:05:00Z"]),
    ("5 4 * * sun", "UTC", "2025-01-05T04:05:00Z", &["2025-01-12T04:05:00Z", "2025-01-19T04:05:00Z", "2025-01-26T04:05:00Z"]),
    ("15,45 9-17/4 * * *", "UTC", "2025-01-01T12:00:00Z", &["2025-01-01T13:15:00Z", "2025-01-01T13:45:00Z", "2025-01-01T17:15:00Z", "2025-01-01T17:45:00Z", "2025-01-02T09:15:00Z"]),
    ("0 0-23/6 * * *", "UTC", "2025-01-01T05:00:00Z", &["2025-01-01T06:00:00Z", "2025-01-01T12:00:00Z", "2025-01-01T18:00:00Z", "2025-01-02T00:00:00Z"]),
    // Weekdays by number and name: 2025-01-03 is a Friday, 2025-01-05 a Sunday.
    ("30 8 * * 1-5", "UTC", "2025-05-30T09:00:00Z", &["2025-06-02T08:30:00Z", "2025-06-03T08:30:00Z", "2025-06-04T08:30:00Z"]),
    ("0 9 * * mon-fri", "UTC", "2025-01-03T12:00:00Z", &["2025-01-06T09:00:00Z", "2025-01-07T09:00:00Z", "2025-01-08T09:00:00Z"]),
    ("0 0 * * 0", "UTC", "2025-01-01T00:00:00Z", &["2025-01-05T00:00:00Z", "2025-01-12T00:00:00Z", "2025-01-19T00:00:00Z"]),
    ("0 0 * * 7", "UTC", "2025-01-01T00:00:00Z", &["2025-01-05T00:00:00Z", "2025-01-12T00:00:00Z", "2025-01-19T00:00:00Z"]),
    ("0 0 * * sun", "UTC", "2025-03-01T00:00:00Z", &["2025-03-02T00:00:00Z", "2025-03-09T00:00:00Z", "2025-03-16T00:00:00Z"]),
    ("0 12 * * SUN", "UTC", "2025-02-10T00:00:00Z", &["2025-02-16T12:00:00Z", "2025-02-23T12:00:00Z", "2025-03-02T12:00:00Z"]),
    ("0 0 * * 5-7", "UTC", "2025-01-01T00:00:00Z", &["2025-01-03T00:00:00Z", "2025-01-04T00:00:00Z", "2025-01-05T00:00:00Z", "2025-01-10T00:00:00Z"]),
    ("0 0 * * sat,sun", "UTC", "2025-01-01T00:00:00Z", &["2025-01-04T00:00:00Z", "2025-01-05T00:00:00Z", "2025-01-11T00:00:00Z", "2025-01-12T00:00:00Z"]),
    ("0 6 * * Mon,Wed,FRI", "UTC", "2025-09-01T06:00:00Z", &["2025-09-03T06:00:00Z", "2025-09-05T06:00:00Z", "2025-09-08T06:00:00Z"]),
    ("0 0 * * tue-thu", "UTC", "2025-12-29T12:00:00Z", &["2025-12-30T00:00:00Z", "2025-12-31T00:00:00Z", "2026-01-01T00:00:00Z", "2026-01-06T00:00:00Z"]),
    ("0 0 * * 0-7", "UTC", "2025-01-01T00:00:00Z", &["2025-01-02T00:00:00Z", "2025-01-03T00:00:00Z", "2025-01-04T00:00:00Z"]),
    // Both day fields restricted: either matches (2025-09-01 is a Monday, 2025-06-13 a Friday).
    ("0 0 1,15 * mon", "UTC", "2025-09-01T00:00:00Z", &["2025-09-08T00:00:00Z", "2025-09-15T00:00:00Z", "2025-09-22T00:00:00Z", "2025-09-29T00:00:00Z", "2025-10-01T00:00:00Z", "2025-10-06T00:00:00Z"]),
    ("0 0 13 * 5", "UTC", "2025-06-01T00:00:00Z", &["2025-06-06T00:00:00Z", "2025-06-13T00:00:00Z", "2025-06-20T00:00:00Z", "2025-06-27T00:00:00Z", "2025-07-04T00:00:00Z", "2025-07-11T00:00:00Z", "2025-07-13T00:00:00Z"]),
    ("0 0 1-7 * 1", "UTC", "2025-09-01T00:00:00Z", &["2025-09-02T00:00:00Z", "2025-09-03T00:00:00Z", "2025-09-04T00:00:00Z", "2025-09-05T00:00:00Z", "2025-09-06T00:00:00Z", "2025-09-07T00:00:00Z", "2025-09-08T00:00:00Z", "2025-09-15T00:00:00Z"]),
    ("0 0 1-31 * mon", "UTC", "2025-01-01T00:00:00Z", &["2025-01-02T00:00:00Z", "2025-01-03T00:00:00Z", "2025-01-04T00:00:00Z"]),
    ("0 0 1 * 0-6", "UTC", "2025-01-31T00:00:00Z", &["2025-02-01T00:00:00Z", "2025-02-02T00:00:00Z", "2025-02-03T00:00:00Z"]),
    ("0 0 1 feb sun", "UTC", "2025-01-01T00:00:00Z", &["2025-02-01T00:00:00Z", "2025-02-02T00:00:00Z", "2025-02-09T00:00:00Z", "2025-02-16T00:00:00Z", "2025-02-23T00:00:00Z", "2026-02-01T00:00:00Z"]),
    // One day field starts with `*`: both must match (odd days that are Mondays; the 1st on
    // Sunday, Tuesday, Thursday or Saturday).
    ("0 0 */2 * 1", "UTC", "2025-01-01T00:00:00Z", &["2025-01-13T00:00:00Z", "2025-01-27T00:00:00Z", "2025-02-03T00:00:00Z", "2025-02-17T00:00:00Z", "2025-03-03T00:00:00Z"]),
    ("0 0 1 * */2", "UTC", "2025-01-01T00:00:00Z", &["2025-02-01T00:00:00Z", "2025-03-01T00:00:00Z", "2025-04-01T00:00:00Z", "2025-05-01T00:00:00Z", "2025-06-01T00:00:00Z", "2025-07-01T00:00:00Z", "2025-11-01T00:00:00Z"]),
    // Steps over ranges, `a/n`, and a step that does not divide the hour.
    ("10-50/20 * * * *", "UTC", "2025-01-01T00:00:00Z", &["2025-01-01T00:10:00Z", "2025-01-01T00:30:00Z", "2025-01-01T00:50:00Z", "2025-01-01T01:10:00Z"]),
    ("1-10/3 * * * *", "UTC", "2025-01-01T00:05:00Z", &["2025-01-01T00:07:00Z", "2025-01-01T00:10:00Z", "2025-01-01T01:01:00Z", "2025-01-01T01:04:00Z"]),
    ("*/7 * * * *", "UTC", "2025-01-01T00:50:00Z", &["2025-01-01T00:56:00Z", "2025-01-01T01:00:00Z", "2025-01-01T01:07:00Z", "2025-01-01T01:14:00Z"]),
    ("0 0 5/10 * *", "UTC", "2025-01-01T00:00:00Z", &["2025-01-05T00:00:00Z", "2025-01-15T00:00:00Z", "2025-01-25T00:00:00Z", "2025-02-05T00:00:00Z"]),
    ("0 0 */10 * *", "UTC", "2025-01-25T00:00:00Z", &["2025-01-31T00:00:00Z", "2025-02-01T00:00:00Z", "2025-02-11T00:00:00Z", "2025-02-21T00:00:00Z", "2025-03-01T00:00:00Z"]),
    // Month names and month ends.
    ("0 0 1 jan-mar *", "UTC", "2025-02-15T00:00:00Z", &["2025-03-01T00:00:00Z", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"]),
    ("0 0 1 JAN,jul *", "UTC", "2025-01-01T00:00:00Z", &["2025-07-01T00:00:00Z", "2026-01-01T00:00:00Z", "2026-07-01T00:00:00Z"]),
    ("0 0 31 * *", "UTC", "2025-01-31T00:00:00Z", &["2025-03-31T00:00:00Z", "2025-05-31T00:00:00Z", "2025-07-31T00:00:00Z", "2025-08-31T00:00:00Z", "2025-10-31T00:00:00Z"]),
    ("0 0 30 * *", "UTC", "2025-01-30T00:00:00Z", &["2025-03-30T00:00:00Z", "2025-04-30T00:00:00Z", "2025-05-30T00:00:00Z"]),
    ("0 0 29 * *", "UTC", "2025-01-29T00:00:00Z", &["2025-03-29T00:00:00Z", "2025-04-29T00:00:00Z"]),
    // Leap days, across 2100 (not a leap year, and past the last year the cron crate knows),
    // and February 29 that is a Sunday (`*/7` on weekdays is 0,7), which 2100 moves from 2116 to
    // 2128.
    ("0 0 29 2 *", "UTC", "2025-01-01T00:00:00Z", &["2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z", "2036-02-29T00:00:00Z"]),
    ("0 12 29 2 *", "UTC", "2097-01-01T00:00:00Z", &["2104-02-29T12:00:00Z", "2108-02-29T12:00:00Z", "2112-02-29T12:00:00Z"]),
    ("0 0 29 2 */7", "UTC", "2025-01-01T00:00:00Z", &["2032-02-29T00:00:00Z", "2060-02-29T00:00:00Z", "2088-02-29T00:00:00Z", "2128-02-29T00:00:00Z"]),
    // Year rollover, and years outside the cron crate's 1970-2100 (2150-01-01 is a Thursday).
    ("59 23 31 12 *", "UTC", "2025-12-31T23:59:00Z", &["2026-12-31T23:59:00Z", "2027-12-31T23:59:00Z"]),
    ("* * * * *", "UTC", "2025-12-31T23:59:30Z", &["2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z"]),
    ("0 0 1 1 *", "UTC", "1968-06-01T00:00:00Z", &["1969-01-01T00:00:00Z", "1970-01-01T00:00:00Z", "1971-01-01T00:00:00Z"]),
    ("0 0 1 1 *", "UTC", "2099-06-01T00:00:00Z", &["2100-01-01T00:00:00Z", "2101-01-01T00:00:00Z", "2102-01-01T00:00:00Z"]),
    ("0 0 * * 1", "UTC", "2150-01-01T00:00:00Z", &["2150-01-05T00:00:00Z", "2150-01-12T00:00:00Z", "2150-01-19T00:00:00Z"]),
    // Macros.
    ("@yearly", "UTC", "2025-06-01T00:00:00Z", &["2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z"]),
    ("@annually", "UTC", "2025-01-01T00:00:00Z", &["2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"]),
    ("@monthly", "UTC", "2025-01-31T12:00:00Z", &["2025-02-01T00:00:00Z", "2025-03-01T00:00:00Z", "2025-04-01T00:00:00Z"]),
    ("@weekly", "UTC", "2025-01-01T00:00:00Z", &["2025-01-05T00:00:00Z", "2025-01-12T00:00:00Z", "2025-01-19T00:00:00Z"]),
    ("@daily", "UTC", "2025-02-27T00:00:00Z", &["2025-02-28T00:00:00Z", "2025-03-01T00:00:00Z", "2025-03-02T00:00:00Z"]),
    ("@midnight", "UTC", "2024-02-28T12:00:00Z", &["2024-02-29T00:00:00Z", "2024-03-01T00:00:00Z"]),
    ("@hourly", "UTC", "2025-01-01T23:00:00Z", &["2025-01-02T00:00:00Z", "2025-01-02T01:00:00Z"]),
    // Six fields, seconds first.
    ("*/15 * * * * *", "UTC", "2025-01-01T00:00:50Z", &["2025-01-01T00:01:00Z", "2025-01-01T00:01:15Z", "2025-01-01T00:01:30Z", "2025-01-01T00:01:45Z", "2025-01-01T00:02:00Z"]),
    ("30 0 * * * *", "UTC", "2025-01-01T00:00:30Z", &["2025-01-01T01:00:30Z", "2025-01-01T02:00:30Z", "2025-01-01T03:00:30Z"]),
    ("0 0 12 * * mon", "UTC", "2025-01-01T00:00:00Z", &["2025-01-06T12:00:00Z", "2025-01-13T12:00:00Z", "2025-01-20T12:00:00Z"]),
    ("* * * * * *", "UTC", "2025-12-31T23:59:58Z", &["2025-12-31T23:59:59Z", "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z"]),
    // Other zones away from clock changes: fields are read on the local wall clock, weekdays
    // included (Monday 01:00 in Sydney, at +11:00, is Sunday 14:00Z).
    ("0 22 * * 1-5", "Europe/Berlin", "2025-01-06T00:00:00Z", &["2025-01-06T21:00:00Z", "2025-01-07T21:00:00Z", "2025-01-08T21:00:00Z"]),
    ("0 9 * * *", "Asia/Tokyo", "2025-01-01T00:00:00Z", &["2025-01-02T00:00:00Z", "2025-01-03T00:00:00Z"]),
    ("0 0 * * *", "Asia/Kolkata", "2025-01-01T00:00:00Z", &["2025-01-01T18:30:00Z", "2025-01-02T18:30:00Z"]),
    ("0 1 * * mon", "Australia/Sydney", "2025-01-01T00:00:00Z", &["2025-01-05T14:00:00Z", "2025-01-12T14:00:00Z", "2025-01-19T14:00:00Z"]),
    // Midnight on the 1st is never near a clock change, but the offset moves from -05:00 to -04:00.
    ("@monthly", "America/New_York", "2025-01-15T00:00:00Z", &["2025-02-01T05:00:00Z", "2025-03-01T05:00:00Z", "2025-04-01T04:00:00Z"]),
];

#[rustfmt::skip]
const DST_TABLE: &[Row] = &[
    // New York, spring forward. Daily 02:30: 02:30 EST on 03-08 is 07:30Z; 02:30 on 03-09 does
    // not exist and fires at the end of the gap, 03:00 EDT = 07:00Z; 02:30 EDT on 03-10 is 06:30Z.
    ("30 2 * * *", "America/New_York", "2025-03-07T12:00:00Z", &["2025-03-08T07:30:00Z", "2025-03-09T07:00:00Z", "2025-03-10T06:30:00Z"]),
    // Weekly on Sunday 02:00: 03-02 02:00 EST = 07:00Z; on 03-09 02:00 is missing, so 03:00 EDT
    // = 07:00Z; on 03-16 02:00 EDT = 06:00Z.
    ("0 2 * * 0", "America/New_York", "2025-03-01T00:00:00Z", &["2025-03-02T07:00:00Z", "2025-03-09T07:00:00Z", "2025-03-16T06:00:00Z"]),
    // Hourly: 01:00 EST = 06:00Z; 02:00 is missing and maps to 07:00Z, the same instant as
    // 03:00 EDT, which is therefore not repeated; 04:00 EDT = 08:00Z.
    ("0 * * * *", "America/New_York", "2025-03-09T05:30:00Z", &["2025-03-09T06:00:00Z", "2025-03-09T07:00:00Z", "2025-03-09T08:00:00Z"]),
    // Every 30 minutes: 01:00 and 01:30 EST (06:00Z, 06:30Z); 02:00, 02:30 and 03:00 all map to
    // 07:00Z and fire once; then 03:30 EDT = 07:30Z.
    ("*/30 * * * *", "America/New_York", "2025-03-09T05:45:00Z", &["2025-03-09T06:00:00Z", "2025-03-09T06:30:00Z", "2025-03-09T07:00:00Z", "2025-03-09T07:30:00Z"]),
    // New York, fall back. Daily 01:30: 01:30 EDT on 11-01 = 05:30Z; on 11-02 01:30 happens twice
    // and fires at the first, 01:30 EDT = 05:30Z, not again at 06:30Z; 11-03 01:30 EST = 06:30Z.
    ("30 1 * * *", "America/New_York", "2025-10-31T12:00:00Z", &["2025-11-01T05:30:00Z", "2025-11-02T05:30:00Z", "2025-11-03T06:30:00Z"]),
    // From 01:15 EDT (first pass): 01:30 EDT that day is still ahead.
    ("30 1 * * *", "America/New_York", "2025-11-02T05:15:00Z", &["2025-11-02T05:30:00Z", "2025-11-03T06:30:00Z"]),
    // From 01:15 EST (second pass, 06:15Z): 01:30 maps to its first pass, 05:30Z, already gone,
    // so the next run is the next day's.
    ("30 1 * * *", "America/New_York", "2025-11-02T06:15:00Z", &["2025-11-03T06:30:00Z"]),
    // Hourly: 01:00 fires once at its first pass, 01:00 EDT = 05:00Z; 01:00 EST (06:00Z) does
    // not fire; 02:00 EST = 07:00Z.
    ("0 * * * *", "America/New_York", "2025-11-02T04:30:00Z", &["2025-11-02T05:00:00Z", "2025-11-02T07:00:00Z", "2025-11-02T08:00:00Z"]),
    // Every 30 minutes: 00:30, 01:00, 01:30 EDT (04:30Z-05:30Z), then a 90-minute pause over the
    // repeated hour until 02:00 EST = 07:00Z.
    ("*/30 * * * *", "America/New_York", "2025-11-02T04:15:00Z", &["2025-11-02T04:30:00Z", "2025-11-02T05:00:00Z", "2025-11-02T05:30:00Z", "2025-11-02T07:00:00Z", "2025-11-02T07:30:00Z"]),
    // Every second from 01:30:00 EST, the second pass: every wall-clock second up to 01:59:59
    // has already fired in the first pass; next is 02:00:00 EST = 07:00:00Z.
    ("* * * * * *", "America/New_York", "2025-11-02T06:30:00Z", &["2025-11-02T07:00:00Z", "2025-11-02T07:00:01Z"]),
    // London, spring forward (01:00-01:59 missing). Daily 01:30: 03-29 01:30 GMT = 01:30Z;
    // 03-30 01:30 is missing, so 02:00 BST = 01:00Z; 03-31 01:30 BST = 00:30Z.
    ("30 1 * * *", "Europe/London", "2025-03-28T12:00:00Z", &["2025-03-29T01:30:00Z", "2025-03-30T01:00:00Z", "2025-03-31T00:30:00Z"]),
    // Every 30 minutes: 00:30 GMT = 00:30Z; 01:00, 01:30 and 02:00 BST all map to 01:00Z; then
    // 02:30 BST = 01:30Z and 03:00 BST = 02:00Z.
    ("*/30 * * * *", "Europe/London", "2025-03-30T00:15:00Z", &["2025-03-30T00:30:00Z", "2025-03-30T01:00:00Z", "2025-03-30T01:30:00Z", "2025-03-30T02:00:00Z"]),
    // London, fall back (01:00-01:59 twice). Daily 01:30: 10-25 01:30 BST = 00:30Z; 10-26 first
    // pass 01:30 BST = 00:30Z only; 10-27 01:30 GMT = 01:30Z.
    ("30 1 * * *", "Europe/London", "2025-10-24T12:00:00Z", &["2025-10-25T00:30:00Z", "2025-10-26T00:30:00Z", "2025-10-27T01:30:00Z"]),
    // Hourly from 00:30 BST: 01:00 BST = 00:00Z; 01:00 GMT (01:00Z) is skipped; 02:00 GMT = 02:00Z.
    ("0 * * * *", "Europe/London", "2025-10-25T23:30:00Z", &["2025-10-26T00:00:00Z", "2025-10-26T02:00:00Z", "2025-10-26T03:00:00Z"]),
    // Berlin, spring forward (02:00-02:59 missing). Daily 02:30: 03-29 02:30 CET = 01:30Z;
    // 03-30 02:30 is missing, so 03:00 CEST = 01:00Z; 03-31 02:30 CEST = 00:30Z.
    ("30 2 * * *", "Europe/Berlin", "2025-03-28T12:00:00Z", &["2025-03-29T01:30:00Z", "2025-03-30T01:00:00Z", "2025-03-31T00:30:00Z"]),
    // The same with seconds: the gap end is the same instant.
    ("0 30 2 * * *", "Europe/Berlin", "2025-03-29T12:00:00Z", &["2025-03-30T01:00:00Z", "2025-03-31T00:30:00Z"]),
    // Every 30 minutes: 01:30 CET = 00:30Z; 02:00, 02:30, 03:00 map to 01:00Z; 03:30 CEST = 01:30Z.
    ("*/30 * * * *", "Europe/Berlin", "2025-03-30T00:15:00Z", &["2025-03-30T00:30:00Z", "2025-03-30T01:00:00Z", "2025-03-30T01:30:00Z"]),
    // Berlin, fall back (02:00-02:59 twice). Daily 02:30: 10-25 02:30 CEST = 00:30Z; 10-26 first
    // pass 02:30 CEST = 00:30Z only; 10-27 02:30 CET = 01:30Z.
    ("30 2 * * *", "Europe/Berlin", "2025-10-24T12:00:00Z", &["2025-10-25T00:30:00Z", "2025-10-26T00:30:00Z", "2025-10-27T01:30:00Z"]),
    // Every 30 minutes from 02:15 CEST: 02:30 CEST = 00:30Z; the second pass (01:00Z-01:59Z)
    // is skipped; 03:00 CET = 02:00Z.
    ("*/30 * * * *", "Europe/Berlin", "2025-10-26T00:15:00Z", &["2025-10-26T00:30:00Z", "2025-10-26T02:00:00Z", "2025-10-26T02:30:00Z"]),
    // Lord Howe, back 30 minutes (01:30-01:59 twice): from 01:20 +11:00, 01:30 and 01:45 fire in
    // the first pass (14:30Z, 14:45Z); 02:00 +10:30 = 15:30Z; 02:15 +10:30 = 15:45Z.
    ("*/15 * * * *", "Australia/Lord_Howe", "2025-04-05T14:20:00Z", &["2025-04-05T14:30:00Z", "2025-04-05T14:45:00Z", "2025-04-05T15:30:00Z", "2025-04-05T15:45:00Z"]),
    // Lord Howe, forward 30 minutes (02:00-02:29 missing): from 01:35 +10:30, 01:45 +10:30 =
    // 15:15Z; 02:00, 02:15 and 02:30 +11:00 all map to 15:30Z; 02:45 +11:00 = 15:45Z.
    ("*/15 * * * *", "Australia/Lord_Howe", "2025-10-04T15:05:00Z", &["2025-10-04T15:15:00Z", "2025-10-04T15:30:00Z", "2025-10-04T15:45:00Z", "2025-10-04T16:00:00Z"]),
    // Daily 02:15: 10-04 02:15 +10:30 = 10-03 15:45Z; 10-05 02:15 is missing, so 02:30 +11:00 =
    // 10-04 15:30Z; 10-06 02:15 +11:00 = 10-05 15:15Z.
    ("15 2 * * *", "Australia/Lord_Howe", "2025-10-03T12:00:00Z", &["2025-10-03T15:45:00Z", "2025-10-04T15:30:00Z", "2025-10-05T15:15:00Z"]),
];

/// (expression, the exact error message)
#[rustfmt::skip]
const ERRORS: &[(&str, &str)] = &[
    ("", "schedule is empty"),
    ("  \t ", "schedule is empty"),
    ("* * * *", "expected 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, found 4"),
    ("0 0 0 1 1 * 2025", "expected 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, found 7"),
    ("@reboot", "unknown schedule macro `@reboot`: supported are @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly, @once"),
    ("@fortnightly", "unknown schedule macro `@fortnightly`: supported are @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly, @once"),
    ("@daily 5", "schedule macro `@daily` must stand alone, found `@daily 5`"),
    ("0 0 * * 8", "invalid day-of-week field `8`: 8 is out of range 0-7 (0 and 7 are Sunday)"),
    ("0 0 * * 1-8", "invalid day-of-week field `1-8`: 8 is out of range 0-7 (0 and 7 are Sunday)"),
    ("60 * * * *", "invalid minute field `60`: 60 is out of range 0-59"),
    ("0 24 * * *", "invalid hour field `24`: 24 is out of range 0-23"),
    ("0 0 0 * *", "invalid day-of-month field `0`: 0 is out of range 1-31"),
    ("0 0 1,32 * *", "invalid day-of-month field `1,32`: 32 is out of range 1-31"),
    ("0 0 * 13 *", "invalid month field `13`: 13 is out of range 1-12"),
    ("60 0 * * * *", "invalid second field `60`: 60 is out of range 0-59"),
    ("99999999999 * * * *", "invalid minute field `99999999999`: 99999999999 is out of range 0-59"),
    ("*/0 * * * *", "invalid minute field `*/0`: step 0 in `*/0`: a step must be at least 1"),
    ("0 0 * * 1-5/0", "invalid day-of-week field `1-5/0`: step 0 in `1-5/0`: a step must be at least 1"),
    ("*/ * * * *", "invalid minute field `*/`: `*/` has no step after `/`"),
    ("*/5/2 * * * *", "invalid minute field `*/5/2`: `*/5/2` has more than one `/`"),
    ("*/x * * * *", "invalid minute field `*/x`: step `x` in `*/x` is not a number"),
    ("0 17-9 * * *", "invalid hour field `17-9`: range `17-9` starts after it ends (ranges do not wrap around)"),
    ("0 0 * * fri-mon", "invalid day-of-week field `fri-mon`: range `fri-mon` starts after it ends (ranges do not wrap around)"),
    ("0 0 * * mon-sun", "invalid day-of-week field `mon-sun`: range `mon-sun` starts after it ends (`sun` is 0 here; end the range with 7 to include Sunday)"),
    ("-5 * * * *", "invalid minute field `-5`: range `-5` has no start"),
    ("5- * * * *", "invalid minute field `5-`: range `5-` has no end"),
    ("1-2-3 * * * *", "invalid minute field `1-2-3`: `1-2-3` has more than one `-`"),
    ("*-5 * * * *", "invalid minute field `*-5`: `*` must stand alone or take a step (`*/n`), found `*-5`"),
    ("1,,2 * * * *", "invalid minute field `1,,2`: empty item in list"),
    ("1, * * * *", "invalid minute field `1,`: empty item in list"),
    ("0 0 ? * mon", "invalid day-of-month field `?`: `?` is Quartz syntax, which crontab(5) does not support; use `*`"),
    ("0 0 L * *", "invalid day-of-month field `L`: `L` (last day of the month) is Quartz syntax, which crontab(5) does not support"),
    ("0 0 LW * *", "invalid day-of-month field `LW`: `LW` (last weekday of the month) is Quartz syntax, which crontab(5) does not support"),
    ("0 0 15W * *", "invalid day-of-month field `15W`: `15W` (weekday nearest a day) is Quartz syntax, which crontab(5) does not support"),
    ("0 0 L-3 * *", "invalid day-of-month field `L-3`: `L-3` (days before the end of the month) is Quartz syntax, which crontab(5) does not support"),
    ("0 0 * * 5#3", "invalid day-of-week field `5#3`: `5#3` (nth weekday of the month) is Quartz syntax, which crontab(5) does not support"),
    ("0 0 * * 5L", "invalid day-of-week field `5L`: `5L` (last given weekday of the month) is Quartz syntax, which crontab(5) does not support"),
    ("0 0 * * monday", "invalid day-of-week field `monday`: `monday` is not a day-of-week name: use sun, mon, tue, wed, thu, fri or sat (or 0-7)"),
    ("0 0 * foo *", "invalid month field `foo`: `foo` is not a month name: use jan, feb, mar, apr, may, jun, jul, aug, sep, oct, nov or dec (or 1-12)"),
    ("abc * * * *", "invalid minute field `abc`: `abc` is not a number"),
    ("0 0 mon * *", "invalid day-of-month field `mon`: `mon` is not a number"),
    ("0 0 * * 1a", "invalid day-of-week field `1a`: `1a` is neither a number nor a day-of-week name"),
    ("0 0 30 2 *", "schedule never fires: day-of-month `30` does not occur in month `2`"),
    ("0 0 31 apr,jun,sep,nov *", "schedule never fires: day-of-month `31` does not occur in month `apr,jun,sep,nov`"),
    ("0 0 30,31 feb */2", "schedule never fires: day-of-month `30,31` does not occur in month `feb`"),
    // Fields are checked in order, so the seconds field is blamed first.
    ("61 0 0 * * 8", "invalid second field `61`: 61 is out of range 0-59"),
];

/// (time zone name, the exact error message)
#[rustfmt::skip]
const ZONE_ERRORS: &[(&str, &str)] = &[
    ("Mars/Olympus_Mons", "unknown time zone `Mars/Olympus_Mons`: expected an IANA time zone name such as UTC, Europe/Berlin or America/New_York"),
    ("Europe/Berln", "unknown time zone `Europe/Berln`: expected an IANA time zone name such as UTC, Europe/Berlin or America/New_York"),
    ("", "unknown time zone ``: expected an IANA time zone name such as UTC, Europe/Berlin or America/New_York"),
    ("+05:00", "unknown time zone `+05:00`: expected an IANA time zone name such as UTC, Europe/Berlin or America/New_York"),
];

fn instant(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap_or_else(|e| panic!("bad instant `{rfc3339}` in the table: {e}"))
        .to_utc()
}

fn show(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Checks every row and reports all mismatches at once, so one failure does not hide others.
fn check(table: &[Row]) {
    let mut failures = Vec::new();
    for &(expression, zone, after, expected) in table {
        let schedule = Schedule::parse(expression)
            .unwrap_or_else(|e| panic!("`{expression}` should parse: {e}"));
        let tz = TimeZone::parse(zone).unwrap_or_else(|e| panic!("{e}"));
        let after = instant(after);
        let expected: Vec<String> = expected.iter().map(|t| show(instant(t))).collect();
        let got: Vec<String> = schedule
            .iter_after(&tz, after)
            .take(expected.len())
            .map(show)
            .collect();
        if got != expected {
            failures.push(format!(
                "`{expression}` in {zone} after {}:\n  expected {expected:?}\n       got {got:?}",
                show(after)
            ));
            continue;
        }
        // `next_after` from each fire time gives the next one, and the first comes from `after`.
        let mut previous = after;
        for next in &expected {
            let found = schedule.next_after(&tz, previous).map(show);
            if found.as_deref() != Some(next.as_str()) {
                failures.push(format!(
                    "`{expression}` in {zone}: next_after({}) = {found:?}, expected {next}",
                    show(previous)
                ));
            }
            previous = instant(next);
        }
    }
    assert!(
        failures.is_empty(),
        "{} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn fire_times() {
    check(TABLE);
}

#[test]
fn fire_times_across_clock_changes() {
    check(DST_TABLE);
}

#[test]
fn table_is_big_enough() {
    assert!(TABLE.len() + DST_TABLE.len() >= 45);
    assert!(ERRORS.len() >= 20);
}

#[test]
fn refused_expressions_say_why() {
    let mut failures = Vec::new();
    for &(expression, message) in ERRORS {
        match Schedule::parse(expression) {
            Ok(_) => failures.push(format!("`{expression}` was accepted")),
            Err(e) if e.to_string() != message => failures.push(format!(
                "`{expression}`:\n  expected {message}\n       got {e}"
            )),
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn unknown_time_zones_say_so() {
    for &(name, message) in ZONE_ERRORS {
        let err = TimeZone::parse(name).expect_err(name);
        assert_eq!(err, ScheduleError::UnknownTimeZone(name.to_string()));
        assert_eq!(err.to_string(), message);
    }
}

#[test]
fn once_never_has_a_next_time() {
    let once = Schedule::parse("@once").unwrap();
    assert!(once.is_once());
    for zone in ["UTC", "America/New_York"] {
        let tz = TimeZone::parse(zone).unwrap();
        assert_eq!(once.next_after(&tz, instant("2025-01-01T00:00:00Z")), None);
        assert_eq!(
            once.iter_after(&tz, instant("2025-01-01T00:00:00Z")).next(),
            None
        );
    }
}
