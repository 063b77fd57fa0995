//! Generators of crontab(5) lines: well-formed ones (with their model), the macros, and lines
//! with exactly one field that crontab(5) refuses and distcron is meant to refuse.

use super::{Field, Item, Kind, Line, Val};
use proptest::prelude::*;

const FIVE: [Kind; 5] = [
    Kind::Minute,
    Kind::Hour,
    Kind::DayOfMonth,
    Kind::Month,
    Kind::DayOfWeek,
];

fn val(kind: Kind) -> impl Strategy<Value = Val> {
    (kind.min()..=kind.max(), any::<u8>()).prop_map(|(value, style)| Val { value, style })
}

/// Mostly small steps, sometimes past the field's span (which selects the first value alone),
/// even past 255.
fn step() -> impl Strategy<Value = u32> {
    prop_oneof![8 => 1..=12u32, 2 => 1..=70u32, 1 => 1..=1000u32]
}

/// Two values in order, `a <= b`.
fn ordered(kind: Kind) -> impl Strategy<Value = (Val, Val)> {
    (val(kind), val(kind)).prop_map(|(a, b)| if a.value <= b.value { (a, b) } else { (b, a) })
}

fn item(kind: Kind) -> impl Strategy<Value = Item> {
    prop_oneof![
        1 => Just(Item::Star),
        1 => step().prop_map(Item::StarStep),
        4 => val(kind).prop_map(Item::Value),
        2 => ordered(kind).prop_map(|(a, b)| Item::Range(a, b)),
        2 => (ordered(kind), step()).prop_map(|((a, b), n)| Item::RangeStep(a, b, n)),
        1 => (val(kind), step()).prop_map(|(a, n)| Item::ValueStep(a, n)),
    ]
}

fn field(kind: Kind) -> BoxedStrategy<Field> {
    // A bare `*` is common in real lines and decides between the two day rules.
    let items = prop_oneof![
        2 => Just(vec![Item::Star]),
        1 => step().prop_map(|n| vec![Item::StarStep(n)]),
        3 => item(kind).prop_map(|i| vec![i]),
        3 => proptest::collection::vec(item(kind), 2..=4),
    ];
    items.prop_map(move |items| Field { kind, items }).boxed()
}

/// A field of a line that fires rarely: one value, or `*` for the day fields, with month ends
/// and short months favoured so that some lines fire only in leap years, on 29 February that
/// is a given weekday, or never.
fn sparse_field(kind: Kind) -> BoxedStrategy<Field> {
    let one = |values: &'static [u32]| {
        proptest::sample::select(values)
            .prop_map(|value| vec![Item::Value(Val { value, style: 2 })])
    };
    let any_one = val(kind).prop_map(|v| vec![Item::Value(v)]);
    let star = Just(vec![Item::Star]);
    let items = match kind {
        Kind::DayOfMonth => prop_oneof![star, any_one, one(&[29, 30, 31])].boxed(),
        Kind::Month => prop_oneof![star, any_one, one(&[2, 4, 6, 9, 11])].boxed(),
        Kind::DayOfWeek => {
            let stepped = step().prop_map(|n| vec![Item::StarStep(n)]);
            prop_oneof![star, stepped, any_one].boxed()
        }
        _ => any_one.boxed(),
    };
    items.prop_map(move |items| Field { kind, items }).boxed()
}

/// The fields of a line, the seconds first when there are six.
fn fields() -> impl Strategy<Value = Vec<Field>> {
    let five = FIVE.map(field);
    (proptest::option::weighted(0.2, field(Kind::Second)), five)
        .prop_map(|(second, five)| second.into_iter().chain(five).collect())
}

/// The five fields of a line that fires a few times a year or less (`0 12 29 2 *`).
fn sparse_fields() -> impl Strategy<Value = Vec<Field>> {
    FIVE.map(sparse_field).prop_map(Vec::from)
}

/// Blanks between fields and around the line.
fn blanks(count: usize) -> impl Strategy<Value = Vec<&'static str>> {
    proptest::collection::vec(
        prop_oneof![6 => Just(" "), 1 => Just("\t"), 1 => Just("  "), 1 => Just(" \t ")],
        count + 1..=count + 1,
    )
}

