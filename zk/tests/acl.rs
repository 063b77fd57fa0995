//! ZooKeeper's ACLs against a real server (`make test`'s): distcron's znodes are open to its
//! digest identity alone, a session without it can neither read nor change them, and a process
//! refuses a chroot open to world:anyone, or to run without credentials, unless told to.

use distcron_zk::{ZkError, ZkSettings, connect, zk};
use secrecy::SecretString;
use std::time::Duration;

fn settings(chroot: &str, digest: Option<&str>) -> ZkSettings {
    ZkSettings {
        servers: std::env::var("DC_TEST_ZK")
            .expect("DC_TEST_ZK is not set: run the tests with `make test`"),
        chroot: chroot.into(),
        digest: digest.map(|d| SecretString::from(d.to_string())),
        ..ZkSettings::default()
    }
}

fn chroot() -> String {
    format!("/dcz-{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

async fn anonymous(servers: &str) -> zk::Client {
    zk::Client::connector()
        .with_session_timeout(Duration::from_secs(5))
        .connect(servers)
        .await
        .expect("anonymous session")
}

#[tokio::test]
async fn distcrons_znodes_are_closed_to_a_session_without_its_credentials() {
    let root = chroot();
    let s = settings(&root, Some("distcron:s3cret-one"));
    let client = connect(&s).await.expect("connect");
    client
        .create(
            "/jobs/a-task",
            b"{\"privileged\": false}",
            &distcron_zk::persistent(),
        )
        .await
        .expect("create a task");

    let outsider = anonymous(&s.servers).await;
    let read = outsider.get_data(&format!("{root}/jobs/a-task")).await;
    assert!(matches!(read, Err(zk::Error::NoAuth)), "{read:?}");
    let listed = outsider.list_children(&format!("{root}/jobs")).await;
    assert!(matches!(listed, Err(zk::Error::NoAuth)), "{listed:?}");
    let created = outsider
        .create(
            &format!("{root}/assignments/evil"),
            b"",
            &zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all()),
        )
        .await;
    assert!(matches!(created, Err(zk::Error::NoAuth)), "{created:?}");
    let deleted = outsider.delete(&format!("{root}/jobs/a-task"), None).await;
    assert!(matches!(deleted, Err(zk::Error::NoAuth)), "{deleted:?}");

    // Another identity fares no better.
    let other = zk::Client::connector()
        .with_auth("digest", b"distcron:guess")
        .connect(&s.servers)
        .await
        .expect("session");
    let read = other.get_data(&format!("{root}/jobs/a-task")).await;
    assert!(matches!(read, Err(zk::Error::NoAuth)), "{read:?}");
    // distcron's own identity can, from another session.
    let again = connect(&s).await.expect("connect again");
    assert!(again.get_data("/jobs/a-task").await.is_ok());
}

#[tokio::test]
async fn a_chroot_open_to_anyone_or_a_missing_credential_is_refused_unless_allowed() {
    let root = chroot();
    let outsider = anonymous(&settings(&root, None).servers).await;
    outsider
        .create(
            &root,
            b"",
            &zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all()),
        )
        .await
        .expect("an open chroot");
    let refused = connect(&settings(&root, Some("distcron:s3cret-two"))).await;
    match refused {
        Err(ZkError::Config(m)) => assert!(m.contains("world:anyone"), "{m}"),
        other => panic!("an open chroot was accepted: {:?}", other.map(|_| ())),
    }
    let mut allowed = settings(&root, Some("distcron:s3cret-two"));
    allowed.allow_open_acl = true;
    connect(&allowed).await.expect("allowed explicitly");

    let no_credentials = connect(&settings(&chroot(), None)).await;
    match no_credentials {
        Err(ZkError::Config(m)) => assert!(m.contains("digest"), "{m}"),
        other => panic!("no credentials was accepted: {:?}", other.map(|_| ())),
    }
}
