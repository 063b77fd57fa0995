//! A cluster's HAProxy, from `haproxy/haproxy.cfg` as `make up` runs it: plain HTTP, HTTPS with a
//! self-signed certificate made once per test process (CN and SAN `localhost`, SAN IP
//! 127.0.0.1, as `make up` makes its own), and the stats page behind a password of the
//! cluster's own.

use crate::cluster::TestCluster;
use crate::process::{Proc, Spec};
use crate::{free_port, infra};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// Where a test process's certificate is.
#[derive(Debug)]
pub struct Tls {
    /// The certificate alone: what a client trusts (`curl --cacert`).
    pub cert: PathBuf,
    /// The certificate and its private key in one PEM (mode 600): what HAProxy serves.
    pub pem: PathBuf,
}

/// The test process's certificate, made with openssl on first use.
pub fn tls() -> &'static Tls {
    static TLS: OnceLock<Tls> = OnceLock::new();
    TLS.get_or_init(|| {
        let dir = infra().log_dir.join(format!("tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("TLS dir");
        let (cert, key, pem) = (
            dir.join("cert.pem"),
            dir.join("key.pem"),
            dir.join("haproxy.pem"),
        );
        let out = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
            ])
            .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
            .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("openssl (the HTTPS tests need it: apt-get install openssl)");
        assert!(
            out.status.success(),
            "openssl req failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let both = [
            std::fs::read_to_string(&cert).expect("certificate"),
            std::fs::read_to_string(&key).expect("key"),
        ]
        .concat();
        crate::cluster::write_secret(&pem, &both);
        let _ = std::fs::remove_file(&key);
        Tls { cert, pem }
    })
}

/// The ports of a cluster's HAProxy besides plain HTTP's.
#[derive(Clone, Copy, Debug)]
pub struct HaproxyPorts {
    pub tls: u16,
    pub stats: u16,
}

impl TestCluster {
    pub(crate) fn start_haproxy(&mut self) {
        let infra = infra();
        let port = free_port();
        let ports = HaproxyPorts {
            tls: free_port(),
            stats: free_port(),
        };
        let api = |i: usize| {
            self.ports
                .get(&format!("api-{i}"))
                .map(|p| format!("127.0.0.1:{p}"))
                // A closed port: the server is simply down in HAProxy's eyes.
                .unwrap_or_else(|| format!("127.0.0.1:{}", free_port()))
        };
        let mut env = vec![
            ("DC_HAPROXY_BIND".into(), format!("127.0.0.1:{port}")),
            (
                "DC_HAPROXY_TLS_BIND".into(),
                format!("127.0.0.1:{}", ports.tls),
            ),
            (
                "DC_HAPROXY_TLS_CERT".into(),
                tls().pem.display().to_string(),
            ),
            (
                "DC_HAPROXY_STATS_BIND".into(),
                format!("127.0.0.1:{}", ports.stats),
            ),
            (
                "DC_HAPROXY_STATS_PASSWORD".into(),
                self.stats_password.clone(),
            ),
            ("DC_API_1".into(), api(1)),
            ("DC_API_2".into(), api(2)),
        ];
        env.extend(self.options.haproxy_env.iter().cloned());
        let proc = Proc::spawn(
            &format!("{}-haproxy", self.name),
            Spec {
                program: infra.haproxy.clone(),
                args: vec![
                    "-db".into(),
                    "-f".into(),
                    infra.haproxy_cfg.display().to_string(),
                ],
                env,
                log: self.dir.join("haproxy.log"),
            },
        );
        self.procs.insert("haproxy".into(), proc);
        self.ports.insert("haproxy".into(), port);
        self.haproxy_ports = Some(ports);
    }

    fn haproxy_ports(&self) -> HaproxyPorts {
        self.haproxy_ports.expect("the cluster has no HAProxy")
    }

    /// HAProxy's HTTPS address: `https://127.0.0.1:<port>` (the certificate names 127.0.0.1).
    pub fn tls_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.haproxy_ports().tls)
    }

    /// The HAProxy stats page.
    pub fn stats_url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.haproxy_ports().stats)
    }

    /// The log HAProxy writes, one line per request.
    pub fn haproxy_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("haproxy.log")).unwrap_or_default()
    }
}
