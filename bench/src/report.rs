//! The report: a plain-text table for the terminal, the same figures as JSON
//! (`results/latest.json` and a timestamped copy) and as Markdown (`results/latest.md`, and
//! the block between the markers in the README when asked).

use crate::machine::{Cluster, Machine};
use crate::scenario::ScenarioResult;
use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::fs;
use std::path::{Path, PathBuf};

pub const README_BEGIN: &str = "<!-- bench:latest:begin -->";
pub const README_END: &str = "<!-- bench:latest:end -->";

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub machine: Machine,
    pub cluster: Cluster,
    pub scenarios: Vec<ScenarioResult>,
    /// Scenarios that could not run, with why.
    pub errors: Vec<String>,
    /// Run-now and kill latencies, if measured.
    pub control: Option<crate::control::ControlResult>,
}

const HEADERS: [&str; 13] = [
    "scenario",
    "jobs",
    "ticks",
    "ran",
    "missed",
    "twice",
    "p50 ms",
    "p99 ms",
    "max ms",
    "floor p99",
    "ratio",
    "goal",
    "met",
];

fn ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

impl Report {
    fn rows(&self) -> Vec<[String; 13]> {
        self.scenarios
            .iter()
            .map(|s| {
                let (p50, p99, max) = s.lag.map_or(("-".into(), "-".into(), "-".into()), |l| {
                    (ms(l.p50_ms), ms(l.p99_ms), ms(l.max_ms))
                });
                let floor = s.floor.as_ref().map_or("-".into(), |f| ms(f.lag.p99_ms));
                let ratio = s.ratio.map_or("-".into(), |r| format!("{r:.2}x"));
                [
                    s.name.clone(),
                    s.jobs.to_string(),
                    s.ticks_expected.to_string(),
                    s.ran.to_string(),
                    s.missed.to_string(),
                    s.duplicated.to_string(),
                    p50,
                    p99,
                    max,
                    floor,
                    ratio,
                    s.goal.clone(),
                    if s.met { "yes" } else { "NO" }.into(),
                ]
            })
            .collect()
    }

    fn context_lines(&self) -> Vec<String> {
        let mut lines = vec![
            format!("Machine: {}", self.machine.describe()),
            format!(
                "Cluster: {} build, {} workers, per-run cgroups {}, {}",
                self.cluster.profile,
                self.cluster.workers,
                match self.cluster.cgroups {
                    Some(true) => "on",
                    Some(false) => "off",
                    None => "unknown",
                },
                self.cluster.url
            ),
            format!(
                "Run: {} to {} (load average {:.2} at start)",
                self.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
                self.finished_at.format("%H:%M:%S UTC"),
                self.machine.load_at_start
            ),
        ];
        lines.extend(self.scenarios.iter().map(scenario_line));
        if let Some(c) = &self.control {
            let figure = |what: &str, s: &Option<crate::stats::Summary>| match s {
                Some(s) => format!(
                    "{what}: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {}",
                    s.p50_ms, s.p99_ms, s.max_ms, s.count
                ),
                None => format!("{what}: not measured"),
            };
            lines.push(figure(
                "Run now (trigger request → the run's process started)",
                &c.trigger,
            ));
            lines.push(figure(
                "Kill (request → no process of the run left)",
                &c.kill,
            ));
            lines.push(figure(
                "Live output (a line printed → seen by a follower of the run's log)",
                &c.live_output,
            ));
        }
        for e in &self.errors {
            lines.push(format!("Could not run: {e}"));
        }
        lines
    }

    /// The plain-text table.
    pub fn text(&self) -> String {
        let rows = self.rows();
        let mut widths = HEADERS.map(str::len);
        for r in &rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cells: &[String]| {
            cells
                .iter()
                .zip(widths)
                .enumerate()
                .map(|(i, (c, w))| {
                    if i == 0 || i == 11 {
                        format!("{c:<w$}")
                    } else {
                        format!("{c:>w$}")
                    }
                })
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        };
        let mut out = String::new();
        out.push_str(&line(&HEADERS.map(String::from)));
        out.push('\n');
        out.push_str(
            &widths
                .iter()
                .map(|w| "-".repeat(*w))
                .collect::<Vec<_>>()
                .join("  "),
        );
        out.push('\n');
        for r in &rows {
            out.push_str(&line(r));
            out.push('\n');
        }
        out.push('\n');
        for l in self.context_lines() {
            out.push_str(&l);
            out.push('\n');
        }
        out
    }

