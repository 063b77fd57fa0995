//! ZooKeeper access for tests: a session inside a cluster's chroot, and a private ZooKeeper
//! server for tests that stop and restart it.

use crate::process::{Proc, Spec};
use std::time::Duration;
use zookeeper_client::{Acls, Client, CreateMode};

/// A session rooted at `chroot` (created if missing), authenticated with `digest`
/// (`user:password`) if given: a cluster's znodes are open to its digest identity alone.
pub async fn connect(
    servers: &str,
    chroot: &str,
    digest: Option<&str>,
    session_timeout: Duration,
) -> Client {
    let mut connector = Client::connector().with_session_timeout(session_timeout);
    if let Some(d) = digest {
        connector = connector.with_auth("digest", d.as_bytes());
    }
    let client = connector
        .connect(servers)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to ZooKeeper at {servers}: {e}"));
    let acls = if digest.is_some() {
        Acls::creator_all()
    } else {
        Acls::anyone_all()
    };
    client
        .mkdir(chroot, &CreateMode::Persistent.with_acls(acls))
        .await
        .expect("create chroot");
    client
        .chroot(chroot.to_string())
        .unwrap_or_else(|_| panic!("bad chroot {chroot}"))
}

/// Children of `path`, or empty if it does not exist.
pub async fn children(client: &Client, path: &str) -> Vec<String> {
    match client.list_children(path).await {
        Ok(c) => c,
        Err(zookeeper_client::Error::NoNode) => Vec::new(),
        Err(e) => panic!("listing {path}: {e}"),
    }
}

/// A ZooKeeper server of the test's own, for outages: `stop` and `start` it at will.
pub struct PrivateZk {
    pub port: u16,
    proc: Proc,
}

impl PrivateZk {
    pub async fn start(name: &str) -> PrivateZk {
        let infra = crate::infra();
        let dir = infra.log_dir.join(name).join("zookeeper");
        std::fs::create_dir_all(&dir).expect("zk dir");
        let port = crate::free_port();
        let spec = Spec::launch(
            "zookeeper",
            vec![port.to_string(), dir.display().to_string()],
            vec![("DC_ZK_HOME".into(), infra.zk_home.display().to_string())],
            dir.join("zookeeper.log"),
        );
        let zk = PrivateZk {
            port,
            proc: Proc::spawn(&format!("{name}-zookeeper"), spec),
        };
        zk.wait_ready().await;
        zk
    }

    pub fn servers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    async fn wait_ready(&self) {
        let addr = format!("127.0.0.1:{}", self.port);
        crate::eventually(
            "the private ZooKeeper to answer",
            Duration::from_secs(30),
            || {
                let addr = addr.clone();
                async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    // A server still starting may accept the connection and never answer: a
                    // probe that hangs must not hang the wait.
                    let probe = async {
                        let mut s = tokio::net::TcpStream::connect(&addr).await.ok()?;
                        s.write_all(b"ruok").await.ok()?;
                        let mut buf = String::new();
                        s.read_to_string(&mut buf).await.ok()?;
                        (buf == "imok").then_some(())
                    };
                    tokio::time::timeout(Duration::from_secs(2), probe)
                        .await
                        .ok()
                        .flatten()
                }
            },
        )
        .await;
    }

    /// Kills the server (kill -9): every session is cut at once.
    pub fn stop(&mut self) {
        self.proc.kill();
    }

    /// Starts it again on the same port and data: sessions that have not expired survive.
    pub async fn start_again(&mut self) {
        self.proc.restart();
        self.wait_ready().await;
    }
}
