use super::*;
use distcron_core::{JobId, RunId, RunStatus};
use distcron_store::{PauseRow, ScheduleEdit};

fn at(s: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + s, 0).expect("time")
}

fn run(t: DateTime<Utc>, attempt: u16, status: RunStatus, claimed: DateTime<Utc>) -> Run {
    Run {
        id: RunId::new(),
        job_id: JobId::new(),
        scheduled_at: t,
        attempt,
        triggered_by: None,
        status,
        reason: (status == RunStatus::Skipped).then(|| "why".to_string()),
        worker_id: Some("w1".into()),
        created_at: claimed,
        started_at: Some(claimed),
        finished_at: None,
        exit_code: None,
        signal: None,
    }
}

fn states(ticks: &[TickView]) -> Vec<(i64, &str)> {
    ticks
        .iter()
        .map(|t| (t.scheduled_at.timestamp() - 1_800_000_000, t.state.as_str()))
        .collect()
}

#[test]
fn each_second_shows_its_run_its_pause_or_that_nobody_accounted_for_it() {
    let schedule = Schedule::parse("* * * * * *").expect("schedule");
    let zone = TimeZone::utc();
    let job = JobTicks {
        created_at: at(0) + Duration::milliseconds(300),
        schedule: &schedule,
        timezone: &zone,
    };
    let history = TickHistory {
        runs: vec![
            run(
                at(1),
                1,
                RunStatus::Succeeded,
                at(1) - Duration::milliseconds(500),
            ),
            run(at(2), 1, RunStatus::Failed, at(2)),
            run(at(2), 2, RunStatus::Succeeded, at(3)),
            run(at(3), 1, RunStatus::Skipped, at(3)),
            // Claimed five seconds late: a missed tick caught up.
            run(at(7), 1, RunStatus::Succeeded, at(12)),
        ],
        pauses: vec![PauseRow {
            paused_at: at(3) + Duration::milliseconds(100),
            paused_by: "alice".into(),
            resumed_at: Some(at(5) + Duration::milliseconds(200)),
            resumed_by: Some("alice".into()),
        }],
        ..TickHistory::default()
    };
    let ticks = ticks(&job, &history, at(0), at(9), at(8), 100);
    assert_eq!(
        states(&ticks),
        vec![
            (1, "succeeded"),
            (2, "succeeded"),
            (3, "skipped"),
            (4, "paused"),
            (5, "paused"),
            (6, "unaccounted"),
            (7, "succeeded"),
            (8, "upcoming"),
            (9, "upcoming"),
        ]
    );
    assert_eq!(ticks[1].attempts, 2);
    assert!(ticks[4].run_id.is_none());
    assert!(ticks[6].caught_up && !ticks[0].caught_up);
    assert_eq!(ticks.len(), 9);
    assert_eq!(self::ticks(&job, &history, at(0), at(9), at(8), 3).len(), 3);
}

#[test]
fn a_schedule_edit_starts_the_new_schedule_and_its_first_moment_belongs_to_neither() {
    let schedule = Schedule::parse("* * * * * *").expect("schedule");
    let zone = TimeZone::utc();
    let job = JobTicks {
        created_at: at(0),
        schedule: &schedule,
        timezone: &zone,
    };
    let history = TickHistory {
        schedule_edits: vec![ScheduleEdit {
            at: at(6) + Duration::milliseconds(200),
            old_schedule: Some("*/2 * * * * *".into()),
            old_timezone: None,
        }],
        // The old schedule's tick claimed before the edit reached the worker.
        runs: vec![run(at(6), 1, RunStatus::Succeeded, at(6))],
        ..TickHistory::default()
    };
    let ticks = ticks(&job, &history, at(1), at(10), at(20), 100);
    let times: Vec<i64> = states(&ticks).into_iter().map(|(t, _)| t).collect();
    // Every other second before the edit; nothing in the 1.5 s after it; then every second.
    assert_eq!(times, vec![2, 4, 6, 8, 9, 10]);
}

#[test]
fn a_one_shot_job_has_its_creation_as_its_only_tick_and_a_finished_job_none_after_its_end() {
    let once = Schedule::parse("@once").expect("schedule");
    let zone = TimeZone::utc();
    let created = at(3) + Duration::microseconds(1234);
    let job = JobTicks {
        created_at: created,
        schedule: &once,
        timezone: &zone,
    };
    let ticks_once = ticks(&job, &TickHistory::default(), at(0), at(10), at(20), 100);
    assert_eq!(ticks_once.len(), 1);
    assert_eq!(ticks_once[0].scheduled_at, created);
    assert_eq!(ticks_once[0].state, "unaccounted");

    let every = Schedule::parse("* * * * * *").expect("schedule");
    let job = JobTicks {
        created_at: at(0),
        schedule: &every,
        timezone: &zone,
    };
    let history = TickHistory {
        finished_at: Some(at(3) + Duration::milliseconds(500)),
        ..TickHistory::default()
    };
    let times: Vec<i64> = states(&ticks(&job, &history, at(0), at(10), at(20), 100))
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    assert_eq!(times, vec![1, 2, 3]);
}
