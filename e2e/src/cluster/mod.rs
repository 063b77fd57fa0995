//! `TestCluster`: a whole distcron cluster as processes (API servers, managers, workers and
//! HAProxy), isolated from every other test by its own database, ZooKeeper chroot, S3 key
//! prefix and ports.

mod boot;
mod control;

use crate::client::ApiClient;
use crate::process::{Proc, Spec};
use crate::{eventually, free_port, infra, unique_name};
use nix::sys::signal::Signal;
use rand::RngCore;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// The shared test bucket; clusters keep apart by key prefix.
pub const TEST_BUCKET: &str = "distcron-test";

#[derive(Clone, Debug)]
pub struct ClusterOptions {
    pub apis: usize,
    pub managers: usize,
    pub workers: usize,
    /// HAProxy in front of the API servers (its config has two servers).
    pub haproxy: bool,
    pub session_timeout_ms: u64,
    /// MySQL server URL (no database) instead of the shared one.
    pub mysql: Option<String>,
    /// ZooKeeper servers instead of the shared one.
    pub zookeeper: Option<String>,
    /// S3 endpoint URL instead of the shared one (with the test bucket, e.g. `PrivateS3`'s).
    pub s3: Option<String>,
    /// Extra `DISTCRON_*` settings for every worker.
    pub worker_env: Vec<(String, String)>,
    /// Extra settings for every API server.
    pub api_env: Vec<(String, String)>,
    /// Extra settings for every manager.
    pub manager_env: Vec<(String, String)>,
    /// Extra environment for HAProxy (`DC_HAPROXY_AUTH_FAILURES`, say).
    pub haproxy_env: Vec<(String, String)>,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            apis: 2,
            managers: 2,
            workers: 3,
            haproxy: true,
            session_timeout_ms: 4000,
            mysql: None,
            zookeeper: None,
            s3: None,
            worker_env: vec![],
            api_env: vec![],
            manager_env: vec![],
            haproxy_env: vec![],
        }
    }
}

pub struct TestCluster {
    pub name: String,
    pub options: ClusterOptions,
    pub mysql_server: String,
    pub database: String,
    pub zk_servers: String,
    pub chroot: String,
    /// `user:password` of the cluster's ZooKeeper identity.
    pub zk_digest: String,
    pub s3_endpoint: String,
    pub s3_prefix: String,
    pub admin_token: String,
    /// The password of HAProxy's stats page (user `stats`).
    pub stats_password: String,
    pub dir: PathBuf,
    pub(crate) procs: BTreeMap<String, Proc>,
    pub(crate) ports: BTreeMap<String, u16>,
    /// HAProxy's HTTPS and stats ports, if it runs.
    pub(crate) haproxy_ports: Option<crate::haproxy::HaproxyPorts>,
    /// Each role's MySQL URL (its own account).
    mysql_urls: BTreeMap<&'static str, String>,
    common_env: Vec<(String, String)>,
    s3_env: Vec<(String, String)>,
    /// The uids this cluster's runs get, apart from every other live cluster's.
    pub run_uids: crate::uids::UidBlock,
}

/// A file only its owner may read.
pub(crate) fn write_secret(path: &std::path::Path, content: &str) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(content.as_bytes()))
        .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

/// The settings giving a role its own S3 identity: API servers read and write the bucket,
/// workers only read it, managers list, read and delete.
fn s3_keys_env(role: &str) -> Vec<(String, String)> {
    let (access, secret) = infra().s3_keys(role);
    vec![
        ("DISTCRON_S3__ACCESS_KEY_ID".into(), access),
        ("DISTCRON_S3__SECRET_ACCESS_KEY".into(), secret),
    ]
}

fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

impl TestCluster {
    /// Starts a cluster with the default shape: 2 API servers behind HAProxy, 2 managers and
    /// 3 workers.
    pub async fn start() -> TestCluster {
        Self::start_with(ClusterOptions::default()).await
    }

