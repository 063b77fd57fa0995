//! `distcron`, the command line client of distcron's public REST API: parse the arguments, run
//! the command, and turn its end into an exit code (0 done, 1 an API or connection error, 2 a
//! usage error, which clap reports itself).

mod args;
mod client;
mod commands;
mod config;
mod crontab;
mod import;
mod localzone;
mod output;
mod progress;

use clap::Parser;
use std::process::ExitCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = args::Cli::parse();
    match commands::run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
