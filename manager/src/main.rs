//! `distcron-manager`: the leader-elected manager. `distcron-manager migrate` prepares the
//! database and exits; `distcron-manager grant` sets up one role's MySQL account.

use clap::{Parser, Subcommand};
use distcron_manager::Settings;
use std::time::Duration;

#[derive(Parser)]
#[command(version, about = "distcron's leader-elected manager")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the manager (the default).
    Run,
    /// Create the database if missing, apply the migrations and exit.
    Migrate,
    /// Create or update the MySQL account of one role (api, manager or worker) with exactly
    /// that role's grants on the database of `mysql.url`, which must be an administrator's.
    /// Run it after `migrate`.
    Grant(distcron_manager::accounts::GrantArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings: Settings = distcron_service::load_settings()?;
    distcron_service::init_tracing(settings.log_format);
    match cli.command.unwrap_or(Command::Run) {
        Command::Migrate => distcron_manager::migrate(&settings).await,
        Command::Grant(args) => distcron_manager::accounts::grant(&settings, &args).await,
        Command::Run => {
            settings.validate()?;
            let listener = tokio::net::TcpListener::bind(&settings.listen).await?;
            let app = distcron_manager::Manager::build(settings, listener).await?;
            app.run(distcron_service::shutdown_signal(), Duration::from_secs(10))
                .await
        }
    }
}
