//! Witness files: how the jobs report when they ran. Every job of the benchmark runs
//!
//! ```sh
//! date +%s.%N >> <dir>/$DISTCRON_JOB_ID@$DISTCRON_SCHEDULED_AT
//! ```
//!
//! through `/bin/sh`, so each tick of each job has its own file, and each line in it is the
//! moment one run's process got as far as `date` (epoch seconds with nanoseconds). No file for
//! an expected tick: missed; more than one line: run more than once.

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// One tick of one job: (job id, scheduled time).
pub type Tick = (String, DateTime<Utc>);

/// A directory the jobs (running as `nobody`) can write into.
pub struct WitnessDir {
    pub path: PathBuf,
}

impl WitnessDir {
    /// Creates `path` (fresh: an old one is emptied) with mode 1777, its parents traversable.
    pub fn create(path: PathBuf) -> anyhow::Result<WitnessDir> {
        let text = path.to_str().context("the witness path is not UTF-8")?;
        if !path.is_absolute()
            || !text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/._-+".contains(c))
        {
            bail!(
                "the witness directory {text} must be an absolute path of A-Z, a-z, 0-9 and /._-+ (it goes into a shell command unquoted)"
            );
        }
        if path.exists() {
            fs::remove_dir_all(&path).with_context(|| format!("emptying {}", path.display()))?;
        }
        fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        // Every ancestor must let `nobody` through (create_dir_all honours the umask).
        for d in path.ancestors().skip(1) {
            let mode = fs::metadata(d)
                .with_context(|| format!("stat {}", d.display()))?
                .permissions()
                .mode();
            if mode & 0o001 == 0 {
                bail!(
                    "{} is not searchable by others (mode {:o}): the jobs, running as nobody, could not reach the witness directory",
                    d.display(),
                    mode & 0o7777
                );
            }
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(0o1777))
            .with_context(|| format!("chmod 1777 {}", path.display()))?;
        Ok(WitnessDir { path })
    }

    /// The job's command line.
    pub fn command(&self) -> String {
        format!(
            "date +%s.%N >> {}/$DISTCRON_JOB_ID@$DISTCRON_SCHEDULED_AT",
            self.path.display()
        )
    }

    /// How many witness files there are for these ticks (cheap: one stat each).
    pub fn count_present(&self, ticks: &[Tick]) -> usize {
        ticks.iter().filter(|t| self.file_of(t).exists()).count()
    }

    fn file_of(&self, (job, at): &Tick) -> PathBuf {
        self.path.join(format!(
            "{job}@{}",
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ))
    }

    /// The start times (epoch nanoseconds) written for each of these ticks; a tick without a
    /// file maps to an empty list.
    pub fn read(&self, ticks: &[Tick]) -> anyhow::Result<HashMap<Tick, Vec<i64>>> {
        let mut out = HashMap::with_capacity(ticks.len());
        for t in ticks {
            let lines = match fs::read_to_string(self.file_of(t)) {
                Ok(text) => parse_lines(&text)
                    .with_context(|| format!("reading {}", self.file_of(t).display()))?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                Err(e) => return Err(e).context("reading a witness file"),
            };
            out.insert(t.clone(), lines);
        }
        Ok(out)
    }

    /// How many witness files there are in all, of any tick.
    pub fn total_files(&self) -> usize {
        fs::read_dir(&self.path).map(|d| d.count()).unwrap_or(0)
    }

    pub fn remove(&self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Lines of `date +%s.%N`, as epoch nanoseconds.
pub fn parse_lines(text: &str) -> anyhow::Result<Vec<i64>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(parse_stamp)
        .collect()
}

/// `1700000000.123456789` as nanoseconds since the epoch.
pub fn parse_stamp(line: &str) -> anyhow::Result<i64> {
    let line = line.trim();
    let (secs, frac) = line.split_once('.').unwrap_or((line, "0"));
    let secs: i64 = secs
        .parse()
        .with_context(|| format!("bad timestamp `{line}`"))?;
    let mut digits: String = frac.chars().take(9).collect();
    while digits.len() < 9 {
        digits.push('0');
    }
    let nanos: i64 = digits
        .parse()
        .with_context(|| format!("bad timestamp `{line}`"))?;
    Ok(secs * 1_000_000_000 + nanos)
}

/// A file path inside a witness directory, for the floor (same command shape).
pub fn floor_file(dir: &Path, i: usize) -> PathBuf {
    dir.join(format!("floor-{i}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps() {
        assert_eq!(
            parse_stamp("1700000000.123456789").unwrap(),
            1_700_000_000_123_456_789
        );
        assert_eq!(parse_stamp("12.5").unwrap(), 12_500_000_000);
        assert_eq!(
            parse_lines("1.0\n2.000000001\n").unwrap(),
            vec![1_000_000_000, 2_000_000_001]
        );
        assert!(parse_stamp("x").is_err());
    }
}
