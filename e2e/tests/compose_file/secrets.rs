//! No secret in an environment or a command; each role's settings file only in its services; no passwordless MariaDB account.

use crate::support::*;

/// Environment variables that would carry a secret (a `_FILE` variant names a file instead).
const SECRET_WORDS: [&str; 6] = [
    "TOKEN",
    "PASSWORD",
    "SECRET",
    "DIGEST",
    "ACCESS_KEY",
    "__URL",
];

#[test]
fn no_service_has_a_secret_in_its_environment() {
    let compose = compose();
    for name in all_services(&compose) {
        for (variable, value) in environment(&compose, &name) {
            let secret_name = SECRET_WORDS.iter().any(|word| variable.contains(word))
                && !variable.ends_with("_FILE");
            assert!(
                !secret_name,
                "service {name} sets {variable} in its environment: secrets go in its settings file"
            );
            // A URL with credentials (`scheme://user:password@host`), whatever its name.
            let credentials = value
                .split_once("://")
                .is_some_and(|(_, rest)| rest.split('/').next().unwrap_or_default().contains('@'));
            assert!(
                !credentials,
                "service {name} has a URL with credentials in {variable}"
            );
        }
    }
}

#[test]
fn no_distcron_process_is_handed_a_secret_by_its_command() {
    let compose = compose();
    for name in distcron_services().chain(["migrate"]) {
        let text = command(&compose, name);
        for variable in [
            "DISTCRON_MYSQL__URL",
            "DISTCRON_INTERNAL_TOKEN",
            "DISTCRON_ZOOKEEPER__DIGEST",
            "DISTCRON_S3__ACCESS_KEY_ID",
            "DISTCRON_S3__SECRET_ACCESS_KEY",
        ] {
            assert!(
                !text.contains(variable),
                "{name}'s command sets {variable}: secrets go in its settings file"
            );
        }
    }
}

#[test]
fn each_distcron_service_reads_its_roles_settings_file_and_mounts_nothing_else() {
    let compose = compose();
    for name in distcron_services() {
        let role = role_of(name).expect("a distcron service has a role");
        assert_eq!(
            required_env(&compose, name, "DISTCRON_CONFIG"),
            format!("{CONFIG_DIR}/{role}.toml"),
            "{name} reads another settings file"
        );
        let mounts = mounts(&compose, name);
        assert!(
            matches!(
                mounts.as_slice(),
                [Mount { source, target, read_only: true }]
                    if *source == format!("{role}-config") && target == CONFIG_DIR
            ),
            "{name} mounts {mounts:?}, not {role}-config alone, read-only, on {CONFIG_DIR}"
        );
    }
}

#[test]
fn the_secrets_service_writes_each_roles_settings_file_into_that_roles_volume() {
    let compose = compose();
    let script = command(&compose, "secrets");
    let mounts = mounts(&compose, "secrets");
    let role_dir = format!("dir={CONFIG_DIR}/$$role");
    for role in ["api", "manager", "worker"] {
        assert!(
            mounts
                .iter()
                .any(|mount| mount.source == format!("{role}-config")
                    && mount.target == format!("{CONFIG_DIR}/{role}")
                    && !mount.read_only),
            "the secrets service does not mount {role}-config on {CONFIG_DIR}/{role}: {mounts:?}"
        );
    }
    for needed in [
        "for role in api manager worker; do",
        &role_dir,
        "\"$$dir/$$role.toml\"",
        // The internal token goes to managers and API servers only.
        "api|manager) echo \"internal_token",
        "[zookeeper]",
        "[mysql]",
        "[s3]",
        "access_key_id",
        "secret_access_key",
    ] {
        assert!(
            script.contains(needed),
            "the secrets service's settings files lack `{needed}`"
        );
    }
    assert!(
        script.contains("umask 077"),
        "the secrets service does not make its files private (umask 077)"
    );
}

