//! The body of `POST /jobs` and what it becomes: a `JobSpec` whose fields parsed, and the
//! command or the uploaded file it runs.

use crate::error::ApiError;
use crate::routes::params::parse_schedule;
use crate::state::AppState;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use bytes::Bytes;
use distcron_core::job::JobError;
use distcron_core::{JobOptions, JobSpec, JobType, Resources};
use serde::Deserialize;
use utoipa::ToSchema;

/// The body of `POST /jobs`. Unknown fields are refused, so nobody can set `owner`, `status`
/// or `id` by sending them. The bounds the schema states are `JobSpec::validate`'s (and the
/// document's test checks they agree).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateJobRequest {
    #[serde(rename = "type")]
    #[schema(value_type = distcron_core::JobType)]
    job_type: String,
    /// crontab(5): five fields, or six with the seconds first; `@hourly`, `@daily`, ... and
    /// `@once` (run once, as soon as possible).
    #[schema(max_length = 255, example = "5 * * * *")]
    schedule: String,
    /// The command line, run with `/bin/sh -c`: command jobs only (for scripts and binaries
    /// the server sets it to `s3://<bucket>/<key>`).
    #[schema(max_length = 16384, example = "ls -la")]
    executable: Option<String>,
    /// The script or binary, base64 (line breaks allowed): script and binary jobs only; at
    /// most `max_upload_bytes` once decoded (10 MiB by default).
    #[schema(content_encoding = "base64")]
    content: Option<String>,
    /// A label: 1 to 255 characters, none a control character.
    #[schema(min_length = 1, max_length = 255)]
    name: Option<String>,
    /// The IANA time zone the schedule is read in; default `UTC`.
    #[schema(example = "Europe/Berlin")]
    timezone: Option<String>,
    /// The run and everything it started are killed after this long: `timed_out`.
    #[schema(minimum = 1, maximum = 2592000)]
    timeout_seconds: Option<u32>,
    /// Run as root: admins only.
    privileged: Option<bool>,
    /// Admins only: run as this local user instead of the workers' unprivileged one.
    #[schema(pattern = r"^[a-z_][a-z0-9_-]{0,31}$")]
    run_as: Option<String>,
    /// `allow` (default), `forbid` or `replace`.
    #[schema(value_type = Option<distcron_core::Concurrency>)]
    concurrency: Option<String>,
    /// `run_once` (default) or `skip`.
    #[schema(value_type = Option<distcron_core::Misfire>)]
    misfire: Option<String>,
    /// Retry a failed or timed-out run this many times (default 0).
    #[schema(maximum = 10)]
    retries: Option<u16>,
    /// The first retry waits this long after the failed attempt ended, each next one twice as
    /// long (default 10).
    #[schema(minimum = 1, maximum = 86400)]
    retry_backoff_seconds: Option<u32>,
    /// Retry once, as attempt 2, a run whose worker died mid-run (default `true`).
    retry_interrupted: Option<bool>,
    /// How many of its runs the job keeps; the cluster's default when absent.
    #[schema(minimum = 1, maximum = 1000000)]
    history_limit: Option<u32>,
    /// Each run's memory (and swap) in MiB; unset, the worker's default.
    #[schema(minimum = 8, maximum = 16777216)]
    memory_mb: Option<u32>,
    /// Each run's CPU, in thousandths of a core (500: half a core).
    #[schema(minimum = 10, maximum = 1024000)]
    cpu_millis: Option<u32>,
    /// Each run's processes and threads at once.
    #[schema(minimum = 1, maximum = 4194304)]
    max_processes: Option<u32>,
}

fn decode_content(content: &str, limit: usize) -> Result<Vec<u8>, ApiError> {
    // `base64` wraps its output at 76 columns; whitespace is not data, so ignore it.
    let compact: Vec<u8> = content
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let decoded = STANDARD
        .decode(&compact)
        .or_else(|_| STANDARD_NO_PAD.decode(&compact))
        .map_err(|e| {
            ApiError::bad_request(
                "invalid_base64",
                format!("`content` is not valid base64: {e}"),
            )
        })?;
    if decoded.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_content",
            "`content` is empty",
        ));
    }
    if decoded.len() > limit {
        return Err(ApiError::PayloadTooLarge(format!(
            "the uploaded file is {} bytes; the limit is {limit} bytes",
            decoded.len()
        )));
    }
    Ok(decoded)
}

/// What a job runs, as sent.
pub enum Source {
    Command(String),
    /// A script's or binary's bytes, decoded, not yet stored.
    File(Vec<u8>),
}

/// The parts of the body that are not the spec: what the job runs.
pub struct Executable {
    job_type: JobType,
    executable: Option<String>,
    content: Option<String>,
}

