//! `distcron import-crontab`: a crontab with every kind of line, planned (`--dry-run`) and
//! imported, shown by `jobs list`, and imported again without a second job; a system crontab's
//! user column becomes `run_as` for an admin and is refused to anyone else.

mod support;

use distcron_e2e::{ClusterOptions, TestCluster};
use serde_json::Value;
use support::{Cli, texts};

const CRONTAB: &str = r#"# m h dom mon dow command
SHELL=/bin/bash
MAILTO=ops@example.com
PATH=/usr/local/bin:/usr/bin:/bin

# nightly report
0 3 * * * echo report
CRON_TZ=Europe/Berlin
# mail a note
30 8 * * mon-fri cat > /dev/null%hello%world
@daily date +\%F
@reboot echo booted
61 * * * * echo bad minute
* * * *
"#;

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("crontab");
    path.to_str().unwrap().to_string()
}

fn by_line(plan: &Value, line: u64) -> &Value {
    plan.as_array()
        .unwrap()
        .iter()
        .find(|l| l["line"] == line)
        .unwrap_or_else(|| panic!("no line {line} in {plan}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crontab_is_planned_imported_once_and_shown_by_jobs_list() {
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 1,
        ..Default::default()
    })
    .await;
    let alice = Cli::new(&cluster.user("alice", false).await);
    let dir = tempfile::tempdir().unwrap();
    let file = write(&dir, "crontab", CRONTAB);

    // The plan: every line but comments and blanks, with what it becomes or why not.
    let plan = alice.json(&["import-crontab", "--dry-run", "--tz", "Asia/Tokyo", &file]);
    assert_eq!(plan.as_array().map(Vec::len), Some(10), "{plan}");
    assert!(
        by_line(&plan, 2)["note"]
            .as_str()
            .unwrap()
            .contains("not applied")
    );
    assert!(
        by_line(&plan, 3)["note"]
            .as_str()
            .unwrap()
            .contains("MAILTO: not applied")
    );
    assert!(
        by_line(&plan, 4)["note"]
            .as_str()
            .unwrap()
            .contains("exported")
    );
    let report = &by_line(&plan, 7)["job"];
    assert_eq!(report["name"], "nightly report");
    assert_eq!(report["schedule"], "0 3 * * *");
    assert_eq!(
        report["executable"],
        "export PATH='/usr/local/bin:/usr/bin:/bin'; echo report"
    );
    // No CRON_TZ above it: --tz's zone (by default the machine's, as cron runs it).
    assert_eq!(report["timezone"], "Asia/Tokyo");
    let note = &by_line(&plan, 10)["job"];
    assert_eq!(note["timezone"], "Europe/Berlin");
    assert_eq!(note["name"], "mail a note");
    assert!(
        note["executable"]
            .as_str()
            .unwrap()
            .contains("printf '%s' 'hello\nworld\n' | (\ncat > /dev/null\n)")
    );
    assert!(
        by_line(&plan, 11)["job"]["executable"]
            .as_str()
            .unwrap()
            .ends_with("date +%F")
    );
    assert!(
        by_line(&plan, 12)["note"]
            .as_str()
            .unwrap()
            .contains("@reboot")
    );
    assert!(
        by_line(&plan, 13)["note"]
            .as_str()
            .unwrap()
            .contains("minute")
    );
    assert!(
        by_line(&plan, 14)["note"]
            .as_str()
            .unwrap()
            .contains("skipped")
    );
    // As a table, offline: nothing needs the API (no URL, no token).
    let out = alice
        .bare()
        .args(["import-crontab", "--dry-run", &file])
        .output()
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("LINE") && stdout.contains("nightly report") && stdout.contains("@reboot"),
        "{stdout}"
    );
    assert!(stderr.contains("3 jobs would be created"), "{stderr}");
    assert_eq!(
        alice.json(&["jobs", "list"]),
        Value::Array(vec![]),
        "a dry run creates nothing"
    );

    // For real, from stdin: three jobs, the skipped lines reported on stderr.
    let out = alice
        .cmd()
        .args(["-o", "json", "import-crontab", "-"])
        .write_stdin(CRONTAB)
        .output()
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("line 12: skipped: @reboot"), "{stderr}");
    assert!(stderr.contains("3 created, 0 already imported"), "{stderr}");
    let created: Value = serde_json::from_str(&stdout).unwrap();
    assert!(
        created
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["result"] == "created"),
        "{created}"
    );
    let jobs = alice.json(&["jobs", "list"]);
    let mut names: Vec<_> = jobs
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["name"].clone())
        .collect();
    names.sort_by_key(|n| n.to_string());
    assert_eq!(
        names,
        ["mail a note".into(), "nightly report".into(), Value::Null]
    );
    let table = alice.table(&["jobs", "list"]);
    assert!(
        table.contains("nightly report") && table.contains("Europe/Berlin"),
        "{table}"
    );

    // Again, from the file: the same three jobs, none new.
    let out = alice
        .cmd()
        .args(["import-crontab", &file])
        .output()
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("0 created, 3 already imported"), "{stderr}");
    assert!(stdout.contains("already imported"), "{stdout}");
    assert_eq!(
        alice.json(&["jobs", "list"]).as_array().map(Vec::len),
        Some(3)
    );

    // A system crontab: the user column is run_as (root: privileged), for admins only.
    let system = write(
        &dir,
        "system",
        "SHELL=/bin/sh\n0 0 1 1 * root echo as root\n# as nobody\n@yearly nobody echo hi\n",
    );
    let plan = alice.json(&["import-crontab", "--system", "--dry-run", &system]);
    assert_eq!(by_line(&plan, 2)["job"]["privileged"], true);
    assert_eq!(by_line(&plan, 4)["job"]["run_as"], "nobody");
    let err = alice.fails(&["import-crontab", "--system", &system], 1);
    assert!(err.contains("2 failed"), "{err}");
    let out = alice
        .cmd()
        .args(["import-crontab", "--system", "--ignore-user", &system])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", texts(&out).1);
    let admin = Cli::new(&cluster.admin());
    let out = admin
        .cmd()
        .args(["-o", "json", "import-crontab", "--system", &system])
        .output()
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "{stderr}");
    let rows: Value = serde_json::from_str(&stdout).unwrap();
    let nobody = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["line"] == 4)
        .unwrap();
    assert_eq!(nobody["job"]["run_as"], "nobody", "{nobody}");
    assert_eq!(nobody["job"]["name"], "as nobody");
}
