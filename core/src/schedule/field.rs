//! One crontab(5) field: its items (values, names, ranges, steps), checked against the
//! field's range with errors that quote the text at fault, and expanded to the values selected.

use super::{CronField, ScheduleError};

/// The values one field selects, one bit per value; every field's values lie in 0..=59.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(super) struct Values(u64);

impl Values {
    pub(super) fn contains(self, value: u8) -> bool {
        value < 64 && self.0 & (1 << value) != 0
    }

    pub(super) fn iter(self) -> impl Iterator<Item = u8> {
        (0u8..64).filter(move |&v| self.contains(v))
    }

    fn insert(&mut self, value: u8) {
        self.0 |= 1 << value;
    }
}

/// One field as written and what it selects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Field {
    pub(super) values: Values,
    /// crontab(5) decides between OR and AND for the two day fields on this alone, so `*/2`
    /// counts as "starts with `*`" although it restricts the days.
    pub(super) starts_with_star: bool,
}

/// What one field accepts.
pub(super) struct Spec {
    field: CronField,
    min: u8,
    max: u8,
    /// Three-letter names, the first standing for `min`.
    names: &'static [&'static str],
}

pub(super) const SECOND: Spec = Spec {
    field: CronField::Second,
    min: 0,
    max: 59,
    names: &[],
};
pub(super) const MINUTE: Spec = Spec {
    field: CronField::Minute,
    min: 0,
    max: 59,
    names: &[],
};
pub(super) const HOUR: Spec = Spec {
    field: CronField::Hour,
    min: 0,
    max: 23,
    names: &[],
};
pub(super) const DAY_OF_MONTH: Spec = Spec {
    field: CronField::DayOfMonth,
    min: 1,
    max: 31,
    names: &[],
};
pub(super) const MONTH: Spec = Spec {
    field: CronField::Month,
    min: 1,
    max: 12,
    names: &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
};
pub(super) const DAY_OF_WEEK: Spec = Spec {
    field: CronField::DayOfWeek,
    min: 0,
    max: 7,
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
};

pub(super) fn parse_field(spec: &Spec, text: &str) -> Result<Field, ScheduleError> {
    let error = |reason: String| ScheduleError::Field {
        field: spec.field,
        value: text.to_string(),
        reason,
    };
    let mut values = Values::default();
    for item in text.split(',') {
        if item.is_empty() {
            return Err(error("empty item in list".to_string()));
        }
        let (first, last, step) = parse_item(spec, item).map_err(error)?;
        let mut value = first;
        while value <= last {
            values.insert(value);
            value = match value.checked_add(step) {
                Some(next) => next,
                None => break,
            };
        }
    }
    Ok(Field {
        values,
        starts_with_star: text.starts_with('*'),
    })
}

/// One list item as `(first, last, step)`; the error is the reason only.
fn parse_item(spec: &Spec, item: &str) -> Result<(u8, u8, u8), String> {
    if let Some(reason) = quartz_syntax(item) {
        return Err(reason);
    }
    let mut parts = item.split('/');
    let base = parts.next().unwrap_or(item);
    let step = match (parts.next(), parts.next()) {
        (None, _) => None,
        (Some(_), Some(_)) => return Err(format!("`{item}` has more than one `/`")),
        (Some(""), None) => return Err(format!("`{item}` has no step after `/`")),
        (Some(step), None) => Some(parse_step(item, step)?),
    };
    let (first, last) = if base == "*" {
        (spec.min, spec.max)
    } else if base.starts_with('*') {
        return Err(format!(
            "`*` must stand alone or take a step (`*/n`), found `{base}`"
        ));
    } else if let Some((start, end)) = base.split_once('-') {
        if start.is_empty() {
            return Err(format!("range `{base}` has no start"));
        }
        if end.is_empty() {
            return Err(format!("range `{base}` has no end"));
        }
        if end.contains('-') {
            return Err(format!("`{base}` has more than one `-`"));
        }
        let (first, last) = (parse_value(spec, start)?, parse_value(spec, end)?);
        if first > last {
            return Err(backwards_range(spec, base, end));
        }
        (first, last)
    } else {
        let value = parse_value(spec, base)?;
        // `a/n` runs from a to the field's maximum, as FreeBSD's cron reads it (cronie refuses it).
        if step.is_some() {
            (value, spec.max)
        } else {
            (value, value)
        }
    };
    Ok((first, last, step.unwrap_or(1)))
}

fn parse_step(item: &str, step: &str) -> Result<u8, String> {
    if !step.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("step `{step}` in `{item}` is not a number"));
    }
    match step.parse::<u32>() {
        Ok(0) => Err(format!("step 0 in `{item}`: a step must be at least 1")),
        // Any step past the field's span selects the first value alone, as in cronie.
        Ok(step) => Ok(u8::try_from(step).unwrap_or(u8::MAX)),
        Err(_) => Ok(u8::MAX),
    }
}

fn backwards_range(spec: &Spec, base: &str, end: &str) -> String {
    if spec.field == CronField::DayOfWeek && end.eq_ignore_ascii_case("sun") {
        format!(
            "range `{base}` starts after it ends (`{end}` is 0 here; end the range with 7 \
             to include Sunday)"
        )
    } else {
        format!("range `{base}` starts after it ends (ranges do not wrap around)")
    }
}

