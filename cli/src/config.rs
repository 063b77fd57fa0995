//! Where the API is and who the caller is: `--url`/`--token` beat `DISTCRON_URL`/
//! `DISTCRON_TOKEN` (clap reads both into the same options), which beat the file `distcron
//! login` saves, `$XDG_CONFIG_HOME/distcron/config.toml` (else `~/.config/...`). The file holds
//! a secret, sent only to the URL saved with it; it is created mode 0600 in a directory of mode
//! 0700, never readable by others, not even for a moment.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// What `distcron login` saves.
#[derive(Serialize, Deserialize, Default)]
pub struct Saved {
    /// The API's URL.
    pub url: Option<String>,
    /// The caller's token.
    pub token: Option<String>,
    /// A certificate to trust for the URL (`--cacert`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cacert: Option<PathBuf>,
}

/// The API's URL and the token to show it, resolved.
#[derive(Clone)]
pub struct Target {
    pub url: String,
    pub token: String,
    /// A certificate to trust beside the system's (`--cacert`).
    pub cacert: Option<PathBuf>,
}

// The token never appears in a debug print.
impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("url", &self.url)
            .field("token", &"<hidden>")
            .finish()
    }
}

/// The saved login's file.
pub fn path() -> Result<PathBuf> {
    let dir =
        dirs::config_dir().context("no configuration directory: set HOME or XDG_CONFIG_HOME")?;
    Ok(dir.join("distcron").join("config.toml"))
}

/// The saved login, if there is one.
pub fn load() -> Result<Saved> {
    let path = path()?;
    match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text).with_context(|| format!("reading {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Saved::default()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// The URL and token from the options (flags or environment), else from the saved login.
pub fn resolve(url: Option<&str>, token: Option<&str>, cacert: Option<&Path>) -> Result<Target> {
    let saved = if url.is_some() && token.is_some() {
        Saved::default()
    } else {
        load()?
    };
    let saved_url = saved
        .url
        .as_deref()
        .map(|u| u.trim_end_matches('/').to_string());
    let Some(url) = url
        .map(|u| u.trim_end_matches('/').to_string())
        .or(saved_url.clone())
    else {
        crate::commands::usage(
            "no API URL: pass --url, set DISTCRON_URL, or run `distcron login --url URL`",
        );
    };
    if !url.starts_with("http://") && !url.starts_with("https://") {
        crate::commands::usage(&format!(
            "{url}: the API's URL starts with http:// or https://"
        ));
    }
    // The saved token (and certificate) go only with the URL they were saved for.
    let same = saved_url.as_deref() == Some(url.as_str());
    let saved_token = saved.token.filter(|_| same);
    let cacert = cacert
        .map(Path::to_path_buf)
        .or(saved.cacert.filter(|_| same));
    let Some(token) = token.map(str::to_string).or(saved_token) else {
        crate::commands::usage(&format!(
            "no API token for {url}: pass --token, set DISTCRON_TOKEN, or run `distcron login --url {url}`"
        ));
    };
    Ok(Target { url, token, cacert })
}

/// Saves the login: written to a new file of mode 0600 beside the old one, then renamed over
/// it, so the file is whole and private at every moment.
pub fn save(target: &Target) -> Result<PathBuf> {
    let path = path()?;
    let dir = path.parent().expect("a file in a directory");
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    // An existing directory keeps its mode from `create`: make it private too.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("making {} private", dir.display()))?;
    let text = toml::to_string(&Saved {
        url: Some(target.url.clone()),
        token: Some(target.token.clone()),
        cacert: target.cacert.clone(),
    })?;
    let tmp = dir.join(format!(".config.toml.{}", std::process::id()));
    write_private(&tmp, &text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let _ = std::fs::remove_file(path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

/// Removes the saved login; false if there was none.
pub fn remove() -> Result<bool> {
    let path = path()?;
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| format!("removing {}", path.display())),
    }
}
