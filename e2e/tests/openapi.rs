//! The OpenAPI document against a live cluster: schemathesis (PyPI, pinned in
//! scripts/defaults.sh, installed by scripts/test-services.sh) generates requests for every
//! operation of `GET /openapi.json` — its examples, the boundaries of every parameter and body
//! (valid and not), random ones, and sequences that follow the document's links (a job created,
//! then read, edited, paused, triggered, killed, deleted) — and sends them through HAProxy, as
//! an admin and as a non-admin. Any 5xx fails the test, and so does any answer the document
//! does not describe: its status, content type, headers or body.
//!
//! Nothing is left out but `GET /openapi.json` itself, which schemathesis reads the document
//! from rather than tests (api/tests/openapi.rs does), and one operation of the non-admin's
//! run (below). The two operations that could lock a run
//! out are safe here: the admin is the bootstrap admin, which `DELETE /users/{name}` and
//! `POST /users/{name}/token` refuse (409), and the non-admin's run leaves out replacing a
//! token (its own name, the only one it could replace the token of, is `GET /whoami`'s
//! answer); the test checks both tokens still work afterwards.

use distcron_e2e::{ClusterOptions, TestCluster, infra, unique_name};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

/// Test cases per operation and phase: enough to reach every parameter's boundaries and the
/// links, small enough that both runs take well under two minutes. `DC_TEST_SCHEMATHESIS_EXAMPLES`
/// asks for more.
const EXAMPLES: u32 = 50;
/// Beyond this, a run is stuck: it is killed and the test fails.
const RUN_LIMIT: Duration = Duration::from_secs(300);

fn examples() -> String {
    std::env::var("DC_TEST_SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| EXAMPLES.to_string())
}

/// Runs schemathesis against `base` with `token`; its output if it failed.
async fn schemathesis(
    base: &str,
    token: &str,
    dir: &Path,
    extra: &[&str],
) -> Result<String, String> {
    let bin = infra().schemathesis.clone();
    let mut command = tokio::process::Command::new(&bin);
    command
        .current_dir(dir)
        .args(["run", &format!("{base}/openapi.json")])
        .args(extra)
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_headers_conformance,response_schema_conformance",
        ])
        .args(["--phases", "examples,coverage,fuzzing,stateful"])
        .args(["--max-examples", &examples()])
        // One worker: with several threads, hypothesis (raising the interpreter's recursion
        // limit in one while another parses a lambda's source) trips CPython 3.11's "AST
        // constructor recursion depth mismatch" now and then.
        .args(["--workers", "1"])
        .args(["--request-timeout", "20"])
        .args(["--generation-with-security-parameters", "false"])
        .args(["--generation-database", "none"])
        .args(["--suppress-health-check", "all"])
        .args(["--continue-on-failure", "--no-color"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = command
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
    let output = tokio::time::timeout(RUN_LIMIT, child.wait_with_output())
        .await
        .map_err(|_| format!("schemathesis did not finish within {RUN_LIMIT:?}"))?
        .map_err(|e| format!("schemathesis: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.success() {
        Ok(text)
    } else {
        Err(format!(
            "schemathesis exited with {}:\n{text}",
            output.status
        ))
    }
}

#[tokio::test]
async fn schemathesis_finds_no_server_error_and_no_answer_the_document_does_not_describe() {
    // No worker: the jobs schemathesis makes up (random command lines, some privileged, as
    // the admin) are published and never run on this machine.
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let admin = cluster.admin();
    let runner = cluster
        .user(&format!("st-runner-{}", unique_name()), false)
        .await;
    let non_admin_token = runner.token.clone().expect("token");
    let document = cluster.anonymous().get("/openapi.json").await;
    assert_eq!(document.status, 200, "{}", document.body);
    // schemathesis leaves out the operation it reads the document from: that one is
    // api/tests/openapi.rs's.
    let operations: usize = document.body["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .filter(|(path, _)| *path != "/openapi.json")
        .map(|(_, item)| item.as_object().map_or(0, |ops| ops.len()))
        .sum();

    // The non-admin's own name is known to the generator (`GET /whoami` answers it, and
    // schemathesis infers the link to `POST /users/{name}/token`): replacing its own token
    // would lock its run out, so that one operation is left to the admin's run (where the
    // bootstrap admin's is refused) and to api/tests/.
    for (who, token, extra, tested) in [
        ("admin", &cluster.admin_token, &[][..], operations),
        (
            "non-admin",
            &non_admin_token,
            &["--exclude-operation-id", "rotate_token"][..],
            operations - 1,
        ),
    ] {
        let dir = cluster.dir.join(format!("schemathesis-{who}"));
        std::fs::create_dir_all(&dir).expect("schemathesis dir");
        match schemathesis(&cluster.url(), token, &dir, extra).await {
            Ok(report) => {
                println!("schemathesis as {who}:\n{report}");
                // A run that tested less than it was given would pass: not here.
                assert!(
                    report.contains(&format!("Tested: {tested}\n")),
                    "schemathesis as {who} did not test all {tested} operations:\n{report}"
                );
            }
            Err(failure) => panic!("schemathesis as {who} found problems:\n{failure}"),
        }
    }

    for (who, client) in [("admin", &admin), ("non-admin", &runner)] {
        let a = client.get("/jobs").await;
        assert_eq!(a.status, 200, "{who}'s token stopped working: {}", a.body);
    }
}
