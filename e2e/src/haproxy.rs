//! A cluster's HAProxy, from `haproxy/haproxy.cfg` as `make up` runs it, with the stats page
//! behind a password of the cluster's own.

use crate::cluster::TestCluster;
use crate::process::{Proc, Spec};
use crate::{free_port, infra};

/// The ports of a cluster's HAProxy besides plain HTTP's.
#[derive(Clone, Copy, Debug)]
pub struct HaproxyPorts {
    pub stats: u16,
}

impl TestCluster {
    pub(crate) fn start_haproxy(&mut self) {
        let infra = infra();
        let port = free_port();
        let ports = HaproxyPorts { stats: free_port() };
        let api = |i: usize| {
            self.ports
                .get(&format!("api-{i}"))
                .map(|p| format!("127.0.0.1:{p}"))
                // A closed port: the server is simply down in HAProxy's eyes.
                .unwrap_or_else(|| format!("127.0.0.1:{}", free_port()))
        };
        let mut env = vec![
            ("DISTCRON_HAPROXY_BIND".into(), format!("127.0.0.1:{port}")),
            (
                "DISTCRON_HAPROXY_STATS_BIND".into(),
                format!("127.0.0.1:{}", ports.stats),
            ),
            (
                "DISTCRON_HAPROXY_STATS_PASSWORD".into(),
                self.stats_password.clone(),
            ),
            ("DISTCRON_API_1".into(), api(1)),
            ("DISTCRON_API_2".into(), api(2)),
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

    /// The HAProxy stats page.
    pub fn stats_url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.haproxy_ports().stats)
    }

    /// The log HAProxy writes, one line per request.
    pub fn haproxy_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("haproxy.log")).unwrap_or_default()
    }
}
