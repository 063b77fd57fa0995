//! `distcron users create|rotate|disable`. A new token is shown once, in the answer: it is the
//! new user's, never the caller's own.

use super::Ctx;
use crate::client::seg;
use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::json;

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a user (admins); its token is in the answer, shown once.
    Create(CreateArgs),
    /// Give a user a new token (yourself, or anyone for admins); the old one stops working.
    Rotate(NameArg),
    /// Disable a user (admins): its token stops working, its jobs finish, its runs stop.
    Disable(NameArg),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The user's name.
    pub name: String,
    /// An administrator.
    #[arg(long)]
    pub admin: bool,
}

#[derive(Debug, Args)]
pub struct NameArg {
    /// The user's name.
    pub name: String,
}

pub async fn run(ctx: &Ctx, cmd: UsersCommand) -> Result<()> {
    let c = &ctx.client;
    let answer = match cmd {
        UsersCommand::Create(a) => {
            let body = json!({"name": a.name, "admin": a.admin});
            c.post("/users", Some(&body), None).await?
        }
        UsersCommand::Rotate(a) => {
            // The saved login's token, if it is the one this call uses, is the caller's own.
            let saved = crate::config::load().unwrap_or_default();
            let (url, token) = c.login();
            let saved_is_ours = saved.url.as_deref().map(|u| u.trim_end_matches('/')) == Some(url)
                && saved.token.as_deref() == Some(token);
            let me = if saved_is_ours {
                c.get("/whoami", &[]).await.ok()
            } else {
                None
            };
            let answer = c
                .post(&format!("/users/{}/token", seg(&a.name)), None, None)
                .await?;
            if me.is_some_and(|me| me["name"] == a.name.as_str()) {
                eprintln!(
                    "distcron: the saved login's token no longer works (it was {}'s old one); \
                     log in again with the new token: distcron login --url {url}",
                    a.name
                );
            }
            answer
        }
        UsersCommand::Disable(a) => c.delete(&format!("/users/{}", seg(&a.name))).await?,
    };
    ctx.out.one(&answer);
    Ok(())
}
