//! Every scheduled time of a job in a window and what became of it: the account distcron's
//! promise is checked against. Pure: the history is read by the store, the clock is given.
//!
//! A tick is a fire time of the schedule in force at that moment (a schedule edit starts a new
//! one; the audit log keeps the old values) after the job's creation, or any time that has a
//! scheduled run's row (claims and skips are rows too). A tick with rows shows its last
//! attempt's status; one without is `paused` (inside a pause interval), `upcoming` (not yet
//! due) or `unaccounted`: due, yet nobody has recorded it — its worker died and no other has
//! adopted the job yet, or MySQL was down; it stays so only while that lasts.

use chrono::{DateTime, Duration, Utc};
use distcron_core::{Run, Schedule, TimeZone};
use distcron_store::TickHistory;
use serde::Serialize;
use std::collections::BTreeMap;

/// After a schedule edit, the old schedule's tick already claimed (claims lead ticks by half a
/// second, and the update takes a moment to reach the worker) is the last of the old one; the
/// new schedule's times in this span after the edit are ticks of neither.
const SWITCH: Duration = Duration::milliseconds(1500);
/// A tick is due this long after its time: its row is written half a second before it, so
/// one missing a second after it is late, not in flight.
const DUE_AFTER: Duration = Duration::seconds(1);

/// One scheduled time of a job and what became of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TickView {
    pub scheduled_at: DateTime<Utc>,
    /// Its last attempt's status (`succeeded`, `failed`, `skipped` with its `reason`,
    /// `running`, `claimed`, ...), or, for a tick with no run: `paused` (inside a pause),
    /// `upcoming` (not yet due) or `unaccounted` (due and not yet recorded: its worker died
    /// and no other has adopted the job yet, or MySQL is down; it lasts only while that does).
    #[schema(schema_with = tick_state_schema)]
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = Uuid)]
    pub run_id: Option<String>,
    /// How many attempts it took (0 without a run).
    pub attempts: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
    /// Claimed more than a second after its time: a tick missed (no worker could run it)
    /// and caught up under `misfire: run_once`.
    pub caught_up: bool,
}

/// What a tick's `state` may be: a run's status as shown, or one of a tick without a run.
fn tick_state_schema() -> utoipa::openapi::Object {
    let runs = distcron_core::RunStatus::ALL.iter().map(|s| s.as_str());
    crate::openapi::string_enum(runs.chain(["claimed", "paused", "upcoming", "unaccounted"]))
}

/// The job as the view needs it.
pub struct JobTicks<'a> {
    pub created_at: DateTime<Utc>,
    pub schedule: &'a Schedule,
    pub timezone: &'a TimeZone,
}

/// The schedules in force over the job's life: `(from, schedule, zone)`, oldest first.
fn segments(job: &JobTicks<'_>, history: &TickHistory) -> Vec<(DateTime<Utc>, Schedule, TimeZone)> {
    let mut current = (job.schedule.clone(), *job.timezone);
    let mut out = Vec::new();
    for edit in history.schedule_edits.iter().rev() {
        out.push((edit.at, current.0.clone(), current.1));
        let schedule = edit
            .old_schedule
            .as_deref()
            .and_then(|s| Schedule::parse(s).ok())
            .unwrap_or_else(|| current.0.clone());
        let zone = edit
            .old_timezone
            .as_deref()
            .and_then(|z| TimeZone::parse(z).ok())
            .unwrap_or(current.1);
        current = (schedule, zone);
    }
    out.push((job.created_at, current.0, current.1));
    out.reverse();
    out
}

/// The fire times in `[from, to]` of the schedules in force, after the creation, up to the
/// job's finish.
fn fire_times(
    job: &JobTicks<'_>,
    history: &TickHistory,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: usize,
) -> Vec<DateTime<Utc>> {
    if job.schedule.is_once() {
        return [job.created_at]
            .into_iter()
            .filter(|t| (from..=to).contains(t))
            .collect();
    }
    let end = history.finished_at.map_or(to, |f| f.min(to));
    let segments = segments(job, history);
    let mut out = Vec::new();
    for (i, (start, schedule, zone)) in segments.iter().enumerate() {
        let until = segments.get(i + 1).map_or(end, |next| next.0.min(end));
        let skip_until = if i == 0 { *start } else { *start + SWITCH };
        let after = (*start).max(from - Duration::microseconds(1));
        for t in schedule.iter_after(zone, after) {
            if t > until || out.len() >= limit {
                break;
            }
            if t > skip_until {
                out.push(t);
            }
        }
    }
    out
}

/// Every tick of the job in `[from, to]`, at most `limit`, oldest first.
pub fn ticks(
    job: &JobTicks<'_>,
    history: &TickHistory,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
    limit: usize,
) -> Vec<TickView> {
    let mut runs: BTreeMap<DateTime<Utc>, Vec<&Run>> = BTreeMap::new();
    for run in &history.runs {
        runs.entry(run.scheduled_at).or_default().push(run);
    }
    let mut times: Vec<DateTime<Utc>> = fire_times(job, history, from, to, limit);
    times.extend(runs.keys().copied());
    times.sort();
    times.dedup();
    times.truncate(limit);
    times
        .into_iter()
        .map(|t| {
            match runs
                .get(&t)
                .and_then(|r| r.iter().max_by_key(|r| r.attempt))
            {
                Some(last) => TickView {
                    scheduled_at: t,
                    state: last.shown_status().to_string(),
                    run_id: Some(last.id.to_string()),
                    attempts: last.attempt,
                    reason: last.reason.clone(),
                    worker: last.worker_id.clone(),
                    caught_up: runs[&t]
                        .iter()
                        .any(|r| r.attempt == 1 && r.created_at > t + Duration::seconds(1)),
                },
                None => TickView {
                    scheduled_at: t,
                    state: unrecorded(t, history, now).to_string(),
                    run_id: None,
                    attempts: 0,
                    reason: None,
                    worker: None,
                    caught_up: false,
                },
            }
        })
        .collect()
}

fn unrecorded(t: DateTime<Utc>, history: &TickHistory, now: DateTime<Utc>) -> &'static str {
    let paused = history
        .pauses
        .iter()
        .any(|p| p.paused_at < t && p.resumed_at.is_none_or(|r| t <= r));
    if paused {
        "paused"
    } else if t + DUE_AFTER > now {
        "upcoming"
    } else {
        "unaccounted"
    }
}

#[cfg(test)]
mod tests;
