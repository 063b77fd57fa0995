//! distcron-bench (`make bench`): how late distcron starts jobs, measured by the jobs
//! themselves, against a running cluster.
//!
//! Every job runs `date +%s.%N >> <witness file>` through `/bin/sh`; the line it writes minus
//! its scheduled time is its start lag. The scenarios (`scenario/`) are bursts (N jobs due
//! at the same second, compared with how fast this machine can start N such processes at all,
//! `floor.rs`) and spreads (N jobs a minute spread over its seconds). The report (`report.rs`)
//! goes to stdout as a table and to `bench/results/` as JSON and Markdown. After the
//! scenarios, `control.rs` measures how fast a run asked for now starts and how fast a kill
//! leaves no process of its run (`--control-runs`, one at a time).
//!
//! Benchmarks are no tests: a missed goal is a figure in the report, not a failure. The exit
//! status is non-zero only when the benchmark could not run (no cluster, a scenario that could
//! not create its jobs, ...).

mod api;
mod control;
mod cpu;
mod floor;
mod live_output;
mod machine;
mod report;
mod runs_db;
mod scenario;
mod starts;
mod stats;
mod witness;

use anyhow::Context;
use chrono::Utc;
use clap::Parser;
use machine::{Cluster, Machine};
use report::Report;
use scenario::{Ctx, Scenario};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    about = "distcron's start-lag benchmark: bursts and spreads of jobs on a running cluster"
)]
struct Args {
    /// The cluster's API (HAProxy in front of the API servers).
    #[arg(long, env = "DC_BENCH_URL", default_value = "http://127.0.0.1:30000")]
    url: String,
    /// A file holding an admin's API token.
    #[arg(long, default_value = ".distcron/admin.token")]
    token_file: PathBuf,
    /// The cluster's MySQL database, for the cross-check of the `runs` rows.
    #[arg(
        long,
        env = "DC_BENCH_MYSQL",
        default_value = "mysql://root@127.0.0.1:3306/distcron"
    )]
    mysql: String,
    /// Which scenarios, in order: burst-N, spread-N and held-N.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "burst-1000,burst-10000,spread-10000,held-1000"
    )]
    scenarios: Vec<Scenario>,
    /// Where the jobs write their witness files (a directory per scenario, mode 1777). A tmpfs
    /// keeps the file system out of the figures (the floor writes to the same place).
    #[arg(long, default_value = "/dev/shm/distcron-bench")]
    witness_dir: PathBuf,
    /// Keep the witness files after a scenario.
    #[arg(long)]
    keep_witness: bool,
    /// Requests in flight while creating and deleting jobs.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// The measured instant is at least this many seconds after the last job was assigned.
    #[arg(long, default_value_t = 10)]
    lead_seconds: u64,
    /// Where the JSON and Markdown results go.
    #[arg(long, default_value = "bench/results")]
    results_dir: PathBuf,
    /// A README whose `<!-- bench:latest:begin -->` ... `<!-- bench:latest:end -->` block gets
    /// the latest table.
    #[arg(long)]
    readme: Option<PathBuf>,
    /// Runs asked for now and then killed, one at a time, for the control latencies (0: none).
    #[arg(long, default_value_t = 100)]
    control_runs: usize,
    /// The cluster's build profile; `unknown`: read it from the workers' executables.
    #[arg(long, default_value = "unknown")]
    cluster_profile: String,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    match run(args).await {
        Ok(complete) => std::process::exit(if complete { 0 } else { 1 }),
        Err(e) => {
            eprintln!("error: the benchmark could not run: {e:#}");
            std::process::exit(1);
        }
    }
}

