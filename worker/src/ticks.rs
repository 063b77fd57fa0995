//! The rules for a job's due ticks, as pure functions: where a job's ticks start, which are due,
//! and what each due tick becomes (a run, or a skip with its reason) under the job's misfire and
//! concurrency policies.

use chrono::{DateTime, Utc};
use distcron_core::payload::JobTask;
use distcron_core::run::skip;
use distcron_core::{Concurrency, JobOptions, Misfire};

/// At most this many missed ticks of one job are accounted for at once.
pub const MAX_MISSED: usize = 100_000;

/// Where a job's ticks start: strictly after its creation, its latest resume and its latest
/// schedule change; a one-shot job's single tick is its creation time.
pub fn anchor(task: &JobTask) -> DateTime<Utc> {
    let start = if task.spec.schedule.is_once() {
        task.created_at - chrono::Duration::microseconds(1)
    } else {
        task.created_at
    };
    [task.resumed_at, task.schedule_changed_at]
        .into_iter()
        .flatten()
        .fold(start, DateTime::max)
}

/// The job's first tick strictly after `after`.
pub fn next_tick(task: &JobTask, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if task.spec.schedule.is_once() {
        (after < task.created_at).then_some(task.created_at)
    } else {
        task.spec.schedule.next_after(&task.spec.timezone, after)
    }
}

/// The job's ticks in `(after, until]`, at most `MAX_MISSED`.
pub fn between(task: &JobTask, after: DateTime<Utc>, until: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    if task.spec.schedule.is_once() {
        return next_tick(task, after)
            .filter(|t| *t <= until)
            .into_iter()
            .collect();
    }
    task.spec
        .schedule
        .iter_after(&task.spec.timezone, after)
        .take_while(|t| *t <= until)
        .take(MAX_MISSED)
        .collect()
}

/// Runs of the job that are still running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overlap {
    None,
    /// On this worker: it can stop them.
    Local,
    /// On another worker (seen when the job was adopted).
    Foreign,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Run,
    /// Stop this worker's running runs of the job, then run.
    Replace,
    Skip(&'static str),
}

pub const REPLACE_FOREIGN: &str =
    "concurrency replace: the previous run is still running on another worker";

