//! `distcron login` and `logout`: the saved URL and token (see `config`).

use crate::client::Client;
use crate::config::{self, Target};
use anyhow::{Context, Result};
use std::io::{BufRead, IsTerminal};
use std::path::Path;

pub async fn login(url: Option<&str>, token: Option<&str>, cacert: Option<&Path>) -> Result<()> {
    let Some(url) = url else {
        super::usage("distcron login needs --url URL (or DISTCRON_URL)");
    };
    let token = match token {
        Some(t) => t.to_string(),
        None => read_token()?,
    };
    if token.is_empty() {
        super::usage("no token given: pass --token, set DISTCRON_TOKEN, or type it");
    }
    let target = Target {
        url: url.trim_end_matches('/').to_string(),
        token,
        cacert: cacert.map(Path::to_path_buf),
    };
    // A token the API refuses is not saved.
    config::resolve(Some(&target.url), Some(&target.token), cacert)?;
    Client::new(&target)?
        .get("/jobs", &[("limit", "1".to_string())])
        .await
        .context("checking the token")?;
    let path = config::save(&target)?;
    eprintln!("Logged in to {}; saved in {}", target.url, path.display());
    Ok(())
}

/// The token from standard input: typed without echo at a terminal, else its first line.
fn read_token() -> Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Token: ");
        return Ok(rpassword::read_password()
            .context("reading the token")?
            .trim()
            .to_string());
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("reading the token from standard input")?;
    Ok(line.trim().to_string())
}

pub fn logout() -> Result<()> {
    let path = config::path()?;
    if config::remove()? {
        eprintln!("Logged out: removed {}", path.display());
    } else {
        eprintln!("Not logged in ({} does not exist)", path.display());
    }
    Ok(())
}