fn line_of(fields: Vec<Field>, blanks: &[&str], edges: bool) -> Line {
    let mut text = String::new();
    if edges {
        text.push_str(blanks[0]);
    }
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            text.push_str(blanks[i]);
        }
        text.push_str(&f.text());
    }
    if edges {
        text.push_str(blanks[fields.len()]);
    }
    let mut fields = fields.into_iter();
    let second = (fields.len() == 6).then(|| fields.next().expect("six fields"));
    let mut next = || fields.next().expect("five fields");
    Line {
        text,
        second,
        minute: next(),
        hour: next(),
        day_of_month: next(),
        month: next(),
        day_of_week: next(),
    }
}

/// A well-formed line of five fields, or six with the seconds first.
pub fn well_formed() -> BoxedStrategy<Line> {
    let fields = prop_oneof![4 => fields(), 1 => sparse_fields()];
    (fields, blanks(6), any::<bool>())
        .prop_map(|(fields, blanks, edges)| line_of(fields, &blanks, edges))
        .boxed()
}

/// The macros of crontab(5) distcron takes, with their expansions as the model.
pub fn macro_line() -> impl Strategy<Value = Line> {
    const MACROS: [(&str, [Option<u32>; 5]); 7] = [
        ("@yearly", [Some(0), Some(0), Some(1), Some(1), None]),
        ("@annually", [Some(0), Some(0), Some(1), Some(1), None]),
        ("@monthly", [Some(0), Some(0), Some(1), None, None]),
        ("@weekly", [Some(0), Some(0), None, None, Some(0)]),
        ("@daily", [Some(0), Some(0), None, None, None]),
        ("@midnight", [Some(0), Some(0), None, None, None]),
        ("@hourly", [Some(0), None, None, None, None]),
    ];
    proptest::sample::select(MACROS.to_vec()).prop_map(|(name, values)| {
        let fields = FIVE
            .iter()
            .zip(values)
            .map(|(&kind, value)| Field {
                kind,
                items: vec![value.map_or(Item::Star, |value| Item::Value(Val { value, style: 2 }))],
            })
            .collect();
        let mut line = line_of(fields, &[" "; 6], false);
        line.text = name.to_string();
        line
    })
}

/// An item crontab(5) refuses in a field of `kind`.
fn bad_item(kind: Kind) -> impl Strategy<Value = Item> {
    let (min, max) = (kind.min(), kind.max());
    let plain = |value| Val { value, style: 2 };
    // Out of range: above the maximum, or 0 where the field starts at 1.
    let out = prop_oneof![
        (max + 1..=max + 60).prop_map(plain),
        Just(plain(if min == 1 { 0 } else { max + 1 })),
    ];
    prop_oneof![
        out.clone().prop_map(Item::Value),
        (val(kind), out.clone()).prop_map(|(a, b)| Item::Range(a, b)),
        (out.clone(), step()).prop_map(|(a, n)| Item::ValueStep(a, n)),
        (val(kind), out, step()).prop_map(|(a, b, n)| Item::RangeStep(a, b, n)),
        // Reversed ranges: cronie before 1.6 refuses them (later versions silently select
        // nothing, and its newest reads `x-0` as `x-7`); distcron refuses them with a reason.
        (val(kind), val(kind))
            .prop_filter("reversed", |(a, b)| a.value != b.value)
            .prop_map(|(a, b)| if a.value > b.value { (a, b) } else { (b, a) })
            .prop_map(|(a, b)| Item::Range(a, b)),
        // Step 0.
        Just(Item::StarStep(0)),
        ordered(kind).prop_map(|(a, b)| Item::RangeStep(a, b, 0)),
        // An empty list item: a leading, trailing or doubled comma.
        Just(Item::Empty),
    ]
}

/// A line one of whose fields holds an item crontab(5) refuses, and that field.
pub fn ill_formed() -> impl Strategy<Value = (Line, Kind)> {
    (
        fields(),
        any::<prop::sample::Index>(),
        blanks(6),
        any::<bool>(),
    )
        .prop_flat_map(|(fields, which, blanks, edges)| {
            let i = which.index(fields.len());
            let kind = fields[i].kind;
            let at = 0..=fields[i].items.len();
            (Just((fields, i, blanks, edges)), bad_item(kind), at)
        })
        .prop_map(|((mut fields, i, blanks, edges), bad, at)| {
            let kind = fields[i].kind;
            fields[i].items.insert(at, bad);
            (line_of(fields, &blanks, edges), kind)
        })
}
