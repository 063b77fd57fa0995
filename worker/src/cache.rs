//! The executable cache: scripts and binaries fetched from S3, kept on local disk under their
//! sha256. A file gets its final name, and its execute bit, only after its digest was checked,
//! so a truncated or tampered download is never executed.

use distcron_blob::{BlobError, BlobStore, sha256_hex};
use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub struct BlobCache {
    dir: PathBuf,
    blobs: BlobStore,
    /// One download per digest at a time.
    fetching: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl BlobCache {
    pub fn new(dir: PathBuf, blobs: BlobStore) -> std::io::Result<BlobCache> {
        std::fs::create_dir_all(&dir)?;
        // Root's alone: a run gets its own executable bound into its private /tmp (or a copy),
        // never a path into here, so no run can read another owner's files.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
        Ok(BlobCache {
            dir,
            blobs,
            fetching: Mutex::new(HashMap::new()),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, sha256: &str) -> PathBuf {
        self.dir.join(sha256)
    }

    /// The verified file, if it is cached already.
    pub fn cached(&self, sha256: &str) -> Option<PathBuf> {
        let p = self.path(sha256);
        p.is_file().then_some(p)
    }

    /// The verified file, downloading it first if needed. The error says why the run cannot
    /// execute it.
    pub async fn fetch(&self, url: &str, sha256: &str) -> Result<PathBuf, String> {
        if !distcron_core::job::is_sha256_hex(sha256) {
            return Err(format!("invalid sha256 `{sha256}`"));
        }
        if let Some(p) = self.cached(sha256) {
            return Ok(p);
        }
        let lock = {
            let mut map = self.fetching.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(sha256.to_string()).or_default().clone()
        };
        let _one_at_a_time = lock.lock().await;
        if let Some(p) = self.cached(sha256) {
            return Ok(p);
        }
        let content = self.blobs.get(url).await.map_err(|e| match e {
            BlobError::NotFound(_) => format!("the executable is missing from S3 ({url})"),
            other => format!("cannot fetch the executable from S3: {other}"),
        })?;
        let actual = sha256_hex(&content);
        if actual != sha256 {
            return Err(format!(
                "sha256 mismatch: the object at {url} has sha256 {actual}, the job expects {sha256}; not executed"
            ));
        }
        let dir = self.dir.clone();
        let digest = sha256.to_string();
        tokio::task::spawn_blocking(move || write_verified(&dir, &digest, &content))
            .await
            .map_err(|e| format!("cannot cache the executable: {e}"))?
            .map_err(|e| format!("cannot cache the executable in {}: {e}", self.dir.display()))
    }
}

/// Writes to a temporary name, syncs, makes it executable and renames it into place.
fn write_verified(dir: &Path, sha256: &str, content: &[u8]) -> std::io::Result<PathBuf> {
    let tmp = dir.join(format!(".{sha256}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(content)?;
        f.sync_all()?;
        drop(f);
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))?;
        let path = dir.join(sha256);
        std::fs::rename(&tmp, &path)?;
        Ok(path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
