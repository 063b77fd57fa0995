//! docker-compose.yml describes the same cluster as `make up` (scripts/cluster.sh): the same
//! services, the same ports and the same HAProxy configuration. The local cluster's ports are
//! read from scripts/defaults.sh, so changing a port in one place and not the other fails here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_yaml_ng::Value;

const LOCAL_CLUSTER_SERVICES: [&str; 11] = [
    "zookeeper",
    "mysql",
    "s3",
    "haproxy",
    "api-1",
    "api-2",
    "manager-1",
    "manager-2",
    "worker-1",
    "worker-2",
    "worker-3",
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the e2e crate is inside the workspace")
        .to_path_buf()
}

fn read(relative: &str) -> String {
    let path = repo_root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// docker-compose.yml, with its `<<` merge keys applied (as Docker Compose does).
fn compose() -> Value {
    let mut value: Value = serde_yaml_ng::from_str(&read("docker-compose.yml"))
        .expect("docker-compose.yml is valid YAML");
    value
        .apply_merge()
        .expect("the merge keys of docker-compose.yml resolve");
    value
}

/// The local cluster's settings: the `: "${NAME:=value}"` lines of scripts/defaults.sh.
fn local_defaults() -> BTreeMap<String, String> {
    read("scripts/defaults.sh")
        .lines()
        .filter_map(|line| {
            let inner = line.trim().strip_prefix(": \"${")?.strip_suffix("}\"")?;
            let (name, value) = inner.split_once(":=")?;
            Some((name.to_owned(), value.to_owned()))
        })
        .collect()
}

fn local(name: &str) -> String {
    local_defaults()
        .remove(name)
        .unwrap_or_else(|| panic!("scripts/defaults.sh sets no {name}"))
}

/// The port of `host:port`.
fn port_of(address: &str) -> &str {
    address
        .rsplit_once(':')
        .map(|(_, port)| port)
        .unwrap_or_else(|| panic!("`{address}` is not host:port"))
}

fn service<'a>(compose: &'a Value, name: &str) -> &'a Value {
    compose["services"]
        .get(name)
        .unwrap_or_else(|| panic!("docker-compose.yml has no service {name}"))
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A variable of a service's `environment`, in its mapping or its `NAME=value` list form.
fn env(compose: &Value, service_name: &str, variable: &str) -> Option<String> {
    match &service(compose, service_name)["environment"] {
        Value::Mapping(map) => map.get(variable).and_then(scalar),
        Value::Sequence(items) => items.iter().filter_map(scalar).find_map(|item| {
            item.split_once('=')
                .filter(|(name, _)| *name == variable)
                .map(|(_, value)| value.to_owned())
        }),
        _ => None,
    }
}

fn required_env(compose: &Value, service_name: &str, variable: &str) -> String {
    env(compose, service_name, variable)
        .unwrap_or_else(|| panic!("service {service_name} does not set {variable}"))
}

/// A service's `command`, as one string.
fn command(compose: &Value, service_name: &str) -> String {
    match &service(compose, service_name)["command"] {
        Value::Sequence(items) => items
            .iter()
            .filter_map(scalar)
            .collect::<Vec<_>>()
            .join(" "),
        other => scalar(other).unwrap_or_default(),
    }
}

/// The (published, container) ports of a service's `ports`, short or long syntax.
fn published_ports(compose: &Value, service_name: &str) -> Vec<(String, String)> {
    let Value::Sequence(items) = &service(compose, service_name)["ports"] else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| match item {
            Value::Mapping(map) => Some((
                map.get("published").and_then(scalar)?,
                map.get("target").and_then(scalar)?,
            )),
            other => {
                let text = scalar(other)?;
                let text = text.split('/').next().unwrap_or_default();
                let mut parts = text.rsplit(':');
                let container = parts.next()?.to_owned();
                let published = parts.next().unwrap_or(&container).to_owned();
                Some((published, container))
            }
        })
        .collect()
}

/// The (source, target) pairs of a service's `volumes`, short or long syntax.
fn volumes(compose: &Value, service_name: &str) -> Vec<(String, String)> {
    let Value::Sequence(items) = &service(compose, service_name)["volumes"] else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| match item {
            Value::Mapping(map) => Some((
                map.get("source").and_then(scalar)?,
                map.get("target").and_then(scalar)?,
            )),
            other => {
                let text = scalar(other)?;
                let mut parts = text.split(':');
                Some((parts.next()?.to_owned(), parts.next()?.to_owned()))
            }
        })
        .collect()
}

fn distcron_services() -> impl Iterator<Item = &'static str> {
    LOCAL_CLUSTER_SERVICES.into_iter().filter(|name| {
        name.starts_with("api-") || name.starts_with("manager-") || name.starts_with("worker-")
    })
}

