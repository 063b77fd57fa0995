//! A handoff on each side: the old holder claims up to the handoff's time only, the new one
//! reads where the job stands once that time has passed and claims from the first tick after.

use super::*;

fn at_half(s: i64) -> DateTime<Utc> {
    second(s) + chrono::Duration::milliseconds(500)
}

#[tokio::test(start_paused = true)]
async fn a_job_handed_off_is_claimed_up_to_the_handoffs_time_only() {
    let h = Harness::start(|_| {});
    let a = task("* * * * * *", t0());
    h.assign(&a);
    h.until(second(2)).await;
    h.assign_as(
        &a,
        Assignment {
            until: Some(at_half(4)),
            ..Assignment::of(1)
        },
    );
    h.until(second(8)).await;
    assert_eq!(
        h.fake.ticks_of(a.id),
        vec![second(1), second(2), second(3), second(4)]
    );

    // The new holder went: the handoff is lifted, and this worker carries on from its cursor.
    h.assign(&a);
    h.until(second(9) + chrono::Duration::milliseconds(100))
        .await;
    let ticks = h.fake.ticks_of(a.id);
    assert_eq!(ticks[..4], [second(1), second(2), second(3), second(4)]);
    assert!(
        ticks[4..].iter().all(|t| *t > second(4)) && ticks.contains(&second(9)),
        "{ticks:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_queue_that_wakes_late_claims_nothing_past_the_handoff() {
    let h = Harness::start(|_| {});
    let a = task("* * * * * *", t0());
    h.assign_as(
        &a,
        Assignment {
            until: Some(at_half(4)),
            ..Assignment::of(1)
        },
    );
    // The gate closes before tick 4 is claimed and opens again well past the handoff.
    h.until(second(3) + chrono::Duration::milliseconds(200))
        .await;
    h.gate.set_clock(Some("a test closes the gate".into()));
    h.until(second(6) + chrono::Duration::milliseconds(200))
        .await;
    h.gate.set_clock(None);
    h.until(second(8)).await;
    assert_eq!(
        h.fake.ticks_of(a.id),
        vec![second(1), second(2), second(3), second(4)]
    );
}

#[tokio::test(start_paused = true)]
async fn a_job_handed_to_this_worker_is_read_after_the_handoff_and_claimed_from_the_next_tick() {
    let a = task("* * * * * *", t0());
    // The previous holder claimed up to the handoff's time.
    let h = Harness::start(|s| {
        s.last.insert(a.id, second(3));
    });
    h.assign_as(
        &a,
        Assignment {
            after: Some(at_half(3)),
            ..Assignment::of(1)
        },
    );
    h.until(second(6) + chrono::Duration::milliseconds(100))
        .await;
    assert_eq!(h.fake.ticks_of(a.id), vec![second(4), second(5), second(6)]);
    let reads = h.fake.state.lock().unwrap().read_at.clone();
    assert!(
        !reads.is_empty() && reads.iter().all(|t| *t > at_half(3)),
        "read once the handoff's time has passed: {reads:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn ticks_a_previous_holder_missed_before_the_handoff_are_accounted_for() {
    let a = task("* * * * * *", t0());
    // The previous holder died after its claim of second 1.
    let h = Harness::start(|s| {
        s.last.insert(a.id, second(1));
    });
    h.assign_as(
        &a,
        Assignment {
            after: Some(at_half(3)),
            ..Assignment::of(1)
        },
    );
    h.until(second(6) + chrono::Duration::milliseconds(100))
        .await;
    let decided: Vec<DateTime<Utc>> = h.fake.launched().iter().map(|l| l.tick).collect();
    for s in 2..=6 {
        assert!(
            decided.contains(&second(s)),
            "second {s} decided: {decided:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_handoff_whose_old_holder_went_is_adopted_at_once() {
    let h = Harness::start(|_| {});
    let a = task("* * * * * *", t0());
    h.assign_as(
        &a,
        Assignment {
            after: Some(at_half(30)),
            ..Assignment::of(1)
        },
    );
    h.until(second(2)).await;
    h.assign(&a);
    h.until(second(4) + chrono::Duration::milliseconds(100))
        .await;
    let ticks = h.fake.ticks_of(a.id);
    assert!(
        ticks.contains(&second(3)) && ticks.contains(&second(4)),
        "{ticks:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_forbid_job_looks_again_at_runs_elsewhere_seen_long_ago_before_skipping_for_them() {
    let mut a = task("*/5 * * * * *", t0());
    a.spec.options.concurrency = distcron_core::Concurrency::Forbid;
    // Handed over while its previous holder's run ran: the adoption saw that run (which has
    // ended by the first tick here, five seconds on).
    let h = Harness::start(|s| {
        s.foreign.insert(a.id, vec![distcron_core::RunId::new()]);
    });
    h.assign(&a);
    h.until(second(5) + chrono::Duration::milliseconds(500))
        .await;
    let launched = h.fake.launched();
    let first = launched
        .iter()
        .find(|l| l.job == a.id)
        .expect("tick 5 decided");
    assert_eq!(
        (first.tick, first.status),
        (second(5), RunStatus::Running),
        "{first:?}"
    );
}