    /// The Markdown table and context.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!("| {} |\n", HEADERS.join(" | ")));
        out.push_str(&format!(
            "|{}\n",
            HEADERS
                .iter()
                .enumerate()
                .map(|(i, _)| if i == 0 || i == 11 {
                    " --- |"
                } else {
                    " ---: |"
                })
                .collect::<String>()
        ));
        for r in self.rows() {
            out.push_str(&format!("| {} |\n", r.join(" | ")));
        }
        out.push('\n');
        for l in self.context_lines() {
            out.push_str(&format!("- {l}\n"));
        }
        out
    }

    /// Writes `latest.json`, `<timestamp>.json` and `latest.md` into `dir`.
    pub fn save(&self, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let json = serde_json::to_string_pretty(self)? + "\n";
        let stamped = dir.join(format!("{}.json", self.started_at.format("%Y%m%dT%H%M%SZ")));
        let latest = dir.join("latest.json");
        let md = dir.join("latest.md");
        fs::write(&latest, &json)?;
        fs::write(&stamped, &json)?;
        fs::write(&md, self.markdown())?;
        Ok(vec![latest, stamped, md])
    }

    /// Replaces the block between the markers in `readme` with the Markdown report.
    pub fn update_readme(&self, readme: &Path) -> anyhow::Result<()> {
        let text =
            fs::read_to_string(readme).with_context(|| format!("reading {}", readme.display()))?;
        let (Some(b), Some(e)) = (text.find(README_BEGIN), text.find(README_END)) else {
            anyhow::bail!(
                "{} has no {README_BEGIN} ... {README_END} block",
                readme.display()
            );
        };
        anyhow::ensure!(b < e, "{}: the markers are out of order", readme.display());
        let new = format!(
            "{}{README_BEGIN}\n{}{}",
            &text[..b],
            self.markdown(),
            &text[e..]
        );
        fs::write(readme, new)?;
        Ok(())
    }
}

/// One scenario's context line: what ran, the floor, CPU, where the lag went, MySQL's view.
fn scenario_line(s: &ScenarioResult) -> String {
    let mut line = format!(
        "{}: {}; schedule {}; created {:.0}/s; ",
        s.name, s.measured, s.schedule, s.timings.create_per_s
    );
    if let Some(f) = &s.floor {
        line.push_str(&format!(
            "floor ({} processes at once) p50/p99/max {}/{}/{} ms (spawn loop {} ms, {}{}); ",
            f.processes,
            ms(f.lag.p50_ms),
            ms(f.lag.p99_ms),
            ms(f.lag.max_ms),
            ms(f.spawn_loop_ms),
            if f.as_nobody {
                "as nobody"
            } else {
                "as the bench's user"
            },
            s.floor_run_at
                .as_deref()
                .map(|w| format!(", run {w}"))
                .unwrap_or_default()
        ));
    }
    if let Some(c) = &s.cpu_per_tick {
        line.push_str(&format!(
            "CPU per run: workers {:.2} ms + job processes {:.2} ms + MySQL {:.2} ms",
            c.workers.own_ms, c.workers.children_ms, c.mysql_ms
        ));
        if let Some(f) = &s.floor {
            line.push_str(&format!(
                " (floor: loop {:.2} ms + processes {:.2} ms)",
                f.cpu_per_process.own_ms, f.cpu_per_process.children_ms
            ));
        }
        line.push_str("; ");
    }
    if let (Some(w), Some(sp)) = (&s.db.row_written_lag, &s.db.spawned_lag) {
        line.push_str(&format!(
            "lag p50/p99 until the row was written {}/{} ms, until spawn() returned {}/{} ms; ",
            ms(w.p50_ms),
            ms(w.p99_ms),
            ms(sp.p50_ms),
            ms(sp.p99_ms)
        ));
    }
    if let Some(c) = &s.start_checks {
        line.push_str(&format!(
            "start checks: {} for {} runs, each {:.2} ms to lock (ahead of the tick) and {:.2} ms to release, {:.1} us per run; ",
            c.checks, c.runs, c.lock_ms_per_check, c.release_ms_per_check, c.us_per_run
        ));
    }
    if let Some(st) = &s.starts_shown {
        line.push_str(&format!(
            "shown running with their start before their outcome: {} of {} runs{}; ",
            st.shown_running,
            st.ended,
            st.visible_after
                .map(|v| format!(
                    " (start visible within p50/p99/max {}/{}/{} ms, read every 100 ms)",
                    ms(v.p50_ms),
                    ms(v.p99_ms),
                    ms(v.max_ms)
                ))
                .unwrap_or_default()
        ));
    }
    line.push_str(&format!(
        "MySQL: {} succeeded, {} without a row, {} with several",
        s.db.succeeded, s.db.no_row, s.db.several_rows
    ));
    for n in &s.notes {
        line.push_str(&format!("; {n}"));
    }
    line
}