#[test]
fn every_service_of_the_local_cluster_is_in_the_compose_file() {
    let compose = compose();
    let services = compose["services"]
        .as_mapping()
        .expect("docker-compose.yml has a services mapping");
    let missing: Vec<_> = LOCAL_CLUSTER_SERVICES
        .into_iter()
        .filter(|name| !services.contains_key(*name))
        .collect();
    assert!(
        missing.is_empty(),
        "docker-compose.yml lacks the services {missing:?}"
    );
}

#[test]
fn the_local_cluster_uses_the_documented_ports() {
    assert_eq!(port_of(&local("DISTCRON_HAPROXY_BIND")), "30000");
    assert_eq!(port_of(&local("DISTCRON_HAPROXY_TLS_BIND")), "30443");
    assert_eq!(local("DISTCRON_ZK_PORT"), "2181");
    assert_eq!(local("DISTCRON_S3_PORT"), "28333");
    assert_eq!(port_of(&local("DISTCRON_API_1")), "30001");
    assert_eq!(port_of(&local("DISTCRON_API_2")), "30002");
    assert_eq!(port_of(&local("DISTCRON_MANAGER_1")), "30101");
    assert_eq!(port_of(&local("DISTCRON_MANAGER_2")), "30102");
    assert_eq!(port_of(&local("DISTCRON_WORKER_1")), "30201");
    assert_eq!(port_of(&local("DISTCRON_WORKER_2")), "30202");
    assert_eq!(port_of(&local("DISTCRON_WORKER_3")), "30203");
}

#[test]
fn haproxy_is_published_on_the_same_port_as_in_the_local_cluster() {
    let compose = compose();
    let port = port_of(&local("DISTCRON_HAPROXY_BIND")).to_owned();
    let bind = required_env(&compose, "haproxy", "DISTCRON_HAPROXY_BIND");
    assert_eq!(
        port_of(&bind),
        port,
        "HAProxy binds {bind} in docker-compose.yml"
    );
    let published = published_ports(&compose, "haproxy");
    assert!(
        published.contains(&(port.clone(), port.clone())),
        "the haproxy service publishes {published:?}, not {port}:{port}"
    );
}

#[test]
fn haproxy_serves_https_on_the_same_port_as_in_the_local_cluster_with_a_certificate() {
    let compose = compose();
    let port = port_of(&local("DISTCRON_HAPROXY_TLS_BIND")).to_owned();
    let bind = required_env(&compose, "haproxy", "DISTCRON_HAPROXY_TLS_BIND");
    assert_eq!(port_of(&bind), port, "HAProxy binds HTTPS on {bind}");
    let published = published_ports(&compose, "haproxy");
    assert!(
        published.contains(&(port.clone(), port.clone())),
        "the haproxy service publishes {published:?}, not {port}:{port}"
    );
    // The certificate is made by the one-shot migrate service, in a volume HAProxy mounts.
    let cert = required_env(&compose, "haproxy", "DISTCRON_HAPROXY_TLS_CERT");
    let mounts = volumes(&compose, "haproxy");
    assert!(
        mounts
            .iter()
            .any(|(source, target)| source == "haproxy-secret" && cert.starts_with(target.as_str())),
        "the haproxy service reads {cert}, outside its mounts {mounts:?}"
    );
    assert!(
        command(&compose, "migrate").contains("haproxy.pem"),
        "the migrate service does not make HAProxy's certificate"
    );
    assert_eq!(
        service(&compose, "haproxy")["depends_on"]["migrate"]["condition"].as_str(),
        Some("service_completed_successfully"),
        "HAProxy does not wait for its certificate"
    );
}

#[test]
fn haproxy_sends_requests_to_the_api_servers_on_their_local_cluster_ports() {
    let compose = compose();
    for (variable, api) in [("DISTCRON_API_1", "api-1"), ("DISTCRON_API_2", "api-2")] {
        let expected = format!("{api}:{}", port_of(&local(variable)));
        assert_eq!(required_env(&compose, "haproxy", variable), expected);
    }
}

#[test]
fn haproxy_mounts_the_config_of_the_local_cluster() {
    let compose = compose();
    let mounts = volumes(&compose, "haproxy");
    assert!(
        mounts.iter().any(|(source, target)| {
            source.trim_start_matches("./") == "haproxy/haproxy.cfg"
                && target == "/usr/local/etc/haproxy/haproxy.cfg"
        }),
        "the haproxy service mounts {mounts:?}, not ./haproxy/haproxy.cfg as /usr/local/etc/haproxy/haproxy.cfg"
    );
}

