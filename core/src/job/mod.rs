//! The job model: what a user asked to run, when, and as whom. Constructors and `validate`
//! enforce the invariants once, at the boundary; everything downstream can trust a `JobSpec`.

use crate::schedule::{Schedule, TimeZone};
use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

mod validate;

/// Largest command line a `command` job may carry (it is stored in a MySQL TEXT column).
pub const MAX_COMMAND_BYTES: usize = 16 * 1024;
/// Longest job name.
pub const MAX_NAME_CHARS: usize = 255;
/// Longest schedule expression (trimmed): it is stored in a VARCHAR(255) column, and a longer
/// one failed there as a 500 after it had parsed (`0,1,...,59` twice, or spaces between fields).
pub const MAX_SCHEDULE_BYTES: usize = 255;
/// Longest timeout a job may ask for: 30 days.
pub const MAX_TIMEOUT_SECONDS: u32 = 30 * 24 * 3600;

/// Why a job definition was refused. Messages are shown to API users as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    #[error("executable must not be empty")]
    EmptyExecutable,
    #[error("executable is longer than {MAX_COMMAND_BYTES} bytes")]
    ExecutableTooLong,
    #[error("executable must not contain NUL bytes")]
    NulInExecutable,
    #[error("a {0} job needs its file's sha256 and an s3:// executable")]
    MissingBlob(JobType),
    #[error("a command job carries no sha256")]
    UnexpectedSha256,
    #[error("sha256 must be 64 lowercase hex digits")]
    BadSha256,
    #[error("name must be 1 to {MAX_NAME_CHARS} characters without control characters")]
    BadName,
    #[error("schedule is longer than {MAX_SCHEDULE_BYTES} bytes")]
    ScheduleTooLong,
    #[error("timeout_seconds must be between 1 and {MAX_TIMEOUT_SECONDS}")]
    BadTimeout,
    #[error("run_as `{0}` is not a valid user name")]
    BadRunAs(String),
    #[error("privileged and run_as cannot be combined: a privileged job runs as root")]
    PrivilegedWithRunAs,
    #[error(
        "user name `{0}` is invalid: use 1 to 64 of a-z, 0-9, `.`, `_` and `-`, starting with a letter or digit"
    )]
    BadUserName(String),
    #[error("`{0}` is not a job id")]
    BadJobId(String),
    #[error("retries must be at most {MAX_RETRIES}")]
    BadRetries,
    #[error("retry_backoff_seconds must be between 1 and {MAX_RETRY_BACKOFF_SECONDS}")]
    BadRetryBackoff,
    #[error("history_limit must be between 1 and {MAX_HISTORY_LIMIT}")]
    BadHistoryLimit,
    #[error(transparent)]
    BadResources(#[from] crate::resources::OutOfBounds),
}

/// A job's identity: a UUIDv7, so ids sort by creation time (the API pages by id).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(Uuid);

impl JobId {
    pub fn new() -> JobId {
        JobId(Uuid::now_v7())
    }
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl Default for JobId {
    fn default() -> Self {
        JobId::new()
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.as_hyphenated().fmt(f)
    }
}

impl FromStr for JobId {
    type Err = JobError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Only the canonical hyphenated form: ids appear in znode paths and URLs, and one
        // spelling per id keeps those unambiguous.
        if s.len() != 36 {
            return Err(JobError::BadJobId(s.to_string()));
        }
        Uuid::parse_str(s)
            .map(JobId)
            .map_err(|_| JobError::BadJobId(s.to_string()))
    }
}

/// A distcron user's name: also the owner of jobs.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserName(String);

impl UserName {
    pub fn parse(name: &str) -> Result<UserName, JobError> {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
        if ok {
            Ok(UserName(name.to_string()))
        } else {
            Err(JobError::BadUserName(name.to_string()))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for UserName {
    type Error = JobError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        UserName::parse(&s)
    }
}
impl From<UserName> for String {
    fn from(u: UserName) -> String {
        u.0
    }
}
impl fmt::Display for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What kind of executable a job runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum JobType {
    /// A shell command line, run with `/bin/sh -c`.
    Command,
    /// A script uploaded with the job, stored in S3, run directly (it needs a `#!` line).
    Script,
    /// A binary uploaded with the job, stored in S3, run directly.
    Binary,
}

impl JobType {
    pub const ALL: [JobType; 3] = [JobType::Command, JobType::Script, JobType::Binary];
    pub fn as_str(&self) -> &'static str {
        match self {
            JobType::Command => "command",
            JobType::Script => "script",
            JobType::Binary => "binary",
        }
    }
    /// Whether the executable is a file kept in S3.
    pub fn is_blob(&self) -> bool {
        !matches!(self, JobType::Command)
    }
}

impl fmt::Display for JobType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("unknown job type `{s}`: expected command, script or binary"))
    }
}