/// What each due tick becomes. A lone tick that is at most `threshold` late runs (subject to
/// concurrency); several ticks, or a late one, are a misfire: under `run_once` the latest runs
/// and the others are skipped, under `skip` all are skipped.
pub fn decide(
    ticks: &[DateTime<Utc>],
    now: DateTime<Utc>,
    threshold: chrono::Duration,
    options: &JobOptions,
    overlap: Overlap,
) -> Vec<(DateTime<Utc>, Action)> {
    let Some((&last, earlier)) = ticks.split_last() else {
        return Vec::new();
    };
    let mut out: Vec<(DateTime<Utc>, Action)> = earlier
        .iter()
        .map(|t| (*t, Action::Skip(skip::MISFIRE)))
        .collect();
    let on_time = earlier.is_empty() && now - last <= threshold;
    let action = if !on_time && options.misfire == Misfire::Skip {
        Action::Skip(skip::MISFIRE)
    } else {
        match (options.concurrency, overlap) {
            (Concurrency::Allow, _) | (_, Overlap::None) => Action::Run,
            (Concurrency::Forbid, _) => Action::Skip(skip::OVERLAP),
            (Concurrency::Replace, Overlap::Local) => Action::Replace,
            (Concurrency::Replace, Overlap::Foreign) => Action::Skip(REPLACE_FOREIGN),
        }
    };
    out.push((last, action));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use distcron_core::{JobId, JobSpec, JobType, Schedule, TimeZone as Tz, UserName};

    fn at(s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, s)
            .single()
            .expect("time")
    }

    fn task(schedule: &str) -> JobTask {
        JobTask {
            id: JobId::new(),
            version: 1,
            owner: UserName::parse("alice").expect("name"),
            created_at: at(10) + chrono::Duration::milliseconds(500),
            resumed_at: None,
            schedule_changed_at: None,
            run_uid: Some(200_000),
            spec: JobSpec {
                name: None,
                job_type: JobType::Command,
                executable: "true".into(),
                sha256: None,
                schedule: Schedule::parse(schedule).expect("schedule"),
                timezone: Tz::utc(),
                timeout_seconds: None,
                privileged: false,
                run_as: None,
                options: JobOptions::default(),
                resources: Default::default(),
            },
        }
    }

    fn opts(misfire: Misfire, concurrency: Concurrency) -> JobOptions {
        JobOptions {
            misfire,
            concurrency,
            ..JobOptions::default()
        }
    }

    const THRESHOLD: chrono::Duration = chrono::Duration::seconds(2);

    #[test]
    fn a_new_jobs_first_tick_is_after_its_creation() {
        let t = task("* * * * * *");
        assert_eq!(next_tick(&t, anchor(&t)), Some(at(11)));
        assert_eq!(
            between(&t, anchor(&t), at(13)),
            vec![at(11), at(12), at(13)]
        );
    }

    #[test]
    fn a_resumed_job_counts_its_ticks_from_its_resume_so_nothing_of_the_pause_is_caught_up() {
        let mut t = task("* * * * * *");
        t.resumed_at = Some(at(20) + chrono::Duration::milliseconds(300));
        assert_eq!(next_tick(&t, anchor(&t)), Some(at(21)));
        assert!(between(&t, anchor(&t), at(20)).is_empty());
        // A resume from before the creation (a clock's error) never moves the start back.
        t.resumed_at = Some(at(5));
        assert_eq!(anchor(&t), t.created_at);
    }

    #[test]
    fn a_rescheduled_job_counts_its_ticks_from_the_edit_so_no_time_before_it_is_caught_up() {
        // Hourly, last run at 0; edited at 1800 s to every quarter hour: 900 was never a tick.
        let s = |n: i64| at(0) + chrono::Duration::seconds(n);
        let mut t = task("*/15 * * * *");
        t.schedule_changed_at = Some(s(1800) + chrono::Duration::milliseconds(7));
        assert_eq!(next_tick(&t, anchor(&t).max(s(0))), Some(s(2700)));
        assert!(between(&t, anchor(&t), s(2000)).is_empty());
    }

    #[test]
    fn a_one_shot_job_has_exactly_one_tick_its_creation() {
        let t = task("@once");
        assert_eq!(next_tick(&t, anchor(&t)), Some(t.created_at));
        assert_eq!(between(&t, anchor(&t), at(59)), vec![t.created_at]);
        assert_eq!(next_tick(&t, t.created_at), None, "once done, never again");
        assert!(
            between(&t, anchor(&t), at(10)).is_empty(),
            "not due before it exists"
        );
    }

    #[test]
    fn a_lone_timely_tick_runs_whatever_the_misfire_policy() {
        for misfire in [Misfire::RunOnce, Misfire::Skip] {
            let d = decide(
                &[at(20)],
                at(20) + chrono::Duration::milliseconds(300),
                THRESHOLD,
                &opts(misfire, Concurrency::Allow),
                Overlap::None,
            );
            assert_eq!(d, vec![(at(20), Action::Run)]);
        }
    }

    #[test]
    fn missed_ticks_run_once_for_the_latest_or_are_all_skipped() {
        let ticks = [at(20), at(21), at(22)];
        let d = decide(
            &ticks,
            at(22),
            THRESHOLD,
            &opts(Misfire::RunOnce, Concurrency::Allow),
            Overlap::None,
        );
        assert_eq!(
            d,
            vec![
                (at(20), Action::Skip(skip::MISFIRE)),
                (at(21), Action::Skip(skip::MISFIRE)),
                (at(22), Action::Run)
            ]
        );
        let d = decide(
            &ticks,
            at(22),
            THRESHOLD,
            &opts(Misfire::Skip, Concurrency::Allow),
            Overlap::None,
        );
        assert!(d.iter().all(|(_, a)| *a == Action::Skip(skip::MISFIRE)));
        assert_eq!(d.len(), 3);
    }

    #[test]
    fn a_single_late_tick_is_a_misfire_too() {
        let late = at(20) + chrono::Duration::seconds(5);
        assert_eq!(
            decide(
                &[at(20)],
                late,
                THRESHOLD,
                &opts(Misfire::Skip, Concurrency::Allow),
                Overlap::None
            ),
            vec![(at(20), Action::Skip(skip::MISFIRE))]
        );
        assert_eq!(
            decide(
                &[at(20)],
                late,
                THRESHOLD,
                &opts(Misfire::RunOnce, Concurrency::Allow),
                Overlap::None
            ),
            vec![(at(20), Action::Run)]
        );
    }

    #[test]
    fn concurrency_decides_a_tick_that_comes_while_a_run_still_runs() {
        let now = at(20);
        let d = |c, o| decide(&[at(20)], now, THRESHOLD, &opts(Misfire::RunOnce, c), o)[0].1;
        assert_eq!(d(Concurrency::Allow, Overlap::Local), Action::Run);
        assert_eq!(d(Concurrency::Allow, Overlap::Foreign), Action::Run);
        assert_eq!(
            d(Concurrency::Forbid, Overlap::Local),
            Action::Skip(skip::OVERLAP)
        );
        assert_eq!(
            d(Concurrency::Forbid, Overlap::Foreign),
            Action::Skip(skip::OVERLAP)
        );
        assert_eq!(d(Concurrency::Forbid, Overlap::None), Action::Run);
        assert_eq!(d(Concurrency::Replace, Overlap::Local), Action::Replace);
        assert_eq!(
            d(Concurrency::Replace, Overlap::Foreign),
            Action::Skip(REPLACE_FOREIGN)
        );
    }

    #[test]
    fn nothing_due_decides_nothing() {
        assert!(decide(&[], at(0), THRESHOLD, &JobOptions::default(), Overlap::None).is_empty());
    }
}
