//! What the store holds, for the leader's sweep of blobs no job needs any more: listing the
//! blobs with their age, and deleting one only if it was not stored again meanwhile.

use crate::{BlobError, BlobStore, Result, describe};
use aws_sdk_s3::error::ProvideErrorMetadata;
use std::time::SystemTime;

/// One stored blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredBlob {
    pub key: String,
    /// Its `s3://bucket/key` URL, as jobs name it.
    pub url: String,
    /// The sha256 its key names.
    pub sha256: String,
    pub last_modified: SystemTime,
}

impl BlobStore {
    /// Every blob under this store's prefix, a page at a time (`after`: the last key seen).
    pub async fn list_blobs(&self, after: Option<&str>, page: i32) -> Result<Vec<StoredBlob>> {
        let prefix = format!("{}blobs/sha256/", self.prefix);
        let out = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&prefix)
            .set_start_after(after.map(str::to_string))
            .max_keys(page)
            .send()
            .await
            .map_err(|e| BlobError::Unavailable(describe(&e)))?;
        Ok(out
            .contents()
            .iter()
            .filter_map(|o| {
                let key = o.key()?;
                let modified = o
                    .last_modified()
                    .and_then(|t| SystemTime::try_from(*t).ok())?;
                Some(StoredBlob {
                    key: key.to_string(),
                    url: format!("s3://{}/{key}", self.bucket),
                    sha256: key.strip_prefix(&prefix)?.to_string(),
                    last_modified: modified,
                })
            })
            .collect())
    }

    /// When the object at `url` was last stored; `None` if there is none.
    pub async fn last_modified(&self, url: &str) -> Result<Option<SystemTime>> {
        let key = self.parse_url(url)?;
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => Ok(out
                .last_modified()
                .and_then(|t| SystemTime::try_from(*t).ok())),
            Err(e)
                if matches!(e.code(), Some("NotFound") | Some("NoSuchKey"))
                    || e.raw_response().is_some_and(|r| r.status().as_u16() == 404) =>
            {
                Ok(None)
            }
            Err(e) => Err(BlobError::Unavailable(describe(&e))),
        }
    }

    /// Deletes the object at `url` if it was last stored before `before` (an upload since
    /// then means someone needs it). Returns whether it deleted it.
    pub async fn delete_if_older(&self, url: &str, before: SystemTime) -> Result<bool> {
        match self.last_modified(url).await? {
            Some(t) if t < before => {}
            _ => return Ok(false),
        }
        let key = self.parse_url(url)?;
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| BlobError::Unavailable(describe(&e)))?;
        Ok(true)
    }
}