/// A job's lifecycle state, as the seed design defines it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// On its schedule; its latest run (if any) succeeded.
    Scheduled,
    /// Off the schedule for good: deleted by a user, or a one-shot job that has run.
    Finished,
    /// Its latest run failed; it stays on its schedule.
    Error,
    /// Off the schedule until resumed: the ticks in between never run.
    Paused,
}

impl JobStatus {
    pub const ALL: [JobStatus; 4] = [
        JobStatus::Scheduled,
        JobStatus::Finished,
        JobStatus::Error,
        JobStatus::Paused,
    ];
    pub fn as_str(&self) -> &'static str {
        match self {
            JobStatus::Scheduled => "scheduled",
            JobStatus::Finished => "finished",
            JobStatus::Error => "error",
            JobStatus::Paused => "paused",
        }
    }
    /// Whether jobs in this state are on the schedule (and so published to workers).
    pub fn is_active(&self) -> bool {
        matches!(self, JobStatus::Scheduled | JobStatus::Error)
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobStatus::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                format!("unknown status `{s}`: expected scheduled, paused, finished or error")
            })
    }
}

/// What a tick does when the job's previous run is still running.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Concurrency {
    /// Runs overlap, as with cron.
    #[default]
    Allow,
    /// The new tick is skipped and recorded as such.
    Forbid,
    /// The running one is killed (recorded `killed`) and the new tick runs.
    Replace,
}

impl Concurrency {
    pub const ALL: [Concurrency; 3] = [
        Concurrency::Allow,
        Concurrency::Forbid,
        Concurrency::Replace,
    ];
    pub fn as_str(&self) -> &'static str {
        match self {
            Concurrency::Allow => "allow",
            Concurrency::Forbid => "forbid",
            Concurrency::Replace => "replace",
        }
    }
}

impl FromStr for Concurrency {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Concurrency::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown concurrency `{s}`: expected allow, forbid or replace"))
    }
}

/// What happens to ticks whose time passed while no worker could run them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Misfire {
    /// One catch-up run (for the latest missed tick); the others are recorded as skipped.
    #[default]
    RunOnce,
    /// All missed ticks are recorded as skipped.
    Skip,
}

impl Misfire {
    pub const ALL: [Misfire; 2] = [Misfire::RunOnce, Misfire::Skip];
    pub fn as_str(&self) -> &'static str {
        match self {
            Misfire::RunOnce => "run_once",
            Misfire::Skip => "skip",
        }
    }
}

impl FromStr for Misfire {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Misfire::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown misfire policy `{s}`: expected run_once or skip"))
    }
}

/// The most runs a job may keep.
pub const MAX_HISTORY_LIMIT: u32 = 1_000_000;
/// Most retries a job may ask for after failed runs.
pub const MAX_RETRIES: u16 = 10;
/// Longest first retry delay: a day.
pub const MAX_RETRY_BACKOFF_SECONDS: u32 = 24 * 3600;

/// How runs of a job behave around overlaps, outages and failures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobOptions {
    pub concurrency: Concurrency,
    pub misfire: Misfire,
    /// How many times a failed run is tried again (attempts 2, 3, ...).
    pub retries: u16,
    /// Delay before the first retry; each further retry waits twice as long.
    pub retry_backoff_seconds: u32,
    /// Whether a run interrupted by its worker's death is tried once more elsewhere.
    pub retry_interrupted: bool,
    /// How many of its runs the job keeps (the newest; older ones are pruned); `None`: the
    /// cluster's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history_limit: Option<u32>,
}

impl Default for JobOptions {
    fn default() -> Self {
        JobOptions {
            concurrency: Concurrency::Allow,
            misfire: Misfire::RunOnce,
            retries: 0,
            retry_backoff_seconds: 10,
            retry_interrupted: true,
            history_limit: None,
        }
    }
}

