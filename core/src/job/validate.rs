//! The invariants of a job definition, checked once at the boundary: the definition's (before
//! an upload) and the executable's (once the uploaded file's location and digest are known).

use super::{
    JobError, JobSpec, MAX_COMMAND_BYTES, MAX_HISTORY_LIMIT, MAX_NAME_CHARS, MAX_RETRIES,
    MAX_RETRY_BACKOFF_SECONDS, MAX_SCHEDULE_BYTES, MAX_TIMEOUT_SECONDS, is_sha256_hex,
};

impl JobSpec {
    /// Checks the invariants that do not depend on who submits the job: the definition's and
    /// the executable's, in that order.
    pub fn validate(&self) -> Result<(), JobError> {
        self.check_labels()?;
        self.validate_executable()?;
        self.check_bounds()
    }

    /// Checks everything but the executable: what can be judged before a script or binary is
    /// uploaded (and its location and digest known).
    pub fn validate_definition(&self) -> Result<(), JobError> {
        self.check_labels()?;
        self.check_bounds()
    }

    /// Checks the executable: a command line, or the uploaded file's `s3://` location and sha256.
    pub fn validate_executable(&self) -> Result<(), JobError> {
        if self.executable.trim().is_empty() {
            return Err(JobError::EmptyExecutable);
        }
        if self.executable.len() > MAX_COMMAND_BYTES {
            return Err(JobError::ExecutableTooLong);
        }
        if self.executable.contains('\0') {
            return Err(JobError::NulInExecutable);
        }
        match (self.job_type.is_blob(), &self.sha256) {
            (true, None) => Err(JobError::MissingBlob(self.job_type)),
            (true, Some(_)) if !self.executable.starts_with("s3://") => {
                Err(JobError::MissingBlob(self.job_type))
            }
            (true, Some(sha)) if !is_sha256_hex(sha) => Err(JobError::BadSha256),
            (false, Some(_)) => Err(JobError::UnexpectedSha256),
            _ => Ok(()),
        }
    }

    /// The name and the schedule's length.
    fn check_labels(&self) -> Result<(), JobError> {
        if let Some(name) = &self.name
            && (name.is_empty()
                || name.chars().count() > MAX_NAME_CHARS
                || name.chars().any(char::is_control))
        {
            return Err(JobError::BadName);
        }
        if self.schedule.expression().len() > MAX_SCHEDULE_BYTES {
            return Err(JobError::ScheduleTooLong);
        }
        Ok(())
    }

    /// The timeout, the retry options, the resources and the run user.
    fn check_bounds(&self) -> Result<(), JobError> {
        if let Some(t) = self.timeout_seconds
            && !(1..=MAX_TIMEOUT_SECONDS).contains(&t)
        {
            return Err(JobError::BadTimeout);
        }
        if self.options.retries > MAX_RETRIES {
            return Err(JobError::BadRetries);
        }
        if !(1..=MAX_RETRY_BACKOFF_SECONDS).contains(&self.options.retry_backoff_seconds) {
            return Err(JobError::BadRetryBackoff);
        }
        if let Some(n) = self.options.history_limit
            && !(1..=MAX_HISTORY_LIMIT).contains(&n)
        {
            return Err(JobError::BadHistoryLimit);
        }
        self.resources.validate()?;
        if let Some(user) = &self.run_as {
            if !is_unix_user_name(user) {
                return Err(JobError::BadRunAs(user.clone()));
            }
            if self.privileged {
                return Err(JobError::PrivilegedWithRunAs);
            }
        }
        Ok(())
    }
}

/// POSIX-portable user names, as `useradd` accepts them.
fn is_unix_user_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}
