//! Edits: a job's definition replaced in place, its version one higher. The row is locked for
//! update, as a delete locks it, so a start check either sees the old definition (and its
//! claimed ticks run it) or waits for the edit. The audit row keeps the old and the new value
//! of every field that changed.

use crate::audit::{self, AuditEntry};
use crate::jobs::{JobTx, lock_job};
use crate::{Result, Store, StoreError};
use chrono::{SubsecRound, Utc};
use distcron_core::{Job, JobId, JobSpec, JobStatus, UserName};
use serde_json::{Map, Value};

/// What `begin_edit_job` found.
pub enum EditOutcome {
    NotFound,
    /// The job already has this definition: nothing changed, no new version.
    Unchanged(Box<Job>),
    /// Changed in the open transaction: publish, then commit.
    Changed(Box<Job>, JobTx),
}

impl Store {
    /// Gives job `id` the definition `spec` in a transaction left open for the caller, if the
    /// job is at `base_version` still (a conflict if another edit came first, or if the job is
    /// finished).
    pub async fn begin_edit_job(
        &self,
        id: &JobId,
        base_version: u64,
        spec: &JobSpec,
        actor: &UserName,
    ) -> Result<EditOutcome> {
        let mut tx = self.pool().begin().await?;
        let Some(mut job) = lock_job(&mut tx, id).await? else {
            return Ok(EditOutcome::NotFound);
        };
        let refuse = if job.status == JobStatus::Finished {
            Some(format!("job {id} is finished: it can no longer change"))
        } else if job.version != base_version {
            Some(format!(
                "job {id} changed while this edit was made (it is at version {}, the edit was made from {base_version}): read it again",
                job.version
            ))
        } else {
            None
        };
        if let Some(why) = refuse {
            tx.rollback().await?;
            return Err(StoreError::Conflict(why));
        }
        if job.spec == *spec {
            tx.rollback().await?;
            return Ok(EditOutcome::Unchanged(Box::new(job)));
        }
        let now = Utc::now().trunc_subsecs(6);
        let rescheduled = job.spec.schedule != spec.schedule || job.spec.timezone != spec.timezone;
        if rescheduled {
            job.schedule_changed_at = Some(now);
        }
        sqlx::query(
            "UPDATE jobs SET name = ?, executable = ?, sha256 = ?, schedule = ?, timezone = ?, \
             timeout_seconds = ?, privileged = ?, run_as = ?, concurrency = ?, misfire = ?, retries = ?, \
             retry_backoff_seconds = ?, retry_interrupted = ?, memory_mb = ?, cpu_millis = ?, \
             max_processes = ?, history_limit = ?, schedule_changed_at = ?, version = version + 1, \
             updated_at = ? WHERE id = ?",
        )
        .bind(&spec.name)
        .bind(&spec.executable)
        .bind(&spec.sha256)
        .bind(spec.schedule.expression())
        .bind(spec.timezone.name())
        .bind(spec.timeout_seconds)
        .bind(spec.privileged)
        .bind(&spec.run_as)
        .bind(spec.options.concurrency.as_str())
        .bind(spec.options.misfire.as_str())
        .bind(spec.options.retries)
        .bind(spec.options.retry_backoff_seconds)
        .bind(spec.options.retry_interrupted)
        .bind(spec.resources.memory_mb)
        .bind(spec.resources.cpu_millis)
        .bind(spec.resources.max_processes)
        .bind(spec.options.history_limit)
        .bind(job.schedule_changed_at)
        .bind(now)
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
        let (old, new) = changes(&job.spec, spec);
        audit::record(
            &mut tx,
            AuditEntry {
                at: now,
                actor: actor.as_str(),
                action: "job.edit",
                object_type: "job",
                object_id: &id.to_string(),
                detail: serde_json::json!({
                    "version": job.version + 1,
                    "old": old,
                    "new": new,
                }),
            },
        )
        .await?;
        job.spec = spec.clone();
        job.version += 1;
        job.updated_at = now;
        Ok(EditOutcome::Changed(Box::new(job), JobTx { tx }))
    }
}

/// The fields that differ between two definitions: their old values and their new ones.
fn changes(old: &JobSpec, new: &JobSpec) -> (Map<String, Value>, Map<String, Value>) {
    let flat = |spec: &JobSpec| match serde_json::to_value(spec) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    let (old, new) = (flat(old), flat(new));
    let mut before = Map::new();
    let mut after = Map::new();
    for key in old.keys().chain(new.keys()) {
        let (o, n) = (old.get(key), new.get(key));
        if o != n && !before.contains_key(key) {
            before.insert(key.clone(), o.cloned().unwrap_or(Value::Null));
            after.insert(key.clone(), n.cloned().unwrap_or(Value::Null));
        }
    }
    (before, after)
}

#[cfg(test)]
mod tests {
    use super::*;
    use distcron_core::{JobOptions, JobType, Resources, Schedule, TimeZone};

    fn spec() -> JobSpec {
        JobSpec {
            name: Some("report".into()),
            job_type: JobType::Command,
            executable: "echo one".into(),
            sha256: None,
            schedule: Schedule::parse("* * * * *").expect("schedule"),
            timezone: TimeZone::parse("UTC").expect("zone"),
            timeout_seconds: None,
            privileged: false,
            run_as: None,
            options: JobOptions::default(),
            resources: Resources::default(),
        }
    }

    #[test]
    fn an_edits_audit_names_just_the_fields_that_changed_with_both_values() {
        let old = spec();
        let mut new = spec();
        new.executable = "echo two".into();
        new.timeout_seconds = Some(30);
        let (before, after) = changes(&old, &new);
        assert_eq!(
            before.keys().collect::<Vec<_>>(),
            after.keys().collect::<Vec<_>>()
        );
        assert_eq!(before.get("executable"), Some(&Value::from("echo one")));
        assert_eq!(after.get("executable"), Some(&Value::from("echo two")));
        assert_eq!(after.get("timeout_seconds"), Some(&Value::from(30)));
        assert!(!after.contains_key("name"), "{after:?}");
        assert_eq!(changes(&old, &old), (Map::new(), Map::new()));
    }
}
