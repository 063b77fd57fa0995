//! Where the shared test services are: `make test` (scripts/test.sh) starts them and exports
//! `DC_TEST_*`.

use std::path::PathBuf;
use std::sync::OnceLock;

#[derive(Debug, Clone)]
pub struct Infra {
    /// ZooKeeper `host:port`.
    pub zk: String,
    /// S3 endpoint URL.
    pub s3: String,
    /// Where the S3 identities' keys are (`<who>.keys`: `ACCESS_KEY SECRET`; who: api, worker,
    /// admin), scripts/s3.sh `ensure_s3_secrets`.
    pub s3_keys: PathBuf,
    /// MySQL server URL without a database, e.g. `mysql://root@127.0.0.1:3306`.
    pub mysql: String,
    pub haproxy: PathBuf,
    pub haproxy_cfg: PathBuf,
    /// Where `distcron-api`, `distcron-manager` and `distcron-worker` are.
    pub bin_dir: PathBuf,
    /// ZooKeeper's installation, for tests that run a private server.
    pub zk_home: PathBuf,
    /// Where process logs go.
    pub log_dir: PathBuf,
    /// schemathesis, for the OpenAPI test (`DC_TEST_SCHEMATHESIS`; test-services.sh installs it).
    pub schemathesis: PathBuf,
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set. The end-to-end tests need the services that `make test` starts \
             (ZooKeeper, S3, MySQL, HAProxy) and the built binaries: run them with `make test`"
        )
    })
}

/// The shared services, read once from the environment.
pub fn infra() -> &'static Infra {
    static INFRA: OnceLock<Infra> = OnceLock::new();
    INFRA.get_or_init(|| {
        let bin_dir = PathBuf::from(var("DC_TEST_BIN_DIR"));
        for bin in ["distcron-api", "distcron-manager", "distcron-worker"] {
            assert!(
                bin_dir.join(bin).exists(),
                "{} is missing: build with `cargo build --workspace --bins` (make test does)",
                bin_dir.join(bin).display()
            );
        }
        let log_dir = std::env::var("DC_TEST_LOG_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| std::env::temp_dir().join("distcron-e2e"));
        Infra {
            zk: var("DC_TEST_ZK"),
            s3: var("DC_TEST_S3"),
            s3_keys: PathBuf::from(var("DC_TEST_S3_KEYS")),
            mysql: var("DC_TEST_MYSQL").trim_end_matches('/').to_string(),
            haproxy: PathBuf::from(var("DC_TEST_HAPROXY")),
            haproxy_cfg: PathBuf::from(var("DC_TEST_HAPROXY_CFG")),
            bin_dir,
            zk_home: PathBuf::from(
                std::env::var("DC_TEST_ZK_HOME").unwrap_or_else(|_| "/usr/share/zookeeper".into()),
            ),
            log_dir,
            schemathesis: PathBuf::from(
                std::env::var("DC_TEST_SCHEMATHESIS").unwrap_or_else(|_| "schemathesis".into()),
            ),
        }
    })
}

impl Infra {
    /// The access key and secret of S3 identity `who` (api, worker or admin).
    pub fn s3_keys(&self, who: &str) -> (String, String) {
        let path = self.s3_keys.join(format!("{who}.keys"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let (access, secret) = text
            .trim()
            .split_once(' ')
            .unwrap_or_else(|| panic!("{} is not `ACCESS_KEY SECRET`", path.display()));
        (access.to_string(), secret.to_string())
    }
}
