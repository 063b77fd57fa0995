//! The order things start in: secrets first, then migrations, then distcron.

use crate::support::*;

#[test]
fn the_secrets_are_made_by_a_one_shot_service_every_consumer_waits_for() {
    let compose = compose();
    assert_eq!(
        service(&compose, "secrets")["restart"].as_str(),
        Some("no"),
        "secrets runs once"
    );
    assert!(
        service(&compose, "secrets")["depends_on"].is_null(),
        "the secrets service waits for something"
    );
    let written: Vec<String> = mounts(&compose, "secrets")
        .into_iter()
        .map(|mount| mount.source)
        .collect();
    for name in all_services(&compose)
        .iter()
        .filter(|name| *name != "secrets")
    {
        if mounts(&compose, name)
            .iter()
            .any(|mount| written.contains(&mount.source))
        {
            assert!(
                waits_for_success_of(&compose, name, "secrets"),
                "{name} may start before its secrets are made"
            );
        }
    }
}

#[test]
fn distcron_services_start_after_the_one_shot_migration_succeeded() {
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
    for name in distcron_services() {
        assert_eq!(
            depends_condition(&compose, name, "migrate").as_deref(),
            Some("service_completed_successfully"),
            "{name} does not wait for the migration"
        );
    }
}

/// A `docker compose up` next year runs what was tested: every image but distcron's own build
/// names a version, and SeaweedFS the one the local cluster installs.
#[test]
fn every_image_is_pinned_and_seaweedfs_is_the_local_clusters_version() {
    let compose = compose();
    for name in all_services(&compose) {
        let Some(image) = scalar(&service(&compose, &name)["image"]) else {
            continue;
        };
        let tag = image.rsplit_once(':').map(|(_, tag)| tag).unwrap_or("");
        assert!(
            !tag.is_empty() && tag != "latest",
            "service {name} uses image {image:?} without a pinned tag"
        );
    }
    let seaweedfs = scalar(&service(&compose, "s3")["image"]).expect("s3 has an image");
    assert_eq!(
        seaweedfs,
        format!("chrislusf/seaweedfs:{}", local("DC_SEAWEEDFS_VERSION")),
        "docker-compose.yml's SeaweedFS differs from scripts/defaults.sh's"
    );
}
