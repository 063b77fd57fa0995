//! MySQL's own errors, classified as the store's callers need them, by their number: a lock wait
//! that timed out means "try again" (unavailable: the API answers 503, a worker claims again),
//! as a deadlock and a Galera commit that lost certification (1213) do: e2e/tests/galera.rs
//! sees those. A real error from a real server.

mod common;

use common::TestDb;
use distcron_core::JobOptions;
use distcron_store::StoreError;

#[tokio::test]
async fn a_lock_wait_timeout_is_reported_as_mysql_being_unavailable() {
    let db = TestDb::new().await;
    let one = db.job(JobOptions::default()).await;
    let pool = db.sql().await;
    let lock = "UPDATE jobs SET version = version + 1 WHERE id = ?";

    // A lock wait timeout: the second writer waits a second for the first one's row lock.
    let mut first = pool.begin().await.expect("begin");
    sqlx::query(lock)
        .bind(one.to_string())
        .execute(&mut *first)
        .await
        .expect("lock");
    let mut second = pool.acquire().await.expect("connection");
    sqlx::query("SET SESSION innodb_lock_wait_timeout = 1")
        .execute(&mut *second)
        .await
        .expect("set");
    let waited = sqlx::query(lock)
        .bind(one.to_string())
        .execute(&mut *second)
        .await
        .expect_err("a lock wait timeout");
    let waited = StoreError::from(waited);
    assert!(waited.is_unavailable(), "{waited:?}");
    first.rollback().await.expect("rollback");
}
