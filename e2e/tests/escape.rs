//! A non-admin's job tries to reach the cluster's own state, from inside the job, and fails at
//! every door: MySQL (root and distcron's own accounts, without their passwords), ZooKeeper
//! (create and read under the chroot), S3 (list, get and put, with no keys or wrong ones),
//! SeaweedFS's internal ports, the managers' internal API, and every secret file and log of
//! the cluster. The probe prints one `name=result` line per attempt.

use distcron_e2e::checks::{finished_run, stdout_report};
use distcron_e2e::cluster::TEST_BUCKET;
use distcron_e2e::{ClusterOptions, TestCluster, infra};
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

/// `host port` of a URL like `mysql://user:pw@127.0.0.1:3306/db` or `http://10.0.0.1:8333`.
fn host_port(url: &str) -> (String, String) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let rest = rest.split('/').next().unwrap_or(rest);
    let (h, p) = rest.rsplit_once(':').expect("host:port");
    (h.to_string(), p.to_string())
}

/// Every file under `dir` (not following links).
fn files_under(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let path = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => out.extend(files_under(&path)),
            Ok(t) if t.is_file() => out.push(path),
            _ => {}
        }
    }
    out
}

#[tokio::test]
async fn a_non_admins_job_reaches_neither_mysql_zookeeper_s3_the_internal_api_nor_any_secret() {
    let cluster = TestCluster::start_with(ClusterOptions {
        workers: 1,
        ..Default::default()
    })
    .await;
    let bob = cluster.user("bob", false).await;
    let alice = cluster.user("alice", false).await;
    // Bob's script: its object is what alice's job tries to read and overwrite.
    let victim = bob
        .create_job(&json!({"type": "script", "schedule": "@hourly", "content": "IyEvYmluL3NoCmVjaG8gYm9iCg=="}))
        .await;
    let key = victim["executable"]
        .as_str()
        .and_then(|e| e.strip_prefix(&format!("s3://{TEST_BUCKET}/")))
        .expect("an s3:// executable")
        .to_string();

    let (mysql_host, mysql_port) = host_port(&cluster.mysql_server);
    let (s3_host, s3_port) = host_port(&cluster.s3_endpoint);
    let s3 = &cluster.s3_endpoint;
    let zk = &cluster.zk_servers;
    let chroot = &cluster.chroot;
    let manager = cluster.url_of("manager-1");
    let zk_cli = infra().zk_home.join("bin/zkCli.sh");
    let weed_ports: Vec<u16> = std::env::var("DC_TEST_WEED_PORTS")
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    assert_eq!(
        weed_ports.len(),
        3,
        "DC_TEST_WEED_PORTS: master, volume and filer ports"
    );
    let s3_port_n: u16 = s3_port.parse().expect("port");

    let mut probe = String::from("#!/bin/sh\nexec 2>&1\n");
    // MySQL: root, the anonymous account and distcron's own accounts, without passwords.
    let db = &cluster.database;
    for user in [
        "root",
        "",
        &format!("{db}_api"),
        &format!("{db}_manager"),
        &format!("{db}_worker"),
    ] {
        let label = if user.is_empty() {
            "anonymous".to_string()
        } else {
            user.replace(&format!("{db}_"), "")
        };
        probe.push_str(&format!(
            "mariadb --protocol=tcp -h {mysql_host} -P {mysql_port} -u '{user}' --skip-password --connect-timeout=3 -e 'SELECT 1' >/dev/null 2>&1 && echo mysql_{label}=open || echo mysql_{label}=refused\n"
        ));
    }
    // ZooKeeper: create under the chroot, read a task. zkCli prints the server's refusal.
    // Only the server's refusal counts as refused: a zkCli that could not run says nothing.
    for (op, cmd) in [
        ("create", format!("create {chroot}/escape x")),
        ("list", format!("ls {chroot}/jobs")),
        ("get", format!("get {chroot}")),
    ] {
        probe.push_str(&format!(
            "out=$(timeout 60 {cli} -server {zk} {cmd} 2>&1); case \"$out\" in *'Insufficient permission'*|*NoAuth*) echo zk_{op}=refused;; *) echo zk_{op}=unexpected:$(echo \"$out\" | grep -v '^[0-9-]* [0-9:,]* \\[' | tail -n 2 | tr '\\n' ' ');; esac\n",
            cli = zk_cli.display()
        ));
    }
    // S3: anonymous, and with keys that are not distcron's.
    for (label, auth) in [
        ("anon", String::new()),
        ("fake", "--aws-sigv4 aws:amz:us-east-1:s3 --user AKIAFAKE:fakesecret -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD'".to_string()),
    ] {
        for (op, args) in [
            ("list", format!("'{s3}/{TEST_BUCKET}?list-type=2'")),
            ("get", format!("'{s3}/{TEST_BUCKET}/{key}'")),
            ("put", format!("-X PUT --data-binary evil '{s3}/{TEST_BUCKET}/{key}'")),
            ("delete", format!("-X DELETE '{s3}/{TEST_BUCKET}/{key}'")),
        ] {
            probe.push_str(&format!(
                "c=$(curl -s -o /dev/null -w '%{{http_code}}' -m 5 {auth} {args}); [ \"$c\" = 200 ] || [ \"$c\" = 204 ] && echo s3_{label}_{op}=open || echo s3_{label}_{op}=refused:$c\n"
            ));
        }
    }
    // SeaweedFS's own ports (master, volume, filer and their gRPC twins, and the S3 gateway's
    // gRPC port), on loopback and on the S3 address.
    let mut internal: Vec<u16> = weed_ports.iter().flat_map(|p| [*p, p - 5000]).collect();
    internal.push(s3_port_n - 5000);
    for port in internal {
        for host in ["127.0.0.1", s3_host.as_str()] {
            probe.push_str(&format!(
                "curl -s -o /dev/null -m 3 http://{host}:{port}/ && echo weed_{port}_{h}=open || echo weed_{port}_{h}=refused\n",
                h = host.replace('.', "_")
            ));
        }
    }
    // The S3 gateway's gRPC port shares its address: a Configure call, which would replace the
    // identities, gets no answer in plain HTTP/2 nor over TLS without SeaweedFS's certificate.
    let grpc = format!("{s3_host}:{}", s3_port_n - 5000);
    for (label, url, flags) in [
        ("h2c", format!("http://{grpc}"), "--http2-prior-knowledge"),
        ("tls", format!("https://{grpc}"), "-k --http2"),
    ] {
        probe.push_str(&format!(
            "c=$(curl -s -o /dev/null -w '%{{http_code}}' -m 5 {flags} -X POST -H 'content-type: application/grpc' --data-binary '' {url}/messaging_pb.SeaweedS3/Configure); [ \"$c\" = 000 ] && echo s3_grpc_{label}=refused || echo s3_grpc_{label}=answered:$c\n"
        ));
    }
    // The managers' internal API, without the internal token (which no job can read).
    probe.push_str(&format!(
        "c=$(curl -s -o /dev/null -w '%{{http_code}}' -m 5 -X POST -H 'content-type: application/json' -d '{{}}' {manager}/internal/jobs); [ \"$c\" = 401 ] && echo internal_api=refused || echo internal_api=answered:$c\n"
    ));
    // Every secret file and log of the cluster and the test services.
    let state = infra()
        .log_dir
        .parent()
        .expect("the test services' state dir")
        .to_path_buf();
    let mut secrets: Vec<PathBuf> = files_under(&cluster.dir)
        .into_iter()
        .filter(|p| !p.starts_with(cluster.dir.join("worker-1").join("runs")))
        .collect();
    for sub in ["s3", "mariadb", "seaweedfs", "zookeeper", "logs"] {
        secrets.extend(files_under(&state.join(sub)).into_iter().take(50));
    }
    assert!(
        secrets.iter().any(|p| p.ends_with("admin.token")),
        "{secrets:?}"
    );
    assert!(
        secrets.iter().any(|p| p.ends_with("admin.keys")),
        "{secrets:?}"
    );
    for (i, path) in secrets.iter().enumerate() {
        probe.push_str(&format!(
            "head -c1 '{}' >/dev/null 2>&1 && echo file_{i}=readable || echo file_{i}=refused\n",
            path.display()
        ));
    }
    // Nothing secret in the job's own environment.
    probe.push_str(
        "env | grep -qiE 'secret|token|password|digest|mysql|access_key' && echo environment=leaks || echo environment=clean\n",
    );

    // A script: the probe is longer than a command may be.
    use base64::Engine;
    let content = base64::engine::general_purpose::STANDARD.encode(&probe);
    let job = alice
        .create_job(&json!({"type": "script", "schedule": "@once", "timeout_seconds": 300, "content": content}))
        .await;
    let run = finished_run(
        &alice,
        job["id"].as_str().expect("id"),
        Duration::from_secs(240),
    )
    .await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let r = stdout_report(&run);
    eprintln!("{} attempts from inside the job", r.len());
    let open: Vec<String> = r
        .iter()
        .filter(|(_, v)| !(v.starts_with("refused") || *v == "clean"))
        .map(|(k, v)| {
            match k
                .strip_prefix("file_")
                .and_then(|i| i.parse::<usize>().ok())
            {
                Some(i) => format!("{} ({v})", secrets[i].display()),
                None => format!("{k}={v}"),
            }
        })
        .collect();
    assert!(open.is_empty(), "reachable from a job: {open:#?}\n{run}");
    // Every attempt reported.
    for k in [
        "mysql_root",
        "mysql_anonymous",
        "mysql_api",
        "mysql_worker",
        "zk_create",
        "zk_list",
        "s3_anon_get",
        "s3_fake_put",
        "internal_api",
        "environment",
    ] {
        assert!(r.contains_key(k), "no {k} in {run}");
    }
    assert_eq!(
        r.keys().filter(|k| k.starts_with("file_")).count(),
        secrets.len(),
        "{run}"
    );
    // Bob's script is intact.
    let url = victim["executable"].as_str().expect("url");
    let object = cluster.blobs().await.get(url).await.expect("bob's script");
    assert_eq!(object.as_ref(), b"#!/bin/sh\necho bob\n");
}
