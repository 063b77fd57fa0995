//! What the API's tests share: an API server in this process on `127.0.0.1:0`, with a MySQL
//! database, a ZooKeeper chroot and an S3 key prefix of its own, and a stub leader manager
//! registered where the API looks the leader up.
#![allow(dead_code)]

mod stub;

pub use stub::{Reply, StubManager};

use distcron_api::{Api, Settings};
use distcron_blob::{BlobStore, S3Settings};
use distcron_core::payload::{self, LeaderInfo};
use distcron_core::{Job, JobId, JobSpec, Schedule, UidRange, UserName, layout};
use distcron_store::{CreateOutcome, MysqlSettings, Store, hash_token};
use distcron_zk::ZkSettings;
use distcron_zk::zk::{self, CreateMode};
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::Value;
use std::time::Duration;
use tokio::sync::oneshot;

/// The shared test bucket (scripts/test-services.sh creates it); tests keep apart by prefix.
const TEST_BUCKET: &str = "distcron-test";

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: start the test services and `eval \"$(scripts/test-services.sh env)\"`")
    })
}

fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}

/// An answer: its status, and its body as JSON (`Null` if it is not JSON).
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    /// Asserts a refusal in the public API's shape: status, `code`, and a message containing
    /// `needle`.
    pub fn assert_refused(&self, status: StatusCode, code: &str, needle: &str) {
        assert_eq!(self.status, status, "answer: {}", self.body);
        assert_eq!(self.body["code"], code, "answer: {}", self.body);
        let message = self.body["error"].as_str().unwrap_or_default();
        assert!(
            message.contains(needle),
            "`{message}` should contain `{needle}`"
        );
    }
}

pub struct TestApi {
    pub url: String,
    pub store: Store,
    /// The test's S3 prefix, with the API's own S3 identity.
    pub blobs: BlobStore,
    /// The test's S3 key prefix.
    pub prefix: String,
    pub admin_token: String,
    http: reqwest::Client,
    zk: zk::Client,
    database: Database,
    _shutdown: oneshot::Sender<()>,
}

impl TestApi {
    pub async fn start() -> TestApi {
        Self::start_with(|_| {}).await
    }

    /// Starts one with settings `adjust` changed.
    pub async fn start_with(adjust: impl FnOnce(&mut Settings)) -> TestApi {
        let id = unique();
        let database = Database::create(&format!("dcapi_{id}")).await;
        let store = Store::connect_lazy(&database.settings).expect("pool");
        store.migrate().await.expect("migrate");
        let admin_token = format!("dct_admin_{id}");
        store
            .ensure_bootstrap_admin(
                &UserName::parse("admin").expect("name"),
                &hash_token(&admin_token),
                UidRange::DEFAULT,
            )
            .await
            .expect("admin");

        let zookeeper = ZkSettings {
            servers: var("DC_TEST_ZK"),
            chroot: format!("/dcapi-{id}"),
            digest: Some(SecretString::from(format!("distcron:{id}"))),
            session_timeout_ms: 4000,
            ..ZkSettings::default()
        };
        let zk = distcron_zk::connect(&zookeeper).await.expect("ZooKeeper");
        let prefix = format!("dcapi-{id}/");
        let s3 = s3_settings(&prefix);
        let blobs = BlobStore::new(&s3).await;

        let mut settings = Settings {
            listen: "127.0.0.1:0".into(),
            zookeeper,
            mysql: database.settings.clone(),
            s3,
            internal_token: SecretString::from(format!("internal-{id}-secret")),
            max_upload_bytes: 4096,
            leader_wait_ms: 3000,
            ..Settings::default()
        };
        adjust(&mut settings);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let api = Api::build(settings, listener).await.expect("build");
        let url = format!("http://{}", api.local_addr());
        let (shutdown, stop) = oneshot::channel::<()>();
        tokio::spawn(api.run(
            async move {
                let _ = stop.await;
            },
            Duration::from_secs(1),
        ));
        TestApi {
            url,
            store,
            blobs,
            prefix,
            admin_token,
            http: reqwest::Client::new(),
            zk,
            database,
            _shutdown: shutdown,
        }
    }