impl JobOptions {
    /// The delay before attempt `attempt` (2 or more) of a failed tick.
    pub fn retry_delay(&self, attempt: u16) -> std::time::Duration {
        let doublings = u32::from(attempt.saturating_sub(2)).min(16);
        std::time::Duration::from_secs(u64::from(self.retry_backoff_seconds) << doublings)
    }
}

/// What a job runs, when, and as whom: the definition a user submitted, after validation
/// (and, for scripts and binaries, after the file went to S3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSpec {
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub job_type: JobType,
    /// The command line, or `s3://<bucket>/<key>` of the uploaded file.
    pub executable: String,
    /// Hex sha256 of the uploaded file; `None` for commands.
    pub sha256: Option<String>,
    pub schedule: Schedule,
    pub timezone: TimeZone,
    pub timeout_seconds: Option<u32>,
    /// Runs as root. Only admins may set it.
    pub privileged: bool,
    /// Runs as this local user instead of the worker's default one. Only admins may set it.
    pub run_as: Option<String>,
    #[serde(flatten, default)]
    pub options: JobOptions,
    /// What one run may use; unnamed values get the worker's defaults.
    #[serde(flatten, default)]
    pub resources: crate::resources::Resources,
}

impl JobSpec {
    /// Whether only an admin may submit this definition.
    pub fn needs_admin(&self) -> bool {
        self.privileged || self.run_as.is_some()
    }
}

/// A job as stored: its definition plus identity, owner and state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub id: JobId,
    pub owner: UserName,
    pub status: JobStatus,
    /// Bumped whenever the definition changes; workers use it to notice a new definition.
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the pause in force (status `paused`) or the latest one began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_at: Option<DateTime<Utc>>,
    /// When the job was last resumed: its ticks count from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed_at: Option<DateTime<Utc>>,
    /// When its schedule or time zone last changed (an edit): its ticks count from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_changed_at: Option<DateTime<Utc>>,
    /// Where the job's kept history starts, once older runs have been pruned: the scheduled
    /// time of the newest run pruned. `None`: nothing pruned, its history starts at its creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_from: Option<DateTime<Utc>>,
    #[serde(flatten)]
    pub spec: JobSpec,
}

impl Job {
    /// A job as it is first stored: on the schedule at version 1, created and updated `now`
    /// (to the millisecond, the precision the API shows).
    pub fn new(id: JobId, owner: UserName, spec: JobSpec, now: DateTime<Utc>) -> Job {
        let now = now.trunc_subsecs(3);
        Job {
            id,
            owner,
            status: JobStatus::Scheduled,
            version: 1,
            created_at: now,
            updated_at: now,
            paused_at: None,
            resumed_at: None,
            schedule_changed_at: None,
            history_from: None,
            spec,
        }
    }
}

