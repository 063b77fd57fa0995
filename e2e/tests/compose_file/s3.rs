//! SeaweedFS reachable only through its S3 gateway, which knows only distcron's identities.

use crate::support::*;

#[test]
fn s3_listens_on_its_own_loopback_but_for_the_s3_gateway() {
    let compose = compose();
    let text = command(&compose, "s3");
    let args: Vec<&str> = text.split_whitespace().collect();
    for needed in ["-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-s3.ip.bind=0.0.0.0"] {
        assert!(
            args.contains(&needed),
            "the s3 service runs `{text}`, without {needed}"
        );
    }
    for arg in &args {
        let name = arg.split('=').next().unwrap_or_default();
        assert!(
            !name.ends_with("ip.bind") || ["-ip.bind", "-s3.ip.bind"].contains(&name),
            "the s3 service binds something elsewhere: {arg}"
        );
        // Servers that would listen on S3's address, or on every address.
        for other in ["-webdav", "-sftp", "-iam", "-mq.", "-debug", "-metricsPort"] {
            assert!(
                !arg.starts_with(other),
                "the s3 service starts more servers: {arg}"
            );
        }
    }
    for needed in ["-s3.port.iceberg=0", "-s3.port.lance=0"] {
        assert!(
            args.contains(&needed),
            "the s3 service runs `{text}`, without {needed}"
        );
    }
    // The same ports as the local cluster's SeaweedFS.
    for (flag, variable) in [
        ("-master.port", "DC_WEED_MASTER_PORT"),
        ("-volume.port", "DC_WEED_VOLUME_PORT"),
        ("-filer.port", "DC_WEED_FILER_PORT"),
    ] {
        let expected = format!("{flag}={}", local(variable));
        assert!(
            args.contains(&expected.as_str()),
            "the s3 service runs `{text}`, without {expected}"
        );
    }
    // Nothing but S3 is offered to the other containers or the host.
    let expose: Vec<String> = service(&compose, "s3")["expose"]
        .as_sequence()
        .map(|ports| ports.iter().filter_map(scalar).collect())
        .unwrap_or_default();
    assert_eq!(expose, [local("DC_S3_PORT")]);
    assert!(published_ports(&compose, "s3").is_empty());
    // Its health is read on its own loopback (anonymous S3 requests are refused).
    let health = service(&compose, "s3")["healthcheck"]["test"]
        .as_sequence()
        .map(|items| {
            items
                .iter()
                .filter_map(scalar)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    assert!(
        health.contains("http://127.0.0.1:29333/cluster/healthz") && health.contains("403"),
        "the s3 service's healthcheck is `{health}`"
    );
}

#[test]
fn s3_knows_only_distcrons_identities_and_its_grpc_ports_require_its_certificate() {
    let compose = compose();
    let text = command(&compose, "s3");
    assert!(
        text.split_whitespace()
            .any(|arg| arg == "-s3.config=s3.json"),
        "the s3 service runs `{text}`, without -s3.config=s3.json"
    );
    // s3.json and security.toml (which SeaweedFS reads from its working directory) are in
    // the s3-secret volume, written by the secrets service.
    let working_dir = service(&compose, "s3")["working_dir"]
        .as_str()
        .expect("the s3 service has a working_dir")
        .to_owned();
    assert!(
        mounts(&compose, "s3")
            .iter()
            .any(|mount| mount.source == "s3-secret" && mount.target == working_dir),
        "the s3 service's working directory {working_dir} is not its s3-secret volume"
    );
    assert!(
        mounts(&compose, "secrets")
            .iter()
            .any(|mount| mount.source == "s3-secret" && mount.target == working_dir),
        "the secrets service does not write s3-secret at {working_dir}"
    );
    let script = command(&compose, "secrets");
    for needed in [
        format!("s3={working_dir}"),
        "> \"$$s3/s3.json\"".to_owned(),
        "> \"$$s3/security.toml\"".to_owned(),
        "for who in master volume filer s3 client; do".to_owned(),
        "echo \"[grpc]\"".to_owned(),
        "identity worker \"\\\"Read:$$bucket\\\"\"".to_owned(),
        "identity admin '\"Admin\"".to_owned(),
    ] {
        assert!(
            script.contains(&needed),
            "the secrets service's SeaweedFS configuration lacks `{needed}`"
        );
    }
    assert_eq!(
        depends_condition(&compose, "s3", "secrets").as_deref(),
        Some("service_completed_successfully"),
        "SeaweedFS may start before its identities and certificates exist"
    );
}

#[test]
fn the_bucket_is_made_with_the_admin_identity_once_s3_is_healthy() {
    let compose = compose();
    let migrate = command(&compose, "migrate");
    assert!(
        migrate.contains("\"$$store/s3/admin.keys\"")
            && migrate.contains("--aws-sigv4")
            && migrate.contains("-X PUT \"$$url\"")
            && migrate.contains("url=$$DISTCRON_S3__ENDPOINT/$$DISTCRON_S3__BUCKET"),
        "the migrate service does not create the bucket with the admin keys: `{migrate}`"
    );
    for dependency in ["mysql", "s3"] {
        assert_eq!(
            depends_condition(&compose, "migrate", dependency).as_deref(),
            Some("service_healthy"),
            "migrate does not wait for {dependency}"
        );
    }
}
