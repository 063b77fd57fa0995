//! `distcron users rotate` of one's own user through the saved login: the login's token is the
//! old one, which stops working, and the command says so and how to log in again.

mod support;

use distcron_e2e::{ClusterOptions, TestCluster};
use support::{Cli, texts};

#[tokio::test(flavor = "multi_thread")]
async fn rotating_ones_own_token_says_the_saved_login_is_stale() {
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 1,
        ..Default::default()
    })
    .await;
    let alice = Cli::new(&cluster.user("alice", false).await);
    let out = alice
        .bare()
        .args(["login", "--url", &alice.url])
        .write_stdin(format!("{}\n", alice.token))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", texts(&out).1);

    let out = alice
        .bare()
        .args(["-o", "json", "users", "rotate", "alice"])
        .output()
        .unwrap();
    let (_, stderr) = texts(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("no longer works"), "{stderr}");
    assert!(stderr.contains("distcron login --url"), "{stderr}");
}
