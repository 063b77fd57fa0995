//! What goes to stdout: human tables (times in the local zone, or UTC with `--utc`), or with
//! `-o json` the API's JSON as it is (a JSON array for lists). Nothing but data goes there;
//! messages go to stderr.

use chrono::{DateTime, Local, Utc};
use comfy_table::{Table, presets};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// A table's column: its header and the field it shows (`a.b` for a nested one).
pub struct Col {
    pub header: &'static str,
    pub field: &'static str,
    pub time: bool,
}

/// A column of a plain field.
pub const fn col(header: &'static str, field: &'static str) -> Col {
    Col {
        header,
        field,
        time: false,
    }
}

/// A column of a time, shown in the local zone or UTC.
pub const fn time(header: &'static str, field: &'static str) -> Col {
    Col {
        header,
        field,
        time: true,
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Printer {
    pub format: Format,
    pub utc: bool,
}

impl Printer {
    pub fn json(&self) -> bool {
        self.format == Format::Json
    }

    /// One object: as JSON, or a table of its fields.
    pub fn one(&self, v: &Value) {
        if self.json() {
            return print_json(v);
        }
        let mut table = table();
        if let Value::Object(map) = v {
            for (key, value) in map {
                table.add_row(vec![key.clone(), self.field(key, value)]);
            }
        } else {
            table.add_row(vec![self.cell(v, false)]);
        }
        print_table(&table);
    }

    /// A list: as a JSON array, or a table of `cols`.
    pub fn list(&self, items: &[Value], cols: &[Col]) {
        if self.json() {
            return print_json(&Value::Array(items.to_vec()));
        }
        let mut table = table();
        table.set_header(cols.iter().map(|c| c.header).collect::<Vec<_>>());
        for item in items {
            table.add_row(
                cols.iter()
                    .map(|c| self.cell(lookup(item, c.field), c.time))
                    .collect::<Vec<_>>(),
            );
        }
        print_table(&table);
    }

    /// A field of an object shown whole: times converted, lists of times too.
    fn field(&self, key: &str, value: &Value) -> String {
        let is_time = key.ends_with("_at")
            || matches!(key, "from" | "to" | "after" | "history_from" | "fire_times");
        match value {
            Value::Array(items) if is_time => items
                .iter()
                .map(|v| self.cell(v, true))
                .collect::<Vec<_>>()
                .join("\n"),
            _ => self.cell(value, is_time),
        }
    }

    fn cell(&self, v: &Value, is_time: bool) -> String {
        match v {
            Value::Null => String::new(),
            Value::String(s) if is_time => self.time(s),
            Value::String(s) => s.clone(),
            Value::Array(items) if items.iter().all(|i| !i.is_object()) => items
                .iter()
                .map(|i| self.cell(i, is_time))
                .collect::<Vec<_>>()
                .join(", "),
            other => other.to_string(),
        }
    }

    /// An RFC 3339 time in the local zone (or UTC); anything else as it is.
    pub fn time(&self, s: &str) -> String {
        match DateTime::parse_from_rfc3339(s) {
            Ok(t) if self.utc => t
                .with_timezone(&Utc)
                .format("%Y-%m-%d %H:%M:%S UTC")
                .to_string(),
            Ok(t) => t
                .with_timezone(&Local)
                .format("%Y-%m-%d %H:%M:%S %:z")
                .to_string(),
            Err(_) => s.to_string(),
        }
    }
}

/// `a.b` in `v`, or null.
fn lookup<'v>(v: &'v Value, field: &str) -> &'v Value {
    field.split('.').fold(v, |v, part| &v[part])
}

fn table() -> Table {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING);
    t
}

/// A table, without the padding it leaves at the ends of lines.
fn print_table(table: &Table) {
    let text: String = table
        .to_string()
        .lines()
        .map(|line| format!("{}\n", line.trim_end()))
        .collect();
    emit(&text);
}

pub fn print_json(v: &Value) {
    let text = serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string());
    emit(&format!("{text}\n"));
}

/// `text` on standard output. A reader gone (`distcron jobs list | head -1`) is a quiet end,
/// exit 0, as it is for other Unix tools; another write error ends with exit 1.
pub fn emit(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        quit_on_write_error(&e);
    }
}

/// The end of the process for an error writing standard output.
pub fn quit_on_write_error(e: &std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("error: writing standard output: {e}");
    std::process::exit(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_shown_in_utc_when_asked() {
        let p = Printer {
            format: Format::Table,
            utc: true,
        };
        assert_eq!(
            p.time("2026-12-04T10:05:00.000Z"),
            "2026-12-04 10:05:00 UTC"
        );
        assert_eq!(p.time("not a time"), "not a time");
    }

    #[test]
    fn nested_fields_are_looked_up() {
        let v = serde_json::json!({"gate": {"open": true}});
        assert_eq!(lookup(&v, "gate.open"), &Value::Bool(true));
        assert_eq!(lookup(&v, "nope.x"), &Value::Null);
    }
}
