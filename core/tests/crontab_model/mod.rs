//! An independent model of crontab(5) lines for the property tests: lines as items, their text,
//! and a brute-force evaluator that walks the clock and matches each field, written from the
//! manual page rather than from distcron's code.

pub mod strategy;

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveDateTime, TimeDelta, Timelike, Utc};
use distcron_core::CronField;

/// The fields of a line, with crontab(5)'s ranges; `Second` is distcron's optional sixth field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Second,
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
}

impl Kind {
    pub fn min(self) -> u32 {
        match self {
            Kind::DayOfMonth | Kind::Month => 1,
            _ => 0,
        }
    }

    pub fn max(self) -> u32 {
        match self {
            Kind::Second | Kind::Minute => 59,
            Kind::Hour => 23,
            Kind::DayOfMonth => 31,
            Kind::Month => 12,
            // 0 and 7 are both Sunday.
            Kind::DayOfWeek => 7,
        }
    }

    /// The names crontab(5) allows, the first standing for `min()`; 7 (Sunday again) has none.
    pub fn names(self) -> &'static [&'static str] {
        match self {
            Kind::Month => &[
                "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
            ],
            Kind::DayOfWeek => &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
            _ => &[],
        }
    }

    pub fn cron_field(self) -> CronField {
        match self {
            Kind::Second => CronField::Second,
            Kind::Minute => CronField::Minute,
            Kind::Hour => CronField::Hour,
            Kind::DayOfMonth => CronField::DayOfMonth,
            Kind::Month => CronField::Month,
            Kind::DayOfWeek => CronField::DayOfWeek,
        }
    }
}

/// A value and how it is spelt: a number, a number with a leading zero, or a name in some mix
/// of upper and lower case (when the value has a name).
#[derive(Clone, Copy, Debug)]
pub struct Val {
    pub value: u32,
    pub style: u8,
}

/// One item of a comma-separated field.
#[derive(Clone, Debug)]
pub enum Item {
    Star,
    /// `*/n`
    StarStep(u32),
    Value(Val),
    /// `a-b`
    Range(Val, Val),
    /// `a-b/n`
    RangeStep(Val, Val, u32),
    /// `a/n`: from `a` to the field's maximum, a form distcron documents as FreeBSD's cron
    /// reads it (cronie refuses it).
    ValueStep(Val, u32),
    /// Nothing between two commas (only in lines that must be refused).
    Empty,
}

#[derive(Clone, Debug)]
pub struct Field {
    pub kind: Kind,
    pub items: Vec<Item>,
}

impl Field {
    pub fn text(&self) -> String {
        let items: Vec<String> = self.items.iter().map(|i| self.item_text(i)).collect();
        items.join(",")
    }

    fn item_text(&self, item: &Item) -> String {
        let v = |val: &Val| self.value_text(*val);
        match item {
            Item::Star => "*".to_string(),
            Item::StarStep(n) => format!("*/{n}"),
            Item::Value(a) => v(a),
            Item::Range(a, b) => format!("{}-{}", v(a), v(b)),
            Item::RangeStep(a, b, n) => format!("{}-{}/{n}", v(a), v(b)),
            Item::ValueStep(a, n) => format!("{}/{n}", v(a)),
            Item::Empty => String::new(),
        }
    }

