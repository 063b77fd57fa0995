//! Reading crontab(5) text: macros, the number of fields, and schedules that can never fire;
//! each field itself is read by `field`.

use super::ScheduleError;
use super::field::{DAY_OF_MONTH, DAY_OF_WEEK, Field, HOUR, MINUTE, MONTH, SECOND, parse_field};

/// A parsed expression with every field expanded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Fields {
    /// `None` in the five-field form, which fires at second 0.
    pub(super) second: Option<Field>,
    pub(super) minute: Field,
    pub(super) hour: Field,
    pub(super) day_of_month: Field,
    pub(super) month: Field,
    pub(super) day_of_week: Field,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Parsed {
    Once,
    Fields(Fields),
}

/// The macros of crontab(5) and the fields they stand for; `@reboot` is left out on purpose,
/// since a distributed job has no single machine whose boot it could follow.
const MACROS: [(&str, &str); 7] = [
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

/// distcron's own macro: run once, as soon as possible.
const ONCE: &str = "@once";

/// Parses a trimmed expression.
pub(super) fn parse(expression: &str) -> Result<Parsed, ScheduleError> {
    if expression.is_empty() {
        return Err(ScheduleError::Empty);
    }
    if expression.starts_with('@') {
        return parse_macro(expression);
    }
    let words: Vec<&str> = expression.split_whitespace().collect();
    let (second, rest) = match words.len() {
        5 => (None, &words[..]),
        6 => (Some(parse_field(&SECOND, words[0])?), &words[1..]),
        found => return Err(ScheduleError::FieldCount { found }),
    };
    let fields = Fields {
        second,
        minute: parse_field(&MINUTE, rest[0])?,
        hour: parse_field(&HOUR, rest[1])?,
        day_of_month: parse_field(&DAY_OF_MONTH, rest[2])?,
        month: parse_field(&MONTH, rest[3])?,
        day_of_week: parse_field(&DAY_OF_WEEK, rest[4])?,
    };
    check_fires(&fields, rest[2], rest[3])?;
    Ok(Parsed::Fields(fields))
}

fn parse_macro(expression: &str) -> Result<Parsed, ScheduleError> {
    let mut words = expression.split_whitespace();
    let name = words.next().unwrap_or(expression);
    let known = name == ONCE || MACROS.iter().any(|(m, _)| *m == name);
    if !known {
        return Err(ScheduleError::UnknownMacro(name.to_string()));
    }
    if words.next().is_some() {
        return Err(ScheduleError::MacroWithFields {
            name: name.to_string(),
            expression: expression.to_string(),
        });
    }
    match MACROS.iter().find(|(m, _)| *m == name) {
        Some((_, fields)) => parse(fields),
        None => Ok(Parsed::Once),
    }
}

/// Refuses day-of-month and month combinations that exist in no year, such as `30 2`, which
/// would otherwise be accepted and silently never run. Only the AND rule can get there: under the
/// OR rule the day-of-week list alone fires every week.
fn check_fires(fields: &Fields, dom_text: &str, month_text: &str) -> Result<(), ScheduleError> {
    let or_rule = !fields.day_of_month.starts_with_star && !fields.day_of_week.starts_with_star;
    let possible = fields.month.values.iter().any(|month| {
        fields
            .day_of_month
            .values
            .iter()
            .any(|day| day <= max_days_in_month(month))
    });
    if or_rule || possible {
        Ok(())
    } else {
        Err(ScheduleError::NeverFires {
            reason: format!("day-of-month `{dom_text}` does not occur in month `{month_text}`"),
        })
    }
}

/// The longest the month can be in any year.
fn max_days_in_month(month: u8) -> u8 {
    match month {
        2 => 29,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macros_expand_to_their_fields() {
        for (name, fields) in MACROS {
            assert_eq!(parse(name), parse(fields), "{name}");
        }
        assert_eq!(parse("@once"), Ok(Parsed::Once));
    }

    #[test]
    fn five_fields_have_no_seconds_and_six_do() {
        let Ok(Parsed::Fields(five)) = parse("* * * * *") else {
            panic!("valid")
        };
        assert_eq!(five.second, None);
        let Ok(Parsed::Fields(six)) = parse("7 * * * * *") else {
            panic!("valid")
        };
        assert_eq!(
            six.second.map(|s| s.values.iter().collect::<Vec<_>>()),
            Some(vec![7])
        );
    }

    #[test]
    fn never_fires_only_under_the_and_rule() {
        assert!(parse("0 0 30 2 *").is_err());
        assert!(parse("0 0 30 2 */2").is_err());
        // Under the OR rule, Mondays in February still fire.
        assert!(parse("0 0 30 2 mon").is_ok());
        // February 29 exists in leap years.
        assert!(parse("0 0 29 2 *").is_ok());
    }
}
