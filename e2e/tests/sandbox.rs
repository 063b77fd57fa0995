//! A job stays in its sandbox, tried from inside jobs: runs of different owners get different
//! uids, none root, so one owner's job can neither signal, trace nor read another owner's
//! runs; every run has a /tmp and a /proc of its own; no run inherits a descriptor of the
//! worker's; the executable cache is closed to runs.

use distcron_e2e::checks::{finished_run, stdout_report};
use distcron_e2e::{ClusterOptions, TestCluster, eventually};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn one_owners_job_cannot_see_signal_trace_or_read_another_owners_running_job() {
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 1,
        ..Default::default()
    })
    .await;
    let alice = cluster.user("alice", false).await;
    let bob = cluster.user("bob", false).await;
    let shared = cluster.shared_dir();
    let victim = alice
        .create_job(&json!({
            "type": "command", "schedule": "@once",
            "executable": format!(
                "echo alice-secret > /tmp/secret; chmod 644 /tmp/secret; id -u > {d}/alice.uid; echo $$ > {d}/alice.pid; exec sleep 60",
                d = shared.display()
            ),
        }))
        .await;
    let pid_file = shared.join("alice.pid");
    let pid: i32 = eventually("alice's job to start", Duration::from_secs(15), || {
        let text = std::fs::read_to_string(&pid_file).unwrap_or_default();
        async move { text.trim().parse().ok() }
    })
    .await;
    let alice_uid: u32 = std::fs::read_to_string(shared.join("alice.uid"))
        .expect("uid")
        .trim()
        .parse()
        .expect("a uid");

    // Bob's job tries everything it can against alice's running process, then kills every
    // process it is allowed to (kill -9 -1), which takes bob's own job down with it.
    let probe = format!(
        r#"echo uid=$(id -u)
echo gid=$(id -g)
echo groups=$(id -G)
kill -0 {pid} 2>/dev/null && echo signal=sent || echo signal=refused
cat /proc/{pid}/environ >/dev/null 2>&1 && echo environ=read || echo environ=refused
head -c1 /proc/{pid}/mem >/dev/null 2>&1 && echo mem=read || echo mem=refused
python3 -c 'import ctypes,sys; l=ctypes.CDLL(None,use_errno=True); sys.exit(0 if l.ptrace(16,{pid},0,0)==0 else 1)' 2>/dev/null && echo ptrace=attached || echo ptrace=refused
echo visible=$(ls /proc | grep -c '^[0-9]')
[ -e /proc/{pid} ] && echo pid_visible=yes || echo pid_visible=no
cat /tmp/secret 2>/dev/null && echo tmp=shared || echo tmp=private
echo home=$HOME cwd=$(pwd)
kill -9 -1
"#
    );
    let attacker = bob
        .create_job(&json!({"type": "command", "schedule": "@once", "executable": probe}))
        .await;
    let run = finished_run(
        &bob,
        attacker["id"].as_str().expect("id"),
        Duration::from_secs(20),
    )
    .await;
    let r = stdout_report(&run);
    let bob_uid: u32 = r["uid"].parse().expect("bob's uid");
    assert_ne!(bob_uid, 0, "{run}");
    assert_ne!(alice_uid, 0);
    assert_ne!(bob_uid, alice_uid, "two owners share a uid");
    let range = cluster.run_uids.range;
    assert!(
        range.contains(bob_uid) && range.contains(alice_uid),
        "uids from the run_uids range {range}: {alice_uid}, {bob_uid}"
    );
    assert_eq!(r["gid"], bob_uid.to_string(), "{run}");
    assert_eq!(
        r["groups"],
        bob_uid.to_string(),
        "no supplementary group: {run}"
    );
    for (probe, refused) in [
        ("signal", "refused"),
        ("environ", "refused"),
        ("mem", "refused"),
        ("ptrace", "refused"),
        ("pid_visible", "no"),
        ("tmp", "private"),
    ] {
        assert_eq!(
            r.get(probe).map(String::as_str),
            Some(refused),
            "{probe}: {run}"
        );
    }
    let visible: usize = r["visible"].parse().expect("count");
    assert!(
        visible <= 5,
        "bob's job sees {visible} processes in /proc: only its own should show"
    );
    assert_eq!(r["home"], "/tmp cwd=/tmp", "{run}");
    // kill -9 -1 reaches every process bob may signal but itself (and alice's is not one).
    assert_eq!(run["status"], "succeeded", "{run}");

    // Alice's job survived bob's kill -9 -1, still running.
    let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok();
    assert!(alive, "alice's job was killed by bob's");
    let runs = alice
        .get(&format!(
            "/jobs/{}/runs",
            victim["id"].as_str().expect("id")
        ))
        .await
        .body;
    assert_eq!(runs[0]["status"], "running", "{runs}");
}

#[tokio::test]
async fn a_run_inherits_no_descriptor_has_a_tmp_of_its_own_and_cannot_read_the_cache() {
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 1,
        ..Default::default()
    })
    .await;
    let alice = cluster.user("alice", false).await;
    let cache = cluster.dir.join("worker-1").join("cache");
    let planted = format!("/tmp/planted-{}", cluster.name);
    let probe = format!(
        r#"echo fds=$(ls /proc/self/fd | sort -n | tr '\n' ' ')
echo tmp=$(ls -A /tmp | tr '\n' ' ')
echo planted > {planted}
ls {cache} >/dev/null 2>&1 && echo cache=listed || echo cache=refused
"#,
        cache = cache.display()
    );
    for attempt in 0..2 {
        let job = alice
            .create_job(&json!({"type": "command", "schedule": "@once", "executable": probe}))
            .await;
        let run = finished_run(
            &alice,
            job["id"].as_str().expect("id"),
            Duration::from_secs(15),
        )
        .await;
        assert_eq!(run["status"], "succeeded", "{run}");
        let r = stdout_report(&run);
        // 0, 1, 2, and the directory `ls` itself has open.
        assert_eq!(r["fds"].trim(), "0 1 2 3", "attempt {attempt}: {run}");
        // Empty at the start of each run: what the first run planted is gone.
        assert_eq!(r["tmp"].trim(), "", "attempt {attempt}: {run}");
        assert_eq!(r["cache"], "refused", "{run}");
    }
    assert!(
        !std::path::Path::new(&planted).exists(),
        "a run's /tmp is not the host's"
    );
}
