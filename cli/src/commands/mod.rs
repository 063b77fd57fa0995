//! One module per noun; `run` hands each subcommand what it needs: the printer, and the API
//! client (built from the resolved URL and token) for those that call the API.

pub mod audit;
pub mod jobs;
pub mod login;
pub mod logs;
pub mod preview;
pub mod runs;
pub mod spec;
pub mod ticks;
pub mod users;
pub mod workers;

use crate::args::{Cli, Command};
use crate::client::Client;
use crate::output::Printer;
use crate::{config, import};
use clap::CommandFactory;
use std::process::ExitCode;

/// What a subcommand works with.
pub struct Ctx {
    pub client: Client,
    pub out: Printer,
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let g = cli.global;
    let out = Printer {
        format: g.output,
        utc: g.utc,
    };
    let ctx = || -> anyhow::Result<Ctx> {
        let target = config::resolve(g.url.as_deref(), g.token.as_deref(), g.cacert.as_deref())?;
        Ok(Ctx {
            client: Client::new(&target)?,
            out,
        })
    };
    match cli.command {
        Command::Login => {
            login::login(g.url.as_deref(), g.token.as_deref(), g.cacert.as_deref()).await?
        }
        Command::Logout => login::logout()?,
        Command::Completions(a) => {
            let mut cmd = Cli::command();
            clap_complete::generate(a.shell, &mut cmd, "distcron", &mut std::io::stdout());
        }
        Command::ImportCrontab(a) if a.dry_run => import::dry_run(&a, out)?,
        Command::ImportCrontab(a) => return import::import(&ctx()?, &a).await,
        Command::Jobs(c) => jobs::run(&ctx, c).await?,
        Command::Runs(c) => runs::run(&ctx()?, c).await?,
        Command::Logs(a) => return logs::run(&ctx()?, a).await,
        Command::Ticks(a) => ticks::run(&ctx()?, a).await?,
        Command::Workers(c) => workers::run(&ctx()?, c).await?,
        Command::Users(c) => users::run(&ctx()?, c).await?,
        Command::Preview(a) => preview::run(&ctx()?, a).await?,
        Command::Audit(a) => audit::run(&ctx()?, a).await?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `(name, value)` query pairs of the options that are set.
pub fn query<const N: usize>(
    pairs: [(&'static str, Option<String>); N],
) -> Vec<(&'static str, String)> {
    pairs
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect()
}

/// A usage error found after parsing: printed as clap prints its own, exit code 2.
pub fn usage(message: &str) -> ! {
    Cli::command()
        .error(clap::error::ErrorKind::MissingRequiredArgument, message)
        .exit()
}
