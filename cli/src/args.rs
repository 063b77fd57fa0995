//! The command line: global options and the noun-verb subcommands, one `Args` struct or
//! subcommand enum per noun (in `commands/`).

use crate::commands::{
    audit::AuditArgs, jobs::JobsCommand, logs::LogsArgs, preview::PreviewArgs, runs::RunsCommand,
    ticks::TicksArgs, users::UsersCommand, workers::WorkersCommand,
};
use crate::import::ImportArgs;
use crate::output::Format;
use clap::{Args, Parser, Subcommand};

/// distcron's command line: jobs, runs and their output, workers, users and the audit log,
/// through the public REST API.
#[derive(Debug, Parser)]
#[command(name = "distcron", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand takes.
#[derive(Debug, Args)]
pub struct Global {
    /// The API's URL (HAProxy's), e.g. http://127.0.0.1:30000 [default: the saved login's]
    #[arg(long, env = "DISTCRON_URL", global = true)]
    pub url: Option<String>,
    /// A PEM certificate to trust for an https:// URL beside the system's, e.g. make up's
    /// .distcron/tls/cert.pem [default: the saved login's]
    #[arg(long, env = "DISTCRON_CACERT", global = true)]
    pub cacert: Option<std::path::PathBuf>,
    /// The API token [default: the saved login's]. Prefer DISTCRON_TOKEN or `distcron login`:
    /// a command line is visible to every user of the machine.
    #[arg(long, env = "DISTCRON_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// How to print answers: human tables, or the API's JSON (a JSON array for lists).
    #[arg(short, long, value_enum, default_value_t = Format::Table, global = true)]
    pub output: Format,
    /// Show times in UTC rather than in the local time zone.
    #[arg(long, global = true)]
    pub utc: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a token against the API (--url, with --token, DISTCRON_TOKEN or the token on
    /// standard input, never echoed) and save both for later commands.
    Login,
    /// Forget the saved URL and token.
    Logout,
    /// Create, list, show, edit, delete, pause, resume, trigger and kill jobs.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Runs under way, one run, kill a run.
    #[command(subcommand)]
    Runs(RunsCommand),
    /// A run's output, or follow it live (-f) until the run ends.
    Logs(LogsArgs),
    /// Every scheduled time of a job in a window, and what became of it.
    Ticks(TicksArgs),
    /// Live workers; drain and undrain (admins).
    #[command(subcommand)]
    Workers(WorkersCommand),
    /// Create users, give them a new token, disable them.
    #[command(subcommand)]
    Users(UsersCommand),
    /// When would a schedule fire?
    Preview(PreviewArgs),
    /// The audit log (admins): who did what.
    Audit(AuditArgs),
    /// Turn a crontab into jobs.
    ImportCrontab(ImportArgs),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}