/// Whether `s` is a lowercase hex sha256 digest.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(executable: &str) -> JobSpec {
        JobSpec {
            name: None,
            job_type: JobType::Command,
            executable: executable.into(),
            sha256: None,
            schedule: Schedule::parse("5 * * * *").expect("valid schedule"),
            timezone: TimeZone::utc(),
            timeout_seconds: None,
            privileged: false,
            run_as: None,
            options: JobOptions::default(),
            resources: Default::default(),
        }
    }

    #[test]
    fn a_plain_command_is_valid() {
        assert_eq!(command("ls -la").validate(), Ok(()));
    }

    #[test]
    fn an_empty_command_is_refused() {
        assert_eq!(command("  ").validate(), Err(JobError::EmptyExecutable));
    }

    #[test]
    fn a_script_needs_its_digest_and_s3_location() {
        let mut spec = command("s3://bucket/key");
        spec.job_type = JobType::Script;
        assert_eq!(spec.validate(), Err(JobError::MissingBlob(JobType::Script)));
        spec.sha256 = Some("a".repeat(64));
        assert_eq!(spec.validate(), Ok(()));
        spec.sha256 = Some("A".repeat(64));
        assert_eq!(spec.validate(), Err(JobError::BadSha256));
    }

    #[test]
    fn a_file_job_is_judged_before_its_upload_without_an_executable() {
        let mut spec = command("");
        spec.job_type = JobType::Binary;
        assert_eq!(spec.validate_definition(), Ok(()));
        assert_eq!(spec.validate(), Err(JobError::EmptyExecutable));
        spec.timeout_seconds = Some(0);
        assert_eq!(spec.validate_definition(), Err(JobError::BadTimeout));
        spec.timeout_seconds = None;
        spec.executable = "s3://bucket/blobs/sha256/x".into();
        spec.sha256 = Some("b".repeat(64));
        assert_eq!(spec.validate_executable(), Ok(()));
        assert_eq!(spec.validate(), Ok(()));
    }

    #[test]
    fn a_schedule_longer_than_its_column_is_refused() {
        let minutes = (0..60).map(|m| m.to_string()).collect::<Vec<_>>().join(",");
        let mut spec = command("true");
        spec.schedule = Schedule::parse(&format!("{minutes} {minutes} * * * *")).expect("parses");
        assert!(spec.schedule.expression().len() > MAX_SCHEDULE_BYTES);
        assert_eq!(spec.validate(), Err(JobError::ScheduleTooLong));
        spec.schedule = Schedule::parse(&format!("{minutes} * * * *")).expect("parses");
        assert_eq!(spec.validate(), Ok(()));
    }

    #[test]
    fn privileged_and_run_as_are_exclusive() {
        let mut spec = command("id");
        spec.run_as = Some("nobody".into());
        assert_eq!(spec.validate(), Ok(()));
        assert!(spec.needs_admin());
        spec.privileged = true;
        assert_eq!(spec.validate(), Err(JobError::PrivilegedWithRunAs));
    }

    #[test]
    fn run_as_must_be_a_user_name() {
        let mut spec = command("id");
        spec.run_as = Some("root;rm".into());
        assert!(matches!(spec.validate(), Err(JobError::BadRunAs(_))));
    }

    #[test]
    fn retries_back_off_exponentially_within_bounds() {
        let mut spec = command("false");
        spec.options.retries = 3;
        spec.options.retry_backoff_seconds = 5;
        assert_eq!(spec.validate(), Ok(()));
        assert_eq!(spec.options.retry_delay(2).as_secs(), 5);
        assert_eq!(spec.options.retry_delay(3).as_secs(), 10);
        assert_eq!(spec.options.retry_delay(4).as_secs(), 20);
        spec.options.retries = MAX_RETRIES + 1;
        assert_eq!(spec.validate(), Err(JobError::BadRetries));
        spec.options.retries = 1;
        spec.options.retry_backoff_seconds = 0;
        assert_eq!(spec.validate(), Err(JobError::BadRetryBackoff));
    }

    #[test]
    fn options_default_when_absent_from_json() {
        let v = serde_json::json!({
            "name": null, "type": "command", "executable": "true", "sha256": null,
            "schedule": "@daily", "timezone": "UTC", "timeout_seconds": null,
            "privileged": false, "run_as": null
        });
        let spec: JobSpec = serde_json::from_value(v).expect("older payloads still decode");
        assert_eq!(spec.options, JobOptions::default());
        let v = serde_json::to_value(&spec).expect("json");
        assert_eq!(v["misfire"], "run_once");
        assert_eq!(v["concurrency"], "allow");
        assert_eq!(v["retry_interrupted"], true);
    }

    #[test]
    fn job_ids_round_trip_and_sort_by_creation() {
        let a = JobId::new();
        let b = JobId::new();
        assert!(a < b);
        assert_eq!(a.to_string().parse::<JobId>(), Ok(a));
        assert!("nope".parse::<JobId>().is_err());
    }

    #[test]
    fn user_names_are_restricted() {
        assert!(UserName::parse("alice").is_ok());
        assert!(UserName::parse("ci.bot-2").is_ok());
        assert!(UserName::parse("").is_err());
        assert!(UserName::parse("Alice").is_err());
        assert!(UserName::parse("-x").is_err());
    }

    #[test]
    fn a_job_serializes_flat_with_type() {
        let job = Job {
            id: JobId::new(),
            owner: UserName::parse("alice").expect("valid"),
            status: JobStatus::Scheduled,
            version: 1,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            paused_at: None,
            resumed_at: None,
            schedule_changed_at: None,
            history_from: None,
            spec: command("ls -la"),
        };
        let v = serde_json::to_value(&job).expect("serializes");
        assert_eq!(v["type"], "command");
        assert_eq!(v["schedule"], "5 * * * *");
        assert_eq!(v["status"], "scheduled");
        let back: Job = serde_json::from_value(v).expect("deserializes");
        assert_eq!(back, job);
    }
}