#[test]
fn only_a_roles_services_mount_its_secrets() {
    let compose = compose();
    // Each volume of secrets, and who besides the secrets service may mount it.
    let readers = |volume: &str, name: &str| -> bool {
        match volume {
            "secrets" => name == "migrate",
            "api-config" => role_of(name) == Some("api"),
            "manager-config" => role_of(name) == Some("manager"),
            "worker-config" => role_of(name) == Some("worker"),
            "mysql-secret" => name == "mysql",
            "s3-secret" => name == "s3",
            "haproxy-secret" => name == "haproxy",
            _ => true,
        }
    };
    let written: Vec<String> = mounts(&compose, "secrets")
        .into_iter()
        .map(|mount| mount.source)
        .collect();
    for volume in [
        "secrets",
        "api-config",
        "manager-config",
        "worker-config",
        "mysql-secret",
        "s3-secret",
        "haproxy-secret",
    ] {
        assert!(
            written.iter().any(|source| source == volume),
            "the secrets service does not write the {volume} volume"
        );
    }
    for name in all_services(&compose)
        .iter()
        .filter(|name| *name != "secrets")
    {
        for mount in mounts(&compose, name) {
            if written.contains(&mount.source) {
                assert!(
                    readers(&mount.source, name),
                    "service {name} mounts {}, which is not its own",
                    mount.source
                );
                assert!(
                    mount.read_only,
                    "service {name} mounts {} writable",
                    mount.source
                );
            }
        }
    }
}

#[test]
fn workers_get_no_token_and_no_other_roles_settings() {
    let compose = compose();
    for worker in distcron_services().filter(|name| role_of(name) == Some("worker")) {
        let sources: Vec<String> = mounts(&compose, worker)
            .into_iter()
            .map(|mount| mount.source)
            .collect();
        assert_eq!(sources, ["worker-config"], "{worker} mounts {sources:?}");
        assert_eq!(
            env(&compose, worker, "DISTCRON_BOOTSTRAP_ADMIN_TOKEN_FILE"),
            None,
            "{worker} is told where the admin token is"
        );
    }
    // The admin token is the managers' (the leader installs it), in their settings volume.
    for manager in ["manager-1", "manager-2"] {
        let file = required_env(&compose, manager, "DISTCRON_BOOTSTRAP_ADMIN_TOKEN_FILE");
        assert_eq!(file, format!("{CONFIG_DIR}/admin.token"));
    }
    assert!(
        command(&compose, "secrets").contains(&format!("{CONFIG_DIR}/manager/admin.token")),
        "the secrets service does not give the managers the admin token"
    );
}

#[test]
fn mysql_has_no_account_without_a_password() {
    let compose = compose();
    for (variable, _) in environment(&compose, "mysql") {
        assert!(
            !variable.contains("EMPTY") && !variable.contains("RANDOM_ROOT"),
            "the mysql service sets {variable}"
        );
    }
    // Root's password is generated, in a volume of mysql's own.
    let file = required_env(&compose, "mysql", "MARIADB_ROOT_PASSWORD_FILE");
    let mounts = mounts(&compose, "mysql");
    assert!(
        mounts
            .iter()
            .any(|mount| mount.source == "mysql-secret" && file.starts_with(&mount.target)),
        "the mysql service reads {file}, outside its mounts {mounts:?}"
    );
    let script = command(&compose, "secrets");
    assert!(
        script.contains(&format!("cp \"$$store/mysql/root.password\" {file}")),
        "the secrets service does not write {file}"
    );
    assert_eq!(
        depends_condition(&compose, "mysql", "secrets").as_deref(),
        Some("service_completed_successfully"),
        "MariaDB may start before its root password exists"
    );
}

#[test]
fn every_distcron_role_logs_in_to_the_same_database_with_its_own_account() {
    let compose = compose();
    let expose: Vec<String> = service(&compose, "mysql")["expose"]
        .as_sequence()
        .map(|ports| ports.iter().filter_map(scalar).collect())
        .unwrap_or_default();
    assert_eq!(expose, ["3306"]);
    // The settings files' URLs name the account migrate sets up for the role.
    let secrets = command(&compose, "secrets");
    assert!(
        secrets.contains("url = \\\"mysql://distcron_$$role:")
            && secrets.contains("@mysql:3306/distcron\\\""),
        "the roles' settings files name another account or database"
    );
    let migrate = command(&compose, "migrate");
    assert!(
        migrate.contains("for role in api manager worker; do")
            && migrate
                .contains("distcron-manager grant --role \"$$role\" --user \"distcron_$$role\""),
        "the migrate service does not set up each role's account: `{migrate}`"
    );
    // migrate alone logs in as MariaDB's administrator, from the store.
    assert_eq!(
        required_env(&compose, "migrate", "DISTCRON_CONFIG"),
        "/var/lib/distcron/secrets/migrate.toml"
    );
    assert!(
        secrets.contains("url = \"mysql://root:%s@mysql:3306/distcron\""),
        "migrate's settings file does not name root on the same database"
    );
}