    fn value_text(&self, val: Val) -> String {
        let name = val
            .value
            .checked_sub(self.kind.min())
            .and_then(|i| self.kind.names().get(i as usize));
        match (val.style % 3, name) {
            (0, Some(name)) => name
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    if val.style & (8 << i) != 0 {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect(),
            (1, _) if val.value < 10 => format!("0{}", val.value),
            _ => val.value.to_string(),
        }
    }

    /// The values selected, one bit each.
    pub fn values(&self) -> u64 {
        let (min, max) = (self.kind.min(), self.kind.max());
        let span = |first: u32, last: u32, step: u32| {
            (first..=last)
                .step_by(step as usize)
                .fold(0u64, |bits, v| bits | 1 << v)
        };
        self.items
            .iter()
            .map(|item| match item {
                Item::Star => span(min, max, 1),
                Item::StarStep(n) => span(min, max, *n),
                Item::Value(a) => span(a.value, a.value, 1),
                Item::Range(a, b) => span(a.value, b.value, 1),
                Item::RangeStep(a, b, n) => span(a.value, b.value, *n),
                Item::ValueStep(a, n) => span(a.value, max, *n),
                Item::Empty => 0,
            })
            .fold(0, |all, bits| all | bits)
    }

    /// crontab(5): a day field is "restricted" unless it starts with `*`.
    pub fn starts_with_star(&self) -> bool {
        matches!(self.items.first(), Some(Item::Star | Item::StarStep(_)))
    }
}

/// A schedule line: its text and the fields it stands for (a macro's are its expansion's).
#[derive(Clone, Debug)]
pub struct Line {
    pub text: String,
    /// `None` in the five-field form, which fires at second 0.
    pub second: Option<Field>,
    pub minute: Field,
    pub hour: Field,
    pub day_of_month: Field,
    pub month: Field,
    pub day_of_week: Field,
}

/// A line's fields as bit sets, for the walk.
struct Matcher {
    second: u64,
    minute: u64,
    hour: u64,
    day_of_month: u64,
    month: u64,
    day_of_week: u64,
    or_rule: bool,
}

impl Matcher {
    fn new(line: &Line) -> Matcher {
        Matcher {
            second: line.second.as_ref().map_or(1, Field::values),
            minute: line.minute.values(),
            hour: line.hour.values(),
            day_of_month: line.day_of_month.values(),
            month: line.month.values(),
            day_of_week: line.day_of_week.values(),
            or_rule: !line.day_of_month.starts_with_star() && !line.day_of_week.starts_with_star(),
        }
    }

    fn day(&self, date: NaiveDate) -> bool {
        let has = |bits: u64, v: u32| bits & (1 << v) != 0;
        let weekday = date.weekday().num_days_from_sunday();
        let dom = has(self.day_of_month, date.day());
        let dow = has(self.day_of_week, weekday) || (weekday == 0 && has(self.day_of_week, 7));
        has(self.month, date.month()) && if self.or_rule { dom || dow } else { dom && dow }
    }
}

impl Line {
    /// The fire times strictly after `after`, at most `count` of them, found by walking the
    /// clock second by second (a day, hour or minute that does not match is stepped over whole)
    /// up to `limit`.
    pub fn fire_times(
        &self,
        after: DateTime<Utc>,
        count: usize,
        limit: DateTime<Utc>,
    ) -> Vec<DateTime<Utc>> {
        let m = Matcher::new(self);
        let has = |bits: u64, v: u32| bits & (1 << v) != 0;
        let limit = limit.naive_utc();
        let mut found = Vec::new();
        let mut t =
            after.naive_utc().with_nanosecond(0).expect("whole second") + TimeDelta::seconds(1);
        while found.len() < count && t <= limit {
            t = if !m.day(t.date()) {
                midnight(t.date() + Days::new(1))
            } else if !has(m.hour, t.hour()) {
                t.with_minute(0)
                    .and_then(|t| t.with_second(0))
                    .expect("hour")
                    + TimeDelta::hours(1)
            } else if !has(m.minute, t.minute()) {
                t.with_second(0).expect("minute") + TimeDelta::minutes(1)
            } else {
                if has(m.second, t.second()) {
                    found.push(t.and_utc());
                }
                t + TimeDelta::seconds(1)
            };
        }
        found
    }

    /// Whether no day ever matches: 2000-2027 holds every weekday of every date, 29 February
    /// included.
    pub fn never_fires(&self) -> bool {
        let m = Matcher::new(self);
        let first = NaiveDate::from_ymd_opt(2000, 1, 1).expect("date");
        let last = NaiveDate::from_ymd_opt(2027, 12, 31).expect("date");
        !first
            .iter_days()
            .take_while(|d| *d <= last)
            .any(|d| m.day(d))
    }
}

fn midnight(date: NaiveDate) -> NaiveDateTime {
    date.and_hms_opt(0, 0, 0).expect("midnight")
}