    pub async fn start_with(options: ClusterOptions) -> TestCluster {
        let infra = infra();
        let name = unique_name();
        let dir = infra.log_dir.join(&name);
        std::fs::create_dir_all(&dir).expect("cluster dir");
        {
            // Its logs and secrets are root's; runs pass through only to what is theirs.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711))
                .expect("cluster dir permissions");
        }
        let mysql_server = options.mysql.clone().unwrap_or_else(|| infra.mysql.clone());
        let zk_servers = options
            .zookeeper
            .clone()
            .unwrap_or_else(|| infra.zk.clone());
        let s3_endpoint = options.s3.clone().unwrap_or_else(|| infra.s3.clone());
        let database = format!("dct_{name}");
        let chroot = format!("/dct-{name}");
        let s3_prefix = format!("{name}/");
        let admin_token = format!("dct_{}", random_hex(32));
        let token_file = dir.join("admin.token");
        write_secret(&token_file, &admin_token);
        let zk_digest = format!("distcron:{}", random_hex(16));
        let common_env = vec![
            ("DISTCRON_ZOOKEEPER__SERVERS".into(), zk_servers.clone()),
            ("DISTCRON_ZOOKEEPER__CHROOT".into(), chroot.clone()),
            ("DISTCRON_ZOOKEEPER__DIGEST".into(), zk_digest.clone()),
            (
                "DISTCRON_ZOOKEEPER__SESSION_TIMEOUT_MS".into(),
                options.session_timeout_ms.to_string(),
            ),
            (
                "RUST_LOG".into(),
                "info,distcron_worker=debug,distcron_manager=debug".into(),
            ),
        ];
        let internal_token = ("DISTCRON_INTERNAL_TOKEN".to_string(), random_hex(24));
        let s3_env = vec![
            ("DISTCRON_S3__ENDPOINT".to_string(), s3_endpoint.clone()),
            ("DISTCRON_S3__BUCKET".to_string(), TEST_BUCKET.to_string()),
            ("DISTCRON_S3__PREFIX".to_string(), s3_prefix.clone()),
        ];
        let mut cluster = TestCluster {
            name,
            options: options.clone(),
            mysql_server,
            database,
            zk_servers,
            chroot,
            zk_digest,
            s3_endpoint,
            s3_prefix,
            admin_token,
            stats_password: random_hex(16),
            dir,
            procs: BTreeMap::new(),
            ports: BTreeMap::new(),
            haproxy_ports: None,
            mysql_urls: BTreeMap::new(),
            common_env,
            s3_env: s3_env.clone(),
            run_uids: crate::uids::UidBlock::take(),
        };

        cluster.prepare_database().await;
        cluster.add_managers_and_apis(&token_file, &internal_token);
        for i in 1..=options.workers {
            cluster.add_worker(i);
        }
        if options.haproxy {
            cluster.start_haproxy();
        }
        cluster.wait_ready().await;
        cluster
    }

    fn spawn_bin(
        &self,
        name: &str,
        bin: &str,
        args: Vec<String>,
        env: Vec<(String, String)>,
    ) -> Proc {
        let mut all = self.common_env.clone();
        all.extend(env);
        Proc::spawn(
            &format!("{}-{name}", self.name),
            Spec {
                program: infra().bin_dir.join(bin),
                args,
                env: all,
                log: self.dir.join(format!("{name}.log")),
            },
        )
    }

    fn run_uids_env(&self) -> (String, String) {
        ("DISTCRON_RUN_UIDS".into(), self.run_uids.range.to_string())
    }

    fn add(&mut self, bin: &str, name: &str, port: u16, mut env: Vec<(String, String)>) {
        // Each role logs in to MySQL with its own account.
        let role = bin.trim_start_matches("distcron-");
        env.insert(
            0,
            ("DISTCRON_MYSQL__URL".into(), self.mysql_urls[role].clone()),
        );
        if bin != "distcron-api" {
            // Managers and workers: the run lease follows the session timeout, as in production.
            env.insert(
                0,
                (
                    "DISTCRON_RUN_LEASE_MS".into(),
                    self.options.session_timeout_ms.to_string(),
                ),
            );
        }
        let proc = self.spawn_bin(name, bin, vec![], env);
        self.procs.insert(name.to_string(), proc);
        self.ports.insert(name.to_string(), port);
    }

    /// Starts worker number `i` (`worker-<i>`).
    pub fn add_worker(&mut self, i: usize) {
        self.add_worker_with(i, vec![]);
    }

