//! The run-row fence on a Galera cluster (`make up HA=1`): two workers claiming the same ticks
//! through different nodes at the same moment. Galera certifies each commit against the others
//! made meanwhile, so at most one of two rows with the same `(job, scheduled_at, attempt)`
//! commits; the other writer learns it lost, either from its own node (the winner's row was
//! there first: the claim's answer leaves the tick out) or at its commit (a deadlock, 1213:
//! the store reports MySQL unavailable and the worker claims again, and then learns it). A
//! worker starts only the ticks its claim answers with (worker/src/scheduler's tests), so the
//! loser starts nothing.

use chrono::{SubsecRound, Utc};
use distcron_core::{Job, JobId, JobSpec, NewRun, RunId, RunStatus, Schedule, UidRange, UserName};
use distcron_e2e::galera::PrivateGalera;
use distcron_store::{Claimant, CreateOutcome, MysqlSettings, Store, StoreError, Tick};
use secrecy::SecretString;
use std::collections::HashMap;
use std::time::Duration;

const JOBS: usize = 20;
const ROUNDS: i64 = 30;

fn store_on(galera: &PrivateGalera, node: usize, db: &str) -> Store {
    let settings = MysqlSettings {
        url: SecretString::from(format!("{}/{db}", galera.url(node))),
        ..MysqlSettings::default()
    };
    Store::connect_lazy(&settings).expect("pool")
}

async fn job(store: &Store, owner: &UserName) -> JobId {
    let spec: JobSpec = serde_json::from_value(serde_json::json!({
        "name": null, "type": "command", "executable": "true", "sha256": null,
        "schedule": "* * * * * *", "timezone": "UTC", "timeout_seconds": null,
        "privileged": false, "run_as": null
    }))
    .expect("spec");
    assert_eq!(
        spec.schedule,
        Schedule::parse("* * * * * *").expect("schedule")
    );
    let job = Job::new(JobId::new(), owner.clone(), spec, Utc::now());
    match store
        .begin_create_job(&job, owner, None)
        .await
        .expect("insert")
    {
        CreateOutcome::Inserted(tx) => tx.commit().await.expect("commit"),
        CreateOutcome::Exists(_) => panic!("a fresh id exists"),
    }
    job.id
}

/// A claim as a worker makes it: again while MySQL says it is unavailable (a certification
/// conflict among them), counted in `conflicts`.
async fn claim(
    store: &Store,
    rows: &[NewRun],
    by: &Claimant,
    conflicts: &mut u32,
) -> HashMap<Tick, (RunId, RunStatus)> {
    for _ in 0..50 {
        match store.claim_runs(rows, by).await {
            Ok(owned) => return owned,
            Err(StoreError::Unavailable(e)) => {
                *conflicts += 1;
                eprintln!("{}: claim refused ({e}); claiming again", by.worker_id);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("claim: {e}"),
        }
    }
    panic!("{}: 50 claims refused in a row", by.worker_id)
}

#[tokio::test]
async fn two_workers_claiming_the_same_ticks_through_different_galera_nodes_get_each_once() {
    let galera = PrivateGalera::start(&distcron_e2e::unique_name(), 3).await;
    let db = "distcron";
    let first = MysqlSettings {
        url: SecretString::from(format!("{}/{db}", galera.url(0))),
        ..MysqlSettings::default()
    };
    Store::create_database_if_missing(&first)
        .await
        .expect("create the database");
    let store = Store::connect_lazy(&first).expect("pool");
    store
        .migrate()
        .await
        .expect("migrate through the first node");
    let owner = UserName::parse("admin").expect("name");
    store
        .ensure_bootstrap_admin(&owner, &"a".repeat(64), UidRange::DEFAULT)
        .await
        .expect("admin");
    let mut jobs = Vec::new();
    for _ in 0..JOBS {
        jobs.push(job(&store, &owner).await);
    }

    // Worker a writes through the second node, worker b through the third.
    let (a, b) = (store_on(&galera, 1, db), store_on(&galera, 2, db));
    let claimant = |w: &str| Claimant {
        worker_id: w.into(),
        incarnation: uuid::Uuid::new_v4().to_string(),
    };
    let (ca, cb) = (claimant("worker-a"), claimant("worker-b"));
    let base = Utc::now().trunc_subsecs(0);
    let rows = |at| -> Vec<NewRun> {
        jobs.iter()
            .map(|j| NewRun {
                id: RunId::new(),
                job_id: *j,
                scheduled_at: at,
                attempt: 1,
                status: RunStatus::Running,
                reason: None,
            })
            .collect()
    };
    let (mut conflicts_a, mut conflicts_b) = (0, 0);
    let (mut won_a, mut won_b) = (0, 0);
    for round in 0..ROUNDS {
        let at = base + chrono::Duration::seconds(round);
        let (rows_a, rows_b) = (rows(at), rows(at));
        let (owned_a, owned_b) = tokio::join!(
            claim(&a, &rows_a, &ca, &mut conflicts_a),
            claim(&b, &rows_b, &cb, &mut conflicts_b)
        );
        for j in &jobs {
            let tick = (*j, at, 1);
            assert!(
                owned_a.contains_key(&tick) ^ owned_b.contains_key(&tick),
                "tick {tick:?}: claimed by a {}, by b {}",
                owned_a.contains_key(&tick),
                owned_b.contains_key(&tick)
            );
        }
        won_a += owned_a.len();
        won_b += owned_b.len();
    }
    eprintln!(
        "{} ticks through two nodes: a won {won_a}, b won {won_b}; claims refused at commit \
         (certification): a {conflicts_a}, b {conflicts_b}",
        JOBS as i64 * ROUNDS
    );
    assert_eq!(won_a + won_b, JOBS * ROUNDS as usize);

    // Every node holds one row per tick, the winner's.
    for node in 0..3 {
        let pool = distcron_e2e::mysql::pool(&format!("{}/{db}", galera.url(node))).await;
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT COUNT(*), COUNT(DISTINCT job_id, scheduled_at, attempt) FROM runs",
        )
        .fetch_all(&pool)
        .await
        .expect("count");
        assert_eq!(
            rows,
            vec![(JOBS as i64 * ROUNDS, JOBS as i64 * ROUNDS)],
            "node {}: one row per tick",
            node + 1
        );
    }
}
