//! Reading docker-compose.yml and scripts/defaults.sh.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_yaml_ng::Value;

pub const LOCAL_CLUSTER_SERVICES: [&str; 11] = [
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

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the e2e crate is inside the workspace")
        .to_path_buf()
}

pub fn read(relative: &str) -> String {
    let path = repo_root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// docker-compose.yml, with its `<<` merge keys applied (as Docker Compose does).
pub fn compose() -> Value {
    let mut value: Value = serde_yaml_ng::from_str(&read("docker-compose.yml"))
        .expect("docker-compose.yml is valid YAML");
    value
        .apply_merge()
        .expect("the merge keys of docker-compose.yml resolve");
    value
}

/// The local cluster's settings: the `: "${NAME:=value}"` lines of scripts/defaults.sh.
pub fn local_defaults() -> BTreeMap<String, String> {
    read("scripts/defaults.sh")
        .lines()
        .filter_map(|line| {
            let inner = line.trim().strip_prefix(": \"${")?.strip_suffix("}\"")?;
            let (name, value) = inner.split_once(":=")?;
            Some((name.to_owned(), value.to_owned()))
        })
        .collect()
}

pub fn local(name: &str) -> String {
    local_defaults()
        .remove(name)
        .unwrap_or_else(|| panic!("scripts/defaults.sh sets no {name}"))
}

/// The port of `host:port`.
pub fn port_of(address: &str) -> &str {
    address
        .rsplit_once(':')
        .map(|(_, port)| port)
        .unwrap_or_else(|| panic!("`{address}` is not host:port"))
}

pub fn service<'a>(compose: &'a Value, name: &str) -> &'a Value {
    compose["services"]
        .get(name)
        .unwrap_or_else(|| panic!("docker-compose.yml has no service {name}"))
}

pub fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A variable of a service's `environment`, in its mapping or its `NAME=value` list form.
pub fn env(compose: &Value, service_name: &str, variable: &str) -> Option<String> {
    environment(compose, service_name)
        .into_iter()
        .find_map(|(name, value)| (name == variable).then_some(value))
}

pub fn required_env(compose: &Value, service_name: &str, variable: &str) -> String {
    env(compose, service_name, variable)
        .unwrap_or_else(|| panic!("service {service_name} does not set {variable}"))
}

/// A service's `command`, as one string.
pub fn command(compose: &Value, service_name: &str) -> String {
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
pub fn published_ports(compose: &Value, service_name: &str) -> Vec<(String, String)> {
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

/// One entry of a service's `volumes`.
#[derive(Debug)]
pub struct Mount {
    pub source: String,
    pub target: String,
    pub read_only: bool,
}

/// A service's `volumes`, short (`source:target[:ro]`) or long syntax.
pub fn mounts(compose: &Value, service_name: &str) -> Vec<Mount> {
    let Value::Sequence(items) = &service(compose, service_name)["volumes"] else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| match item {
            Value::Mapping(map) => Some(Mount {
                source: map.get("source").and_then(scalar)?,
                target: map.get("target").and_then(scalar)?,
                read_only: map.get("read_only").and_then(Value::as_bool) == Some(true),
            }),
            other => {
                let text = scalar(other)?;
                let mut parts = text.split(':');
                Some(Mount {
                    source: parts.next()?.to_owned(),
                    target: parts.next()?.to_owned(),
                    read_only: parts
                        .next()
                        .is_some_and(|mode| mode.split(',').any(|m| m == "ro")),
                })
            }
        })
        .collect()
}

/// The (source, target) pairs of a service's `volumes`.
pub fn volumes(compose: &Value, service_name: &str) -> Vec<(String, String)> {
    mounts(compose, service_name)
        .into_iter()
        .map(|mount| (mount.source, mount.target))
        .collect()
}

/// Every service of docker-compose.yml.
pub fn all_services(compose: &Value) -> Vec<String> {
    compose["services"]
        .as_mapping()
        .expect("docker-compose.yml has a services mapping")
        .keys()
        .filter_map(scalar)
        .collect()
}

/// The (name, value) pairs of a service's `environment`, mapping or `NAME=value` list.
pub fn environment(compose: &Value, service_name: &str) -> Vec<(String, String)> {
    match &service(compose, service_name)["environment"] {
        Value::Mapping(map) => map
            .iter()
            .filter_map(|(name, value)| Some((scalar(name)?, scalar(value).unwrap_or_default())))
            .collect(),
        Value::Sequence(items) => items
            .iter()
            .filter_map(scalar)
            .map(|item| match item.split_once('=') {
                Some((name, value)) => (name.to_owned(), value.to_owned()),
                None => (item, String::new()),
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The condition under which `service_name` waits for `dependency`, if it names it.
pub fn depends_condition(compose: &Value, service_name: &str, dependency: &str) -> Option<String> {
    match &service(compose, service_name)["depends_on"] {
        Value::Mapping(map) => map.get(dependency).map(|entry| {
            entry["condition"]
                .as_str()
                .unwrap_or("service_started")
                .to_owned()
        }),
        Value::Sequence(items) => items
            .iter()
            .filter_map(scalar)
            .any(|name| name == dependency)
            .then(|| "service_started".to_owned()),
        _ => None,
    }
}

/// Whether `service_name` starts only after the one-shot `one_shot` has succeeded: it waits for
/// it to complete, or waits (healthy or completed) for a service that does.
pub fn waits_for_success_of(compose: &Value, service_name: &str, one_shot: &str) -> bool {
    fn waits(compose: &Value, service_name: &str, one_shot: &str, depth: usize) -> bool {
        if depends_condition(compose, service_name, one_shot).as_deref()
            == Some("service_completed_successfully")
        {
            return true;
        }
        // Compose refuses dependency cycles; the depth only keeps a broken file from looping.
        depth > 0
            && all_services(compose).iter().any(|other| {
                matches!(
                    depends_condition(compose, service_name, other).as_deref(),
                    Some("service_healthy" | "service_completed_successfully")
                ) && waits(compose, other, one_shot, depth - 1)
            })
    }
    waits(compose, service_name, one_shot, all_services(compose).len())
}

/// The role of a distcron service: api, manager or worker.
pub fn role_of(service_name: &str) -> Option<&'static str> {
    ["api", "manager", "worker"].into_iter().find(|role| {
        service_name
            .strip_prefix(role)
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|n| n.parse::<u32>().is_ok())
    })
}

/// Where each role's settings file is, in the containers of that role.
pub const CONFIG_DIR: &str = "/var/lib/distcron/config";

pub fn distcron_services() -> impl Iterator<Item = &'static str> {
    LOCAL_CLUSTER_SERVICES.into_iter().filter(|name| {
        name.starts_with("api-") || name.starts_with("manager-") || name.starts_with("worker-")
    })
}
