//! A Galera cluster of the test's own: MariaDB nodes on their own ports and data directories,
//! started by scripts/launch.sh as `make up HA=1` starts them (scripts/ha.sh).

use crate::process::{Proc, Spec};
use sqlx::mysql::MySqlPoolOptions;
use std::time::Duration;

pub struct PrivateGalera {
    /// Each node's MySQL port.
    pub ports: Vec<u16>,
    _nodes: Vec<Proc>,
}

/// A free port whose next two are free too (a node's group communication and its state
/// transfers).
fn free_port_triple() -> u16 {
    loop {
        let port = crate::free_port();
        let free = |p: u16| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok();
        if free(port + 1) && free(port + 2) {
            return port;
        }
    }
}

impl PrivateGalera {
    /// `nodes` nodes, the first starting the cluster, the others joining it; returns once
    /// every node is a synced member of the primary component.
    pub async fn start(name: &str, nodes: usize) -> PrivateGalera {
        let infra = crate::infra();
        let ports: Vec<u16> = (0..nodes).map(|_| crate::free_port()).collect();
        let gcomm: Vec<u16> = (0..nodes).map(|_| free_port_triple()).collect();
        let members = gcomm
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",");
        let mut procs = Vec::new();
        for i in 0..nodes {
            let dir = infra.log_dir.join(name).join(format!("galera-{}", i + 1));
            std::fs::create_dir_all(&dir).expect("node dir");
            let mut env = vec![
                ("DC_MARIADB_BUFFER_POOL".to_string(), "32M".to_string()),
                ("DC_GALERA_NODES".into(), members.clone()),
                ("DC_GALERA_NODE".into(), format!("127.0.0.1:{}", gcomm[i])),
            ];
            if i == 0 {
                // The test's own server: root on 127.0.0.1 without a password. The joiners
                // receive the account with the first node's state.
                let init = dir.join("init.sql");
                std::fs::write(
                    &init,
                    "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';\n\
                     GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;\n",
                )
                .expect("init.sql");
                env.push(("DC_MARIADB_INIT_FILE".into(), init.display().to_string()));
                env.push(("DC_GALERA_BOOTSTRAP".into(), "1".into()));
            }
            let spec = Spec::launch(
                "mariadb",
                vec![ports[i].to_string(), dir.display().to_string()],
                env,
                infra
                    .log_dir
                    .join(name)
                    .join(format!("galera-{}.log", i + 1)),
            );
            procs.push(Proc::spawn(&format!("{name}-galera-{}", i + 1), spec));
            // The first node must lead before the others join it.
            if i == 0 {
                synced(ports[0], 1).await;
            }
        }
        for port in &ports {
            synced(*port, nodes).await;
        }
        PrivateGalera {
            ports,
            _nodes: procs,
        }
    }

    /// Node `i`'s URL, without a database.
    pub fn url(&self, i: usize) -> String {
        format!("mysql://root@127.0.0.1:{}", self.ports[i])
    }
}

/// Waits until the node on `port` is synced in a primary component of at least `size` nodes.
async fn synced(port: u16, size: usize) {
    let url = format!("mysql://root@127.0.0.1:{port}/mysql");
    crate::eventually(
        &format!("the Galera node on port {port} to be synced with {size}"),
        Duration::from_secs(120),
        || {
            let url = url.clone();
            async move {
                let pool = MySqlPoolOptions::new()
                    .max_connections(1)
                    .connect(&url)
                    .await
                    .ok()?;
                let rows: Vec<(String, String)> = sqlx::query_as(
                    "SHOW STATUS WHERE Variable_name IN \
                     ('wsrep_local_state_comment', 'wsrep_cluster_status', 'wsrep_cluster_size')",
                )
                .fetch_all(&pool)
                .await
                .ok()?;
                let get = |name: &str| {
                    rows.iter()
                        .find(|(n, _)| n == name)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default()
                };
                let ok = get("wsrep_local_state_comment") == "Synced"
                    && get("wsrep_cluster_status") == "Primary"
                    && get("wsrep_cluster_size").parse::<usize>().unwrap_or(0) >= size;
                ok.then_some(())
            }
        },
    )
    .await;
}
