//! What the store's tests share: a database of their own per test, jobs, claimants and ticks.
#![allow(dead_code)]

use chrono::{DateTime, SubsecRound, Utc};
use distcron_core::NewRun;
use distcron_core::{
    Job, JobId, JobOptions, JobSpec, JobStatus, JobType, RunId, RunStatus, Schedule, TimeZone,
    UserName,
};
use distcron_store::{Claimant, CreateOutcome, MysqlSettings, Store};
use secrecy::SecretString;

pub struct TestDb {
    pub store: Store,
    server: String,
    name: String,
}

impl TestDb {
    pub async fn new() -> TestDb {
        let server = std::env::var("DC_TEST_MYSQL")
            .expect("DC_TEST_MYSQL is not set: run the tests with `make test`");
        let name = format!("dcs_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let settings = MysqlSettings {
            url: SecretString::from(format!("{}/{name}", server.trim_end_matches('/'))),
            ..MysqlSettings::default()
        };
        Store::create_database_if_missing(&settings)
            .await
            .expect("create database");
        let store = Store::connect_lazy(&settings).expect("pool");
        store.migrate().await.expect("migrate");
        let admin = UserName::parse("admin").expect("name");
        store
            .ensure_bootstrap_admin(&admin, &"a".repeat(64), distcron_core::UidRange::DEFAULT)
            .await
            .expect("admin");
        TestDb {
            store,
            server,
            name,
        }
    }

    pub async fn job(&self, options: JobOptions) -> JobId {
        let now = Utc::now().trunc_subsecs(3);
        let job = Job {
            id: JobId::new(),
            owner: UserName::parse("admin").expect("name"),
            status: JobStatus::Scheduled,
            version: 1,
            created_at: now,
            updated_at: now,
            paused_at: None,
            resumed_at: None,
            schedule_changed_at: None,
            history_from: None,
            spec: JobSpec {
                name: None,
                job_type: JobType::Command,
                executable: "true".into(),
                sha256: None,
                schedule: Schedule::parse("* * * * * *").expect("schedule"),
                timezone: TimeZone::utc(),
                timeout_seconds: None,
                privileged: false,
                run_as: None,
                options,
                resources: Default::default(),
            },
        };
        let admin = job.owner.clone();
        match self
            .store
            .begin_create_job(&job, &admin, None)
            .await
            .expect("insert")
        {
            CreateOutcome::Inserted(tx) => tx.commit().await.expect("commit"),
            CreateOutcome::Exists(_) => panic!("fresh id exists"),
        }
        job.id
    }
}

impl TestDb {
    /// A connection pool of the test's own database, to write rows as they would be after a
    /// history the test does not replay.
    pub async fn sql(&self) -> sqlx::MySqlPool {
        let url = format!("{}/{}", self.server.trim_end_matches('/'), self.name);
        sqlx::MySqlPool::connect(&url).await.expect("pool")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let url = format!("{}/mysql", self.server.trim_end_matches('/'));
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                if let Ok(pool) = sqlx::MySqlPool::connect(&url).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS `{name}`"))
                        .execute(&pool)
                        .await;
                }
            });
        })
        .join();
    }
}

pub fn claimant(worker: &str) -> Claimant {
    Claimant {
        worker_id: worker.into(),
        incarnation: uuid::Uuid::new_v4().to_string(),
    }
}

pub fn tick(job: JobId, at: DateTime<Utc>, attempt: u16) -> NewRun {
    NewRun {
        id: RunId::new(),
        job_id: job,
        scheduled_at: at,
        attempt,
        status: RunStatus::Running,
        reason: None,
    }
}
