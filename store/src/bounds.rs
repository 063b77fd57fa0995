//! The instants a query may compare with. sqlx sends a `DateTime<Utc>` as a TIMESTAMP, whose
//! range is 1970-01-01T00:00:01Z to 2038-01-19T03:14:07.999999Z, and MariaDB takes one outside
//! it for no time at all: `at >= <year 1>` matched no row, so a window a caller opened wide
//! (`from=0001-01-01T00:00:00Z`) found no audit rows and showed recorded ticks as unaccounted.
//! Every row's times are inside that range (they are times things happened), so a bound moved
//! into it matches the same rows.

use chrono::{DateTime, Utc};

/// `t`, moved into the range a TIMESTAMP can hold.
pub(crate) fn bindable(t: DateTime<Utc>) -> DateTime<Utc> {
    let first = DateTime::from_timestamp(1, 0).unwrap_or(t);
    let last = DateTime::from_timestamp_micros(2_147_483_647_999_999).unwrap_or(t);
    t.clamp(first, last)
}

#[cfg(test)]
mod tests {
    use super::bindable;
    use chrono::{DateTime, Utc};

    #[test]
    fn instants_outside_a_timestamps_range_are_moved_to_its_ends() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().expect("time");
        assert_eq!(
            bindable(t("0001-01-01T00:00:00Z")),
            t("1970-01-01T00:00:01Z")
        );
        assert_eq!(
            bindable(t("9999-12-31T23:59:59Z")),
            t("2038-01-19T03:14:07.999999Z")
        );
        let now = Utc::now();
        assert_eq!(bindable(now), now);
    }
}
