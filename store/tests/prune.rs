//! Pruning against a real MySQL: a job keeps its newest `history_limit` runs and the ended
//! runs within the retention; never a run under way, a run whose idempotency key is less than
//! a day old, or the job's newest scheduled run (a worker's tick cursor); the output goes with
//! its run; `history_from` says where the kept history starts.

mod common;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use common::TestDb;
use distcron_core::{JobId, JobOptions, RunId};
use sqlx::MySqlPool;

struct Row {
    at: DateTime<Utc>,
    status: &'static str,
    manual: bool,
    finished_ago: Duration,
    key: Option<&'static str>,
}

fn row(at: DateTime<Utc>, status: &'static str) -> Row {
    Row {
        at,
        status,
        manual: false,
        finished_ago: Duration::zero(),
        key: None,
    }
}

async fn insert(db: &MySqlPool, job: JobId, rows: &[Row]) {
    for r in rows {
        let now = Utc::now();
        let ended = !["running", "pending"].contains(&r.status);
        let id = RunId::new().to_string();
        sqlx::query(
            "INSERT INTO runs (id, job_id, scheduled_at, attempt, triggered_by, status, created_at, finished_at, idempotency_key) \
             VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(job.to_string())
        .bind(r.at)
        .bind(r.manual.then_some("alice"))
        .bind(r.status)
        .bind(now)
        .bind(ended.then(|| now - r.finished_ago))
        .bind(r.key)
        .execute(db)
        .await
        .expect("insert run");
        sqlx::query("INSERT INTO run_output_chunks (run_id, seq, stream, data, truncated) VALUES (?, 0, 1, 'out', 0), (?, 1, 2, 'err', 0)")
            .bind(&id)
            .bind(&id)
            .execute(db)
            .await
            .expect("insert output");
    }
}

async fn kept(db: &MySqlPool, job: JobId) -> Vec<(DateTime<Utc>, String)> {
    sqlx::query_as("SELECT scheduled_at, status FROM runs WHERE job_id = ? ORDER BY scheduled_at")
        .bind(job.to_string())
        .fetch_all(db)
        .await
        .expect("runs")
}

async fn history_from(db: &MySqlPool, job: JobId) -> Option<DateTime<Utc>> {
    let (h,): (Option<DateTime<Utc>>,) =
        sqlx::query_as("SELECT history_from FROM jobs WHERE id = ?")
            .bind(job.to_string())
            .fetch_one(db)
            .await
            .expect("job");
    h
}

fn limited(n: u32) -> JobOptions {
    JobOptions {
        history_limit: Some(n),
        ..JobOptions::default()
    }
}

#[tokio::test]
async fn a_job_keeps_its_newest_runs_and_never_its_cursor_a_run_under_way_or_a_fresh_key() {
    let db = TestDb::new().await;
    let sql = db.sql().await;
    let base = Utc::now().trunc_subsecs(0);
    let t = |s: i64| base - Duration::seconds(100 - s);

    // Three kept of seven: the running one counts, the manual one goes with the oldest.
    let a = db.job(limited(3)).await;
    let mut manual = row(t(2) + Duration::microseconds(1), "succeeded");
    manual.manual = true;
    insert(
        &sql,
        a,
        &[
            row(t(0), "succeeded"),
            row(t(1), "failed"),
            row(t(2), "skipped"),
            manual,
            row(t(3), "succeeded"),
            row(t(4), "succeeded"),
            row(t(5), "running"),
        ],
    )
    .await;
    // Its newest scheduled run is older than a manual one: kept all the same.
    let b = db.job(limited(1)).await;
    let mut newer_manual = row(t(1), "succeeded");
    newer_manual.manual = true;
    insert(&sql, b, &[row(t(0), "succeeded"), newer_manual]).await;
    // A run made with an Idempotency-Key an hour ago answers its retries for a day.
    let c = db.job(limited(1)).await;
    let mut keyed = row(t(0), "succeeded");
    keyed.key = Some("deploy-1");
    insert(&sql, c, &[keyed, row(t(1), "succeeded")]).await;

    let (pruned, last) = db
        .store
        .prune_over_limit(1000, std::time::Duration::ZERO, None, 200, 500)
        .await
        .expect("prune");
    assert_eq!(
        pruned, 4,
        "a: four; b: not its cursor, though beyond its limit; c: none"
    );
    assert_eq!(last, None, "one page: the pass is over");
    let a_kept: Vec<_> = kept(&sql, a).await.into_iter().map(|(at, _)| at).collect();
    assert_eq!(a_kept, vec![t(3), t(4), t(5)]);
    assert_eq!(
        history_from(&sql, a).await,
        Some(t(2)),
        "the newest scheduled run pruned"
    );
    assert_eq!(
        kept(&sql, b).await.len(),
        2,
        "the cursor stays beyond the limit"
    );
    assert_eq!(history_from(&sql, b).await, None);
    assert_eq!(kept(&sql, c).await.len(), 2);
    let (orphans,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM run_output_chunks o LEFT JOIN runs r ON r.id = o.run_id WHERE r.id IS NULL",
    )
    .fetch_one(&sql)
    .await
    .expect("count");
    assert_eq!(orphans, 0, "output goes with its run");
    // Again: nothing more to do.
    assert_eq!(
        db.store
            .prune_over_limit(1000, std::time::Duration::ZERO, None, 200, 500)
            .await
            .expect("prune")
            .0,
        0
    );

    // A run just ended stays for the grace, beyond the limit or not.
    let fresh = db.job(limited(1)).await;
    insert(&sql, fresh, &[row(t(0), "failed"), row(t(1), "succeeded")]).await;
    let grace = std::time::Duration::from_secs(600);
    assert_eq!(
        db.store
            .prune_over_limit(1000, grace, None, 200, 500)
            .await
            .expect("prune")
            .0,
        0
    );
    assert_eq!(kept(&sql, fresh).await.len(), 2);

    // Paging: one job a page walks every job, and says where it stopped.
    let (_, first_page) = db
        .store
        .prune_over_limit(1000, std::time::Duration::ZERO, None, 1, 500)
        .await
        .expect("prune");
    assert!(first_page.is_some());
}

#[tokio::test]
async fn runs_ended_before_the_retention_go_but_each_jobs_newest_scheduled_run_stays() {
    let db = TestDb::new().await;
    let sql = db.sql().await;
    let base = Utc::now().trunc_subsecs(0) - Duration::days(50);
    let t = |s: i64| base + Duration::seconds(s);
    let old = |at, status| Row {
        finished_ago: Duration::days(40),
        ..row(at, status)
    };
    let d = db.job(JobOptions::default()).await;
    insert(
        &sql,
        d,
        &[
            old(t(0), "succeeded"),
            old(t(1), "failed"),
            row(t(2), "succeeded"),
        ],
    )
    .await;
    let e = db.job(JobOptions::default()).await;
    insert(&sql, e, &[old(t(0), "succeeded")]).await;

    let cutoff = Utc::now() - Duration::days(30);
    assert_eq!(
        db.store.prune_aged(cutoff, None, 500).await.expect("prune"),
        (2, None)
    );
    assert_eq!(kept(&sql, d).await, vec![(t(2), "succeeded".to_string())]);
    assert_eq!(history_from(&sql, d).await, Some(t(1)));
    assert_eq!(
        kept(&sql, e).await.len(),
        1,
        "a monthly job's only run is its cursor"
    );
    assert_eq!(
        db.store
            .last_accounted(&[d, e])
            .await
            .expect("cursor")
            .len(),
        2
    );
    assert_eq!(
        db.store.prune_aged(cutoff, None, 500).await.expect("again"),
        (0, None)
    );
}

#[tokio::test]
async fn a_pass_goes_past_the_runs_it_keeps_so_retention_never_stalls_on_them() {
    let db = TestDb::new().await;
    let sql = db.sql().await;
    let base = Utc::now().trunc_subsecs(0) - Duration::days(50);
    let t = |s: i64| base + Duration::seconds(s);
    let old = |at, ago: i64| Row {
        finished_ago: Duration::days(ago),
        ..row(at, "succeeded")
    };
    // Three finished jobs' last runs, older than anything prunable: kept, and first in line.
    for i in 0..3 {
        let kept = db.job(JobOptions::default()).await;
        insert(&sql, kept, &[old(t(i), 45)]).await;
    }
    let job = db.job(JobOptions::default()).await;
    insert(
        &sql,
        job,
        &[old(t(10), 40), old(t(11), 40), row(t(12), "succeeded")],
    )
    .await;
    let cutoff = Utc::now() - Duration::days(30);
    // One run a batch: the pass walks on past the kept ones and reaches the prunable ones.
    let (mut deleted, mut after, mut batches) = (0, None, 0);
    loop {
        let (n, next) = db.store.prune_aged(cutoff, after, 1).await.expect("prune");
        deleted += n;
        batches += 1;
        match next {
            Some(next) => after = Some(next),
            None => break,
        }
        assert!(batches < 20, "the pass does not end");
    }
    assert_eq!(deleted, 2, "after {batches} batches");
    assert_eq!(kept(&sql, job).await.len(), 1);
}
