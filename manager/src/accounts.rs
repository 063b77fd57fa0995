//! `distcron-manager grant`: one role's MySQL account, with exactly that role's grants
//! (`distcron_store::accounts`), set up by an administrator's connection.

use crate::Settings;
use anyhow::Context;
use distcron_store::Store;
use distcron_store::accounts::Role;
use secrecy::{ExposeSecret, SecretString};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct GrantArgs {
    /// api, manager or worker.
    #[arg(long)]
    pub role: Role,
    /// The account's user name.
    #[arg(long)]
    pub user: String,
    /// The host part of the account (`%`: any).
    #[arg(long, default_value = "%")]
    pub host: String,
    /// A file holding the account's password (never given on the command line).
    #[arg(long)]
    pub password_file: PathBuf,
}

pub async fn grant(settings: &Settings, args: &GrantArgs) -> anyhow::Result<()> {
    let password = std::fs::read_to_string(&args.password_file)
        .with_context(|| format!("reading {}", args.password_file.display()))?;
    let password = SecretString::from(password.trim().to_string());
    anyhow::ensure!(
        password.expose_secret().len() >= 16,
        "the password in {} is too short (16 characters at least)",
        args.password_file.display()
    );
    let url = settings.mysql.url.expose_secret().to_string();
    let database = url
        .rsplit_once('/')
        .map(|(_, db)| db.split('?').next().unwrap_or_default().to_string())
        .filter(|db| !db.is_empty() && !db.contains('@'))
        .context("mysql.url names no database")?;
    let store = Store::connect_lazy(&settings.mysql)?;
    store
        .grant_role(args.role, &args.user, &args.host, &password, &database)
        .await
        .with_context(|| format!("setting up the {:?} account {}", args.role, args.user))?;
    tracing::info!(role = ?args.role, user = %args.user, host = %args.host, database = %database, "account ready");
    Ok(())
}