#[test]
fn haproxy_config_reads_every_address_the_compose_file_sets() {
    let compose = compose();
    let config = read("haproxy/haproxy.cfg");
    let Value::Mapping(environment) = &service(&compose, "haproxy")["environment"] else {
        panic!("the haproxy service has no environment mapping");
    };
    for variable in environment.keys().filter_map(scalar) {
        assert!(
            config.contains(&format!("\"${{{variable}")),
            "haproxy/haproxy.cfg never reads {variable}"
        );
    }
}

#[test]
fn api_servers_listen_on_the_same_ports_as_in_the_local_cluster() {
    let compose = compose();
    for (variable, api) in [("DISTCRON_API_1", "api-1"), ("DISTCRON_API_2", "api-2")] {
        let listen = required_env(&compose, api, "DISTCRON_LISTEN");
        assert_eq!(
            port_of(&listen),
            port_of(&local(variable)),
            "{api} listens on {listen}"
        );
    }
}

#[test]
fn managers_listen_on_the_same_ports_as_in_the_local_cluster() {
    let compose = compose();
    for (variable, manager) in [
        ("DISTCRON_MANAGER_1", "manager-1"),
        ("DISTCRON_MANAGER_2", "manager-2"),
    ] {
        let listen = required_env(&compose, manager, "DISTCRON_LISTEN");
        assert_eq!(
            port_of(&listen),
            port_of(&local(variable)),
            "{manager} listens on {listen}"
        );
        assert_eq!(
            required_env(&compose, manager, "DISTCRON_MANAGER_ID"),
            manager
        );
    }
}

#[test]
fn workers_listen_on_the_same_ports_as_in_the_local_cluster() {
    let compose = compose();
    for (variable, worker) in [
        ("DISTCRON_WORKER_1", "worker-1"),
        ("DISTCRON_WORKER_2", "worker-2"),
        ("DISTCRON_WORKER_3", "worker-3"),
    ] {
        let listen = required_env(&compose, worker, "DISTCRON_LISTEN");
        assert_eq!(
            port_of(&listen),
            port_of(&local(variable)),
            "{worker} listens on {listen}"
        );
        assert_eq!(required_env(&compose, worker, "DISTCRON_WORKER_ID"), worker);
    }
}

#[test]
fn s3_serves_on_the_same_port_as_in_the_local_cluster() {
    let compose = compose();
    let port = local("DISTCRON_S3_PORT");
    let s3_command = command(&compose, "s3");
    assert!(
        s3_command
            .split_whitespace()
            .any(|arg| arg == format!("-s3.port={port}")),
        "the s3 service runs `{s3_command}`, without -s3.port={port}"
    );
    for name in distcron_services().filter(|name| !name.starts_with("manager-")) {
        assert_eq!(
            required_env(&compose, name, "DISTCRON_S3__ENDPOINT"),
            format!("http://s3:{port}"),
            "{name} reaches S3 elsewhere"
        );
    }
}

#[test]
fn zookeeper_is_reached_on_the_same_port_as_in_the_local_cluster() {
    let compose = compose();
    let port = local("DISTCRON_ZK_PORT");
    // The zookeeper image listens on ZOO_PORT, 2181 unless set.
    let zookeeper_port =
        env(&compose, "zookeeper", "ZOO_PORT").unwrap_or_else(|| "2181".to_owned());
    assert_eq!(zookeeper_port, port);
    for name in distcron_services() {
        assert_eq!(
            required_env(&compose, name, "DISTCRON_ZOOKEEPER__SERVERS"),
            format!("zookeeper:{port}"),
            "{name} reaches ZooKeeper elsewhere"
        );
    }
}

#[test]
fn every_distcron_process_reaches_the_same_mysql_database() {
    let compose = compose();
    for name in distcron_services().chain(["migrate"]) {
        let url = required_env(&compose, name, "DISTCRON_MYSQL__URL");
        assert_eq!(
            url, "mysql://root@mysql:3306/distcron",
            "{name} uses another database"
        );
    }
}

#[test]
fn managers_start_after_the_one_shot_migration_succeeded() {
    let compose = compose();
    assert_eq!(
        service(&compose, "migrate")["restart"].as_str(),
        Some("no"),
        "migrate runs once"
    );
    assert!(
        command(&compose, "migrate").contains("distcron-manager migrate"),
        "the migrate service runs `{}`",
        command(&compose, "migrate")
    );
    for manager in ["manager-1", "manager-2"] {
        assert_eq!(
            service(&compose, manager)["depends_on"]["migrate"]["condition"].as_str(),
            Some("service_completed_successfully"),
            "{manager} does not wait for the migration"
        );
    }
}
