//! What the tick view reads of a job, against a real MySQL: the schedule edits come back from
//! the audit log with the values they replaced (schemathesis found `GET /jobs/{id}/ticks`
//! answering 500 for any job once edited: MariaDB typed the values read out of the JSON detail
//! as binary strings, which the store refused to read as text).

mod common;

use chrono::{Duration, Utc};
use common::TestDb;
use distcron_core::{JobOptions, Schedule, TimeZone, UserName};
use distcron_store::EditOutcome;

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