/// Ok(false): some scenario could not run (the report says which).
async fn run(args: Args) -> anyhow::Result<bool> {
    let started_at = Utc::now();
    let token = std::fs::read_to_string(&args.token_file)
        .with_context(|| format!("reading the API token from {}", args.token_file.display()))?
        .trim()
        .to_string();
    let api = api::Api::new(&args.url, token)?;
    let workers = api
        .workers()
        .await
        .with_context(|| format!("asking {} for its workers (is the cluster up?)", args.url))?;
    anyhow::ensure!(!workers.is_empty(), "the cluster has no live worker");
    let db = runs_db::RunsDb::connect(&args.mysql)?;
    db.ping()
        .await
        .with_context(|| format!("reading the runs table at {}", args.mysql))?;
    let (cluster, worker_pids, mysql_pids) = probe_cluster(&api, &workers, &args).await;
    let machine = Machine::probe();
    eprintln!("Machine: {}", machine.describe());
    eprintln!(
        "Cluster: {} ({} build, {} workers)",
        cluster.url, cluster.profile, cluster.workers
    );

    delete_leftovers(&api, args.concurrency).await?;

    let ctx = Ctx {
        api,
        db,
        witness_root: args
            .witness_dir
            .join(started_at.format("%Y%m%dT%H%M%SZ").to_string()),
        concurrency: args.concurrency.max(1),
        lead: Duration::from_secs(args.lead_seconds),
        name_prefix: format!("bench-{}", started_at.format("%Y%m%dT%H%M%SZ")),
        keep_witness: args.keep_witness,
        worker_pids,
        mysql_pids,
    };
    let mut scenarios = Vec::new();
    let mut errors = Vec::new();
    for s in &args.scenarios {
        match ctx.run(*s).await {
            Ok(r) => scenarios.push(r),
            Err(e) => {
                eprintln!("error: {s} could not run: {e:#}");
                errors.push(format!("{s}: {e:#}"));
            }
        }
    }
    let control = if args.control_runs > 0 {
        let dir = ctx.witness_root.join("control");
        let name = format!("{}-control", ctx.name_prefix);
        match control::measure(&ctx.api, &dir, &name, args.control_runs).await {
            Ok(c) => {
                if let Some(e) = &c.live_output_error {
                    eprintln!("error: the live-output latency could not be measured: {e}");
                    errors.push(format!("live output: {e}"));
                }
                Some(c)
            }
            Err(e) => {
                eprintln!("error: the control latencies could not be measured: {e:#}");
                errors.push(format!("control: {e:#}"));
                None
            }
        }
    } else {
        None
    };
    if !ctx.keep_witness {
        let _ = std::fs::remove_dir_all(ctx.witness_root.join("control"));
        let _ = std::fs::remove_dir(&ctx.witness_root);
    }
    let report = Report {
        started_at,
        finished_at: Utc::now(),
        machine,
        cluster,
        scenarios,
        errors,
        control,
    };
    println!();
    print!("{}", report.text());
    for p in report.save(&args.results_dir)? {
        eprintln!("Wrote {}", p.display());
    }
    if let Some(readme) = &args.readme {
        match report.update_readme(readme) {
            Ok(()) => eprintln!("Updated {}", readme.display()),
            Err(e) => eprintln!("warning: {e:#}"),
        }
    }
    Ok(report.errors.is_empty())
}

/// What the report says about the cluster, and the processes whose CPU it accounts: the
/// workers' (by their listening ports) and MySQL's.
async fn probe_cluster(
    api: &api::Api,
    workers: &[api::Worker],
    args: &Args,
) -> (Cluster, Vec<u32>, Vec<u32>) {
    let mut cgroups = None;
    for w in workers {
        if let Some(addr) = &w.addr
            && let Some(c) = api.worker_cgroups(addr).await
        {
            cgroups = Some(cgroups.unwrap_or(true) && c);
        }
    }
    let worker_ports: Vec<u16> = workers
        .iter()
        .filter_map(|w| w.addr.as_deref().and_then(cpu::port_of))
        .collect();
    let worker_pids = cpu::pids_listening_on(&worker_ports);
    let mysql_pids = cpu::pids_listening_on(&[mysql_port_of(&args.mysql)]);
    let profile = if args.cluster_profile != "unknown" {
        args.cluster_profile.clone()
    } else {
        cpu::profile_of(&worker_pids).unwrap_or_else(|| "unknown".into())
    };
    let cluster = Cluster {
        url: api.base().to_string(),
        profile,
        workers: workers.len(),
        cgroups,
    };
    (cluster, worker_pids, mysql_pids)
}

/// The port of a `mysql://user:password@host:port/db` URL (3306 if it names none).
fn mysql_port_of(url: &str) -> u16 {
    url.rsplit_once('@')
        .map_or(url, |(_, host)| host)
        .split('/')
        .next()
        .and_then(|h| h.rsplit_once(':'))
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or(3306)
}

/// Jobs a crashed earlier run left on the schedule would fire along with ours.
async fn delete_leftovers(api: &api::Api, concurrency: usize) -> anyhow::Result<()> {
    let leftovers = api.stray_jobs("bench-").await?;
    if !leftovers.is_empty() {
        eprintln!(
            "Deleting {} jobs left by an earlier benchmark run",
            leftovers.len()
        );
        let ids: Vec<String> = leftovers.into_iter().map(|j| j.id).collect();
        api.delete_all(&ids, concurrency).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::mysql_port_of;

    #[test]
    fn the_mysql_port_comes_from_the_url() {
        assert_eq!(mysql_port_of("mysql://u:p@127.0.0.1:25406/distcron"), 25406);
        assert_eq!(mysql_port_of("mysql://u:p:w@db:3307"), 3307);
        assert_eq!(mysql_port_of("mysql://u@db/distcron"), 3306);
    }
}