    /// Makes `url` the leader manager: the lowest (the only) election znode names it.
    pub async fn register_leader(&self, url: &str) {
        let info = LeaderInfo {
            manager_id: "stub".into(),
            internal_url: url.into(),
        };
        self.zk
            .create(
                &format!(
                    "{}/_c_{}-{}",
                    layout::ELECTION,
                    unique(),
                    layout::ELECTION_NAME
                ),
                &payload::encode(&info),
                &CreateMode::EphemeralSequential.with_acls(distcron_zk::acls()),
            )
            .await
            .expect("election znode");
    }

    /// A stub leader, answering `reply`, registered as the leader.
    pub async fn stub_leader(&self, reply: Reply) -> StubManager {
        let stub = StubManager::start(reply).await;
        self.register_leader(&stub.url).await;
        stub
    }

    /// A new enabled user; its token.
    pub async fn user(&self, name: &str, admin: bool) -> String {
        let token = format!("dct_{name}_{}", unique());
        let name = UserName::parse(name).expect("name");
        self.store
            .create_user(&name, admin, &hash_token(&token), &name, UidRange::DEFAULT)
            .await
            .expect("user");
        token
    }

    /// An hourly job of `owner` in MySQL, as the leader would have stored it.
    pub async fn insert_job(&self, owner: &str) -> JobId {
        let spec: JobSpec = serde_json::from_value(serde_json::json!({
            "name": null, "type": "command", "executable": "true", "sha256": null,
            "schedule": "@hourly", "timezone": "UTC", "timeout_seconds": null,
            "privileged": false, "run_as": null
        }))
        .expect("spec");
        assert_eq!(spec.schedule, Schedule::parse("@hourly").expect("schedule"));
        let owner = UserName::parse(owner).expect("name");
        let job = Job::new(JobId::new(), owner.clone(), spec, chrono::Utc::now());
        match self
            .store
            .begin_create_job(&job, &owner, None)
            .await
            .expect("insert")
        {
            CreateOutcome::Inserted(tx) => tx.commit().await.expect("commit"),
            CreateOutcome::Exists(_) => panic!("a fresh id exists"),
        }
        job.id
    }

    /// `method path` with `token` (none: no Authorization header) and a JSON `body`.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Answer {
        let mut req = self.http.request(method, format!("{}{path}", self.url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let response = req.send().await.expect("the API answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body");
        Answer {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Answer {
        self.request(Method::POST, path, Some(token), Some(body))
            .await
    }

    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.request(Method::GET, path, Some(token), None).await
    }
}

/// The test S3 with the API's identity (`api.keys` under `DC_TEST_S3_KEYS`).
fn s3_settings(prefix: &str) -> S3Settings {
    let keys = std::path::Path::new(&var("DC_TEST_S3_KEYS")).join("api.keys");
    let text = std::fs::read_to_string(&keys).expect("the API's S3 keys");
    let (access, secret) = text.trim().split_once(' ').expect("ACCESS_KEY SECRET");
    S3Settings {
        endpoint: Some(var("DC_TEST_S3")),
        bucket: TEST_BUCKET.into(),
        prefix: prefix.into(),
        access_key_id: Some(access.to_string().into()),
        secret_access_key: Some(secret.to_string().into()),
        ..S3Settings::default()
    }
}

/// A database of the test's own on the test MySQL, dropped with it.
struct Database {
    settings: MysqlSettings,
    server: String,
    name: String,
}

impl Database {
    async fn create(name: &str) -> Database {
        let server = var("DC_TEST_MYSQL").trim_end_matches('/').to_string();
        let settings = MysqlSettings {
            url: SecretString::from(format!("{server}/{name}")),
            ..MysqlSettings::default()
        };
        Store::create_database_if_missing(&settings)
            .await
            .expect("create database");
        Database {
            settings,
            server,
            name: name.into(),
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let url = format!("{}/mysql", self.server);
        let name = self.name.clone();
        // Drop runs inside the test's runtime, which cannot be blocked on: use a thread.
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