fn parse_value(spec: &Spec, text: &str) -> Result<u8, String> {
    if text.bytes().all(|b| b.is_ascii_digit()) {
        let in_range = |v: u32| v >= u32::from(spec.min) && v <= u32::from(spec.max);
        return match text.parse::<u32>() {
            Ok(v) if in_range(v) => Ok(v as u8),
            _ => Err(out_of_range(spec, text)),
        };
    }
    if !spec.names.is_empty() && text.bytes().all(|b| b.is_ascii_alphabetic()) {
        let lower = text.to_ascii_lowercase();
        if let Some(index) = spec.names.iter().position(|n| *n == lower) {
            return Ok(spec.min + index as u8);
        }
        return Err(format!(
            "`{text}` is not a {} name: use {} (or {}-{})",
            spec.field,
            name_list(spec.names),
            spec.min,
            spec.max
        ));
    }
    if spec.names.is_empty() {
        Err(format!("`{text}` is not a number"))
    } else {
        Err(format!(
            "`{text}` is neither a number nor a {} name",
            spec.field
        ))
    }
}

fn out_of_range(spec: &Spec, text: &str) -> String {
    // Leading zeros are accepted, so show the number as the user wrote it.
    let sunday = if spec.field == CronField::DayOfWeek {
        " (0 and 7 are Sunday)"
    } else {
        ""
    };
    format!("{text} is out of range {}-{}{sunday}", spec.min, spec.max)
}

fn name_list(names: &[&str]) -> String {
    match names.split_last() {
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// Recognises Quartz's day syntax so that its users learn why it is refused rather than being
/// told their text "is not a number".
fn quartz_syntax(item: &str) -> Option<String> {
    const NOT_CRONTAB: &str = "is Quartz syntax, which crontab(5) does not support";
    if item.contains('?') {
        return Some(format!("`?` {NOT_CRONTAB}; use `*`"));
    }
    if item.contains('#') {
        return Some(format!("`{item}` (nth weekday of the month) {NOT_CRONTAB}"));
    }
    let upper = item.to_ascii_uppercase();
    let digits_then = |suffix: char| {
        upper
            .strip_suffix(suffix)
            .is_some_and(|head| !head.is_empty() && head.bytes().all(|b| b.is_ascii_digit()))
    };
    if upper == "L" {
        Some(format!("`{item}` (last day of the month) {NOT_CRONTAB}"))
    } else if upper == "LW" {
        Some(format!(
            "`{item}` (last weekday of the month) {NOT_CRONTAB}"
        ))
    } else if digits_then('W') {
        Some(format!("`{item}` (weekday nearest a day) {NOT_CRONTAB}"))
    } else if digits_then('L') {
        Some(format!(
            "`{item}` (last given weekday of the month) {NOT_CRONTAB}"
        ))
    } else if upper.starts_with("L-") {
        Some(format!(
            "`{item}` (days before the end of the month) {NOT_CRONTAB}"
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(spec: &Spec, text: &str) -> Vec<u8> {
        parse_field(spec, text)
            .expect("valid field")
            .values
            .iter()
            .collect()
    }

    #[test]
    fn items_expand_like_cronie() {
        assert_eq!(values(&MINUTE, "*/20"), [0, 20, 40]);
        assert_eq!(values(&MINUTE, "10-50/20"), [10, 30, 50]);
        assert_eq!(values(&MINUTE, "1-10/3"), [1, 4, 7, 10]);
        assert_eq!(values(&MINUTE, "50/4"), [50, 54, 58]);
        assert_eq!(values(&MINUTE, "*/90"), [0]);
        assert_eq!(values(&HOUR, "23,1,5-6,05"), [1, 5, 6, 23]);
        assert_eq!(values(&DAY_OF_MONTH, "*/10"), [1, 11, 21, 31]);
        assert_eq!(values(&MONTH, "jan-MAR,Dec"), [1, 2, 3, 12]);
        assert_eq!(values(&MONTH, "feb/5"), [2, 7, 12]);
    }

    #[test]
    fn weekdays_keep_crontab_numbers_until_translation() {
        // 0 and 7 both stay here; the translation to the cron crate folds them together.
        assert_eq!(values(&DAY_OF_WEEK, "*"), [0, 1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(values(&DAY_OF_WEEK, "*/2"), [0, 2, 4, 6]);
        assert_eq!(values(&DAY_OF_WEEK, "5-7"), [5, 6, 7]);
        assert_eq!(values(&DAY_OF_WEEK, "sun"), [0]);
        assert_eq!(values(&DAY_OF_WEEK, "SUN,7"), [0, 7]);
        assert_eq!(values(&DAY_OF_WEEK, "Mon-Fri"), [1, 2, 3, 4, 5]);
        assert_eq!(values(&DAY_OF_WEEK, "sat,sun"), [0, 6]);
    }

    #[test]
    fn star_prefix_is_read_from_the_text() {
        assert!(parse_field(&DAY_OF_MONTH, "*").unwrap().starts_with_star);
        assert!(parse_field(&DAY_OF_MONTH, "*/2").unwrap().starts_with_star);
        assert!(parse_field(&DAY_OF_WEEK, "*,1").unwrap().starts_with_star);
        // A list covering every day is still "restricted" for the OR rule.
        assert!(!parse_field(&DAY_OF_MONTH, "1-31").unwrap().starts_with_star);
        assert!(!parse_field(&DAY_OF_WEEK, "0-7").unwrap().starts_with_star);
    }
}
