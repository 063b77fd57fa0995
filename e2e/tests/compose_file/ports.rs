//! The same services and ports as the local cluster, and the same HAProxy configuration.

use serde_yaml_ng::Value;

use crate::support::*;

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
    assert_eq!(port_of(&local("DC_HAPROXY_BIND")), "30000");
    assert_eq!(port_of(&local("DC_HAPROXY_TLS_BIND")), "30443");
    assert_eq!(local("DC_ZK_PORT"), "2181");
    assert_eq!(local("DC_S3_PORT"), "28333");
    assert_eq!(port_of(&local("DC_API_1")), "30001");
    assert_eq!(port_of(&local("DC_API_2")), "30002");
    assert_eq!(port_of(&local("DC_MANAGER_1")), "30101");
    assert_eq!(port_of(&local("DC_MANAGER_2")), "30102");
    assert_eq!(port_of(&local("DC_WORKER_1")), "30201");
    assert_eq!(port_of(&local("DC_WORKER_2")), "30202");
    assert_eq!(port_of(&local("DC_WORKER_3")), "30203");
}

#[test]
fn haproxy_is_published_on_the_same_port_as_in_the_local_cluster() {
    let compose = compose();
    let port = port_of(&local("DC_HAPROXY_BIND")).to_owned();
    let bind = required_env(&compose, "haproxy", "DC_HAPROXY_BIND");
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
    let port = port_of(&local("DC_HAPROXY_TLS_BIND")).to_owned();
    let bind = required_env(&compose, "haproxy", "DC_HAPROXY_TLS_BIND");
    assert_eq!(port_of(&bind), port, "HAProxy binds HTTPS on {bind}");
    let published = published_ports(&compose, "haproxy");
    assert!(
        published.contains(&(port.clone(), port.clone())),
        "the haproxy service publishes {published:?}, not {port}:{port}"
    );
    // The certificate is made by the one-shot secrets service, in a volume HAProxy mounts.
    let cert = required_env(&compose, "haproxy", "DC_HAPROXY_TLS_CERT");
    let mounts = volumes(&compose, "haproxy");
    assert!(
        mounts
            .iter()
            .any(|(source, target)| source == "haproxy-secret" && cert.starts_with(target.as_str())),
        "the haproxy service reads {cert}, outside its mounts {mounts:?}"
    );
    assert!(
        command(&compose, "secrets").contains("haproxy.pem")
            && volumes(&compose, "secrets")
                .iter()
                .any(|(source, _)| source == "haproxy-secret"),
        "the secrets service does not make HAProxy's certificate"
    );
    assert_eq!(
        depends_condition(&compose, "haproxy", "secrets").as_deref(),
        Some("service_completed_successfully"),
        "HAProxy does not wait for its certificate"
    );
}

#[test]
fn haproxy_sends_requests_to_the_api_servers_on_their_local_cluster_ports() {
    let compose = compose();
    for (variable, api) in [("DC_API_1", "api-1"), ("DC_API_2", "api-2")] {
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
    for (variable, api) in [("DC_API_1", "api-1"), ("DC_API_2", "api-2")] {
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
    for (variable, manager) in [("DC_MANAGER_1", "manager-1"), ("DC_MANAGER_2", "manager-2")] {
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
        // The listen address is a wildcard: what the API servers are told must be the
        // manager's service name, or they would call their own container.
        assert_eq!(
            required_env(&compose, manager, "DISTCRON_ADVERTISE_URL"),
            format!("http://{manager}:{}", port_of(&listen)),
            "{manager} advertises another address"
        );
    }
}

#[test]
fn workers_listen_on_the_same_ports_as_in_the_local_cluster() {
    let compose = compose();
    for (variable, worker) in [
        ("DC_WORKER_1", "worker-1"),
        ("DC_WORKER_2", "worker-2"),
        ("DC_WORKER_3", "worker-3"),
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
    let port = local("DC_S3_PORT");
    let s3_command = command(&compose, "s3");
    assert!(
        s3_command
            .split_whitespace()
            .any(|arg| arg == format!("-s3.port={port}")),
        "the s3 service runs `{s3_command}`, without -s3.port={port}"
    );
    // Managers too: the leader's sweep of unused executables lists and deletes in S3.
    for name in distcron_services() {
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
    let port = local("DC_ZK_PORT");
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
