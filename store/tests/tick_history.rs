//! What the tick view and the audit log read, against a real MySQL: the schedule edits come
//! back from the audit log with the values they replaced, and a window opened wider than
//! MySQL's TIMESTAMP range finds what is in it. Both were found with schemathesis: a job once
//! edited had its ticks answer 500 (MariaDB typed the values read out of the JSON detail as
//! binary strings, which the store refused to read as text), and `from=0001-01-01T00:00:00Z`
//! matched no row at all.

mod common;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use common::{TestDb, claimant, tick};
use distcron_core::{JobOptions, Schedule, TimeZone, UserName};
use distcron_store::{AuditFilter, EditOutcome};

#[tokio::test]
async fn an_edited_schedule_is_read_back_with_the_one_it_replaced() {
    let db = TestDb::new().await;
    let id = db.job(JobOptions::default()).await;
    let job = db.store.get_job(&id).await.expect("read").expect("job");
    let admin = UserName::parse("admin").expect("name");

    let mut spec = job.spec.clone();
    spec.schedule = Schedule::parse("*/10 * * * *").expect("schedule");
    let EditOutcome::Changed(_, tx) = db
        .store
        .begin_edit_job(&id, job.version, &spec, &admin)
        .await
        .expect("edit")
    else {
        panic!("the schedule edit changed nothing");
    };
    tx.commit().await.expect("commit");

    let mut spec = spec.clone();
    spec.timezone = TimeZone::parse("Europe/Berlin").expect("zone");
    let EditOutcome::Changed(_, tx) = db
        .store
        .begin_edit_job(&id, job.version + 1, &spec, &admin)
        .await
        .expect("edit")
    else {
        panic!("the time zone edit changed nothing");
    };
    tx.commit().await.expect("commit");

    let now = Utc::now();
    let history = db
        .store
        .tick_history(&id, now - Duration::hours(1), now, 100)
        .await
        .expect("the tick history of an edited job");
    let edits: Vec<_> = history
        .schedule_edits
        .iter()
        .map(|e| (e.old_schedule.as_deref(), e.old_timezone.as_deref()))
        .collect();
    assert_eq!(
        edits,
        [(Some("* * * * * *"), None), (None, Some("UTC"))],
        "each edit's replaced values"
    );
}

#[tokio::test]
async fn a_window_wider_than_a_timestamps_range_finds_what_is_in_it() {
    let db = TestDb::new().await;
    let id = db.job(JobOptions::default()).await;
    let at = Utc::now().trunc_subsecs(0);
    db.store
        .claim_runs(&[tick(id, at, 1)], &claimant("w"))
        .await
        .expect("claim");
    let t = |s: &str| s.parse::<DateTime<Utc>>().expect("time");
    let (first, last) = (t("0001-01-01T00:00:00Z"), t("9999-12-31T23:59:59Z"));

    let history = db
        .store
        .tick_history(&id, first, last, 100)
        .await
        .expect("tick history");
    let times: Vec<_> = history.runs.iter().map(|r| r.scheduled_at).collect();
    assert_eq!(
        times,
        [at],
        "the tick's run, in a window from year 1 to 9999"
    );

    let audit = db
        .store
        .audit_log(&AuditFilter {
            object_type: Some("job".into()),
            object_id: Some(id.to_string()),
            from: Some(first),
            to: Some(last),
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .expect("audit log");
    let actions: Vec<_> = audit.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(
        actions,
        ["job.create"],
        "the job's creation, from year 1 to 9999"
    );
}