impl CreateJobRequest {
    /// The spec (its executable still empty) and what it runs, each field parsed, or a 400
    /// naming the field.
    pub fn into_spec(self) -> Result<(JobSpec, Executable), ApiError> {
        let job_type: JobType = self
            .job_type
            .parse()
            .map_err(|e| ApiError::bad_request("invalid_type", e))?;
        let (schedule, timezone) = parse_schedule(&self.schedule, self.timezone.as_deref())?;
        let options = self.options()?;
        let spec = JobSpec {
            name: self.name,
            job_type,
            executable: String::new(),
            sha256: None,
            schedule,
            timezone,
            timeout_seconds: self.timeout_seconds,
            privileged: self.privileged.unwrap_or(false),
            run_as: self.run_as,
            options,
            resources: Resources {
                memory_mb: self.memory_mb,
                cpu_millis: self.cpu_millis,
                max_processes: self.max_processes,
            },
        };
        let executable = Executable {
            job_type,
            executable: self.executable,
            content: self.content,
        };
        Ok((spec, executable))
    }

    fn options(&self) -> Result<JobOptions, ApiError> {
        let defaults = JobOptions::default();
        let option = |e: String| ApiError::bad_request("invalid_option", e);
        Ok(JobOptions {
            concurrency: match &self.concurrency {
                Some(c) => c.parse().map_err(option)?,
                None => defaults.concurrency,
            },
            misfire: match &self.misfire {
                Some(m) => m.parse().map_err(option)?,
                None => defaults.misfire,
            },
            retries: self.retries.unwrap_or(defaults.retries),
            retry_backoff_seconds: self
                .retry_backoff_seconds
                .unwrap_or(defaults.retry_backoff_seconds),
            retry_interrupted: self.retry_interrupted.unwrap_or(defaults.retry_interrupted),
            history_limit: self.history_limit,
        })
    }
}

impl Executable {
    pub(crate) fn new(
        job_type: JobType,
        executable: Option<String>,
        content: Option<String>,
    ) -> Self {
        Executable {
            job_type,
            executable,
            content,
        }
    }

    /// A command job's command line, or a script's or binary's file (decoded, at most
    /// `limit` bytes, a script starting with `#!`).
    pub fn source(self, limit: usize) -> Result<Source, ApiError> {
        let job_type = self.job_type;
        let source = match (job_type, self.executable, self.content) {
            (JobType::Command, Some(command), None) => Source::Command(command),
            (JobType::Command, None, _) => {
                return Err(ApiError::bad_request(
                    "missing_field",
                    "a command job needs `executable`: the command line to run",
                ));
            }
            (JobType::Command, Some(_), Some(_)) => {
                return Err(ApiError::bad_request(
                    "unexpected_field",
                    "`content` is only for script and binary jobs",
                ));
            }
            (_, Some(_), _) => {
                return Err(ApiError::bad_request(
                    "unexpected_field",
                    format!(
                        "a {job_type} job's `executable` is set by the server; send the file as base64 in `content`"
                    ),
                ));
            }
            (_, None, None) => {
                return Err(ApiError::bad_request(
                    "missing_field",
                    format!("a {job_type} job needs `content`: the file, base64-encoded"),
                ));
            }
            (_, None, Some(content)) => Source::File(decode_content(&content, limit)?),
        };
        if let Source::File(file) = &source
            && job_type == JobType::Script
            && !file.starts_with(b"#!")
        {
            return Err(ApiError::bad_request(
                "invalid_content",
                "a script must start with an interpreter line such as `#!/bin/sh`",
            ));
        }
        Ok(source)
    }
}

/// `spec` made whole with what it runs: a command put in place, or a file stored in S3 and
/// named by its location and digest. Everything that does not need the file stored is
/// checked before storing it; the file's location and digest once it is.
pub(crate) async fn complete(
    state: &AppState,
    mut spec: JobSpec,
    source: Option<Source>,
) -> Result<JobSpec, ApiError> {
    let invalid = |e: JobError| ApiError::bad_request("invalid_job", e.to_string());
    match source {
        None => spec.validate().map_err(invalid)?,
        Some(Source::Command(command)) => {
            spec.executable = command;
            spec.validate().map_err(invalid)?;
        }
        Some(Source::File(file)) => {
            spec.validate_definition().map_err(invalid)?;
            let stored = state.blobs.put(Bytes::from(file)).await?;
            spec.executable = stored.url;
            spec.sha256 = Some(stored.sha256);
            spec.validate_executable().map_err(invalid)?;
        }
    }
    Ok(spec)
}