    /// Starts worker number `i` with extra environment for it alone (after the cluster's, so
    /// it wins), e.g. `LD_PRELOAD` of a fault injector.
    pub fn add_worker_with(&mut self, i: usize, extra_env: Vec<(String, String)>) {
        let name = format!("worker-{i}");
        let port = free_port();
        let work_dir = self.dir.join(&name);
        let mut env = vec![
            ("DISTCRON_LISTEN".into(), format!("127.0.0.1:{port}")),
            ("DISTCRON_WORKER_ID".into(), name.clone()),
            ("DISTCRON_WORK_DIR".into(), work_dir.display().to_string()),
            self.run_uids_env(),
        ];
        env.extend(self.s3_env.iter().cloned());
        env.extend(s3_keys_env("worker"));
        env.extend(self.options.worker_env.iter().cloned());
        env.extend(extra_env);
        self.add("distcron-worker", &name, port, env);
    }

    pub fn port(&self, name: &str) -> u16 {
        *self
            .ports
            .get(name)
            .unwrap_or_else(|| panic!("no process {name}"))
    }

    pub fn url_of(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}", self.port(name))
    }

    /// The public URL: HAProxy's if it runs, else the first API server's.
    pub fn url(&self) -> String {
        if self.ports.contains_key("haproxy") {
            self.url_of("haproxy")
        } else {
            self.url_of("api-1")
        }
    }

    pub fn admin(&self) -> ApiClient {
        ApiClient::new(self.url(), Some(self.admin_token.clone()))
    }

    pub fn anonymous(&self) -> ApiClient {
        ApiClient::new(self.url(), None)
    }

    /// Creates a user through the API and returns a client holding its token.
    pub async fn user(&self, name: &str, admin: bool) -> ApiClient {
        let a = self
            .admin()
            .post(
                "/users",
                &serde_json::json!({ "name": name, "admin": admin }),
            )
            .await;
        assert_eq!(
            a.status,
            reqwest::StatusCode::CREATED,
            "creating user {name}: {}",
            a.body
        );
        let token = a.body["token"].as_str().expect("token").to_string();
        ApiClient::new(self.url(), Some(token))
    }

    /// Waits until `/healthz` of the named process answers 200.
    pub async fn wait_healthy(&mut self, name: &str) {
        let url = format!("{}/healthz", self.url_of(name));
        let http = reqwest::Client::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = http.get(&url).timeout(Duration::from_secs(1)).send().await
                && r.status().is_success()
            {
                return;
            }
            let proc = self.procs.get_mut(name).expect("process");
            if !proc.is_running() {
                panic!("{name} exited during start:\n{}", proc.log_tail(30));
            }
            if std::time::Instant::now() > deadline {
                panic!("{name} did not become healthy:\n{}", proc.log_tail(30));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The name of the manager that leads, waiting for one to be elected.
    pub async fn leader(&self) -> String {
        self.wait_leader(Duration::from_secs(30)).await
    }

    pub async fn wait_leader(&self, timeout: Duration) -> String {
        let managers: Vec<(String, String)> = self
            .ports
            .keys()
            .filter(|n| n.starts_with("manager-"))
            .map(|n| (n.clone(), format!("{}/healthz", self.url_of(n))))
            .collect();
        let http = reqwest::Client::new();
        eventually("a leader manager", timeout, || {
            let managers = managers.clone();
            let http = http.clone();
            async move {
                for (name, url) in managers {
                    let Ok(r) = http
                        .get(&url)
                        .timeout(Duration::from_millis(500))
                        .send()
                        .await
                    else {
                        continue;
                    };
                    let Ok(v) = r.json::<serde_json::Value>().await else {
                        continue;
                    };
                    if v["leader"] == true {
                        return Some(name);
                    }
                }
                None
            }
        })
        .await
    }

    /// Waits for a leader other than `old` (which was killed or paused).
    pub async fn wait_leader_other_than(&self, old: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let leader = self.wait_leader(Duration::from_secs(60)).await;
            if leader != old {
                return leader;
            }
            assert!(std::time::Instant::now() < deadline, "{old} still leads");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
