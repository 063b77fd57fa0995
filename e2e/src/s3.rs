//! A SeaweedFS server of a test's own (master, volume server, filer and S3 gateway in one
//! process, as scripts/lib.sh `start_weed` runs it), for tests that stop S3.

use crate::cluster::TEST_BUCKET;
use crate::process::{Proc, Spec};
use std::path::PathBuf;
use std::time::Duration;

/// The `weed` binary: `DC_TEST_WEED` (scripts/test-services.sh `env` exports it), else
/// the one `make test` installs in its virtualenv.
pub fn weed_binary() -> PathBuf {
    if let Ok(p) = std::env::var("DC_TEST_WEED") {
        return PathBuf::from(p);
    }
    let venv = std::env::var("DC_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.distcron/venv"));
    venv.join("bin/weed")
}

/// A port for a SeaweedFS service whose gRPC port (SeaweedFS's default, the port + 10000) is
/// free too. The port comes from `free_port`, so no other test is given it; its gRPC twin
/// (22000-27999) lies above the range `free_port` hands out and below the kernel's ephemeral
/// range, so no other test or client connection is given that one either. (The scripts'
/// SeaweedFS use the port - 5000 instead; their twins, in 22000-24999, are already bound when
/// tests run, and the bind check here steps around them.)
fn port_with_grpc_twin() -> u16 {
    loop {
        let port = crate::free_port();
        if (12_000..18_000).contains(&port)
            && std::net::TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok()
        {
            return port;
        }
    }
}

/// SeaweedFS's S3 gateway, stopped and started at will. It accepts any credentials.
pub struct PrivateS3 {
    pub port: u16,
    pub master_port: u16,
    pub volume_port: u16,
    pub filer_port: u16,
    proc: Proc,
}

impl PrivateS3 {
    /// Starts it, waits until objects can be stored, and creates the test bucket.
    pub async fn start(name: &str) -> PrivateS3 {
        let infra = crate::infra();
        let dir = infra.log_dir.join(name).join("seaweedfs");
        std::fs::create_dir_all(dir.join("data")).expect("seaweedfs dir");
        let weed = weed_binary();
        assert!(
            weed.exists(),
            "{} is missing: `make test` (scripts/test-services.sh start) installs SeaweedFS; \
             or set DC_TEST_WEED",
            weed.display()
        );
        let [port, master_port, volume_port, filer_port] =
            std::array::from_fn(|_| port_with_grpc_twin());
        remove_sockets(&[port, master_port, volume_port, filer_port]);
        let s3 = PrivateS3 {
            port,
            master_port,
            volume_port,
            filer_port,
            proc: Proc::spawn(
                &format!("{name}-seaweedfs"),
                // scripts/launch.sh, as `make up` runs it but without a namespace or
                // identities (any credentials pass), and SeaweedFS's own gRPC ports.
                Spec::launch(
                    "seaweedfs",
                    std::iter::once(dir.join("data").display().to_string())
                        .chain([port, master_port, volume_port, filer_port].map(|p| p.to_string()))
                        .collect(),
                    vec![("DC_WEED".into(), weed.display().to_string())],
                    dir.join("seaweedfs.log"),
                ),
            ),
        };
        s3.wait_ready().await;
        let blobs = s3.blobs("").await;
        crate::eventually(
            "the private S3 to create the test bucket",
            Duration::from_secs(30),
            || {
                let blobs = blobs.clone();
                async move { blobs.ensure_bucket().await.ok() }
            },
        )
        .await;
        s3
    }

    /// The endpoint URL, for `ClusterOptions::s3`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A client of the test bucket under `prefix`.
    pub async fn blobs(&self, prefix: &str) -> distcron_blob::BlobStore {
        distcron_blob::BlobStore::new(&distcron_blob::S3Settings {
            endpoint: Some(self.endpoint()),
            bucket: TEST_BUCKET.into(),
            prefix: prefix.into(),
            ..Default::default()
        })
        .await
    }

    /// Until the S3 gateway lists buckets and the master and the volume server are up (until
    /// the volume server has registered, objects cannot be read).
    async fn wait_ready(&self) {
        let urls = [
            format!("http://127.0.0.1:{}/", self.port),
            format!("http://127.0.0.1:{}/cluster/healthz", self.master_port),
            format!("http://127.0.0.1:{}/healthz", self.volume_port),
        ];
        let http = reqwest::Client::new();
        crate::eventually(
            "the private SeaweedFS to answer",
            Duration::from_secs(90),
            || {
                let urls = urls.clone();
                let http = http.clone();
                async move {
                    for url in urls {
                        let r = http
                            .get(&url)
                            .timeout(Duration::from_secs(2))
                            .send()
                            .await
                            .ok()?;
                        if !r.status().is_success() {
                            return None;
                        }
                    }
                    Some(())
                }
            },
        )
        .await;
    }

    /// `kill -9` of the server: S3 is gone at once.
    pub fn stop(&mut self) {
        self.proc.kill();
        remove_sockets(&[
            self.port,
            self.master_port,
            self.volume_port,
            self.filer_port,
        ]);
    }

    /// Starts it again on the same ports and data.
    pub async fn start_again(&mut self) {
        self.stop();
        self.proc.restart();
        self.wait_ready().await;
    }
}

/// SeaweedFS leaves unix sockets in /tmp named after its ports (and their gRPC twins).
fn remove_sockets(ports: &[u16]) {
    for p in ports {
        for kind in ["s3", "filer", "master", "volume"] {
            let _ = std::fs::remove_file(format!("/tmp/seaweedfs-{kind}-{p}.sock"));
            let _ = std::fs::remove_file(format!("/tmp/seaweedfs-{kind}-grpc-{}.sock", p + 10_000));
        }
    }
}

impl Drop for PrivateS3 {
    fn drop(&mut self) {
        self.stop();
    }
}
