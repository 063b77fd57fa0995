//! Executables in S3, content-addressed: a file's key is derived from its sha256, so uploading
//! the same script twice stores it once, and a key can never name two different contents.

use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
    retry::RetryConfig, timeout::TimeoutConfig,
};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::time::Duration;

mod stored;
pub use stored::StoredBlob;

/// How to reach the object store.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3Settings {
    /// Endpoint URL for S3-compatible servers (SeaweedFS, MinIO); unset for AWS itself.
    pub endpoint: Option<String>,
    pub region: String,
    pub bucket: String,
    /// Prepended to every key, so several clusters (or tests) can share a bucket.
    pub prefix: String,
    /// Static credentials. SeaweedFS accepts any; unset both to use the AWS default chain.
    #[serde(serialize_with = "distcron_core::secret::expose_opt")]
    pub access_key_id: Option<SecretString>,
    #[serde(serialize_with = "distcron_core::secret::expose_opt")]
    pub secret_access_key: Option<SecretString>,
    /// Path-style addressing (`endpoint/bucket/key`), which S3-compatible servers need.
    pub path_style: bool,
    /// Per-attempt timeout, so an S3 outage fails a request promptly instead of hanging it.
    pub timeout_ms: u64,
}

impl Default for S3Settings {
    fn default() -> Self {
        S3Settings {
            endpoint: Some("http://127.0.0.1:28333".into()),
            region: "us-east-1".into(),
            bucket: "distcron".into(),
            prefix: String::new(),
            access_key_id: Some(SecretString::from("distcron")),
            secret_access_key: Some(SecretString::from("distcron")),
            path_style: true,
            timeout_ms: 10_000,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The store could not be reached or failed: nothing was stored. Maps to HTTP 503.
    #[error("S3 is unavailable: {0}")]
    Unavailable(String),
    #[error("no object at {0}")]
    NotFound(String),
    #[error("`{0}` is not an s3:// URL of this store")]
    BadUrl(String),
}

pub type Result<T, E = BlobError> = std::result::Result<T, E>;

/// Where an uploaded file went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobRef {
    /// `s3://<bucket>/<key>`
    pub url: String,
    /// Lowercase hex sha256 of the content.
    pub sha256: String,
    pub size: u64,
}

/// Hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[derive(Clone, Debug)]
pub struct BlobStore {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
}

fn describe<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    e: &SdkError<E, R>,
) -> String {
    match e {
        SdkError::ServiceError(s) => {
            let err = s.err();
            format!(
                "{}: {}",
                err.code().unwrap_or("service error"),
                err.message().unwrap_or("no message")
            )
        }
        SdkError::TimeoutError(_) => "timed out".into(),
        SdkError::DispatchFailure(d) => format!("cannot connect ({d:?})"),
        other => format!("{other:?}").chars().take(300).collect(),
    }
}

impl BlobStore {
    pub async fn new(settings: &S3Settings) -> BlobStore {
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(2))
            .operation_attempt_timeout(Duration::from_millis(settings.timeout_ms))
            .operation_timeout(Duration::from_millis(settings.timeout_ms * 2))
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(settings.region.clone()))
            .timeout_config(timeouts)
            .retry_config(RetryConfig::standard().with_max_attempts(2));
        if let (Some(id), Some(secret)) = (&settings.access_key_id, &settings.secret_access_key) {
            loader = loader.credentials_provider(Credentials::new(
                id.expose_secret(),
                secret.expose_secret(),
                None,
                None,
                "distcron-settings",
            ));
        }
        if let Some(endpoint) = &settings.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        let shared = loader.load().await;
        let config = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(settings.path_style)
            // S3-compatible servers do not all understand the newer default checksum headers.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            .build();
        BlobStore {
            client: aws_sdk_s3::Client::from_conf(config),
            bucket: settings.bucket.clone(),
            prefix: settings.prefix.clone(),
        }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Creates the bucket if it does not exist.
    pub async fn ensure_bucket(&self) -> Result<()> {
        if self
            .client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .is_ok()
        {
            return Ok(());
        }
        match self
            .client
            .create_bucket()
            .bucket(&self.bucket)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    e.code(),
                    Some("BucketAlreadyOwnedByYou") | Some("BucketAlreadyExists")
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(BlobError::Unavailable(describe(&e))),
        }
    }

    /// One round trip, for readiness checks.
    pub async fn ping(&self) -> Result<()> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| BlobError::Unavailable(describe(&e)))
    }

    fn key_for(&self, sha256: &str) -> String {
        format!("{}blobs/sha256/{sha256}", self.prefix)
    }

    /// Stores `content` under its digest's key. Idempotent.
    pub async fn put(&self, content: Bytes) -> Result<BlobRef> {
        let sha256 = sha256_hex(&content);
        let key = self.key_for(&sha256);
        let size = content.len() as u64;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .content_type("application/octet-stream")
            .metadata("sha256", &sha256)
            .body(ByteStream::from(content))
            .send()
            .await
            .map_err(|e| BlobError::Unavailable(describe(&e)))?;
        Ok(BlobRef {
            url: format!("s3://{}/{key}", self.bucket),
            sha256,
            size,
        })
    }

    /// The bucket and key named by an `s3://` URL of this store.
    pub fn parse_url<'a>(&self, url: &'a str) -> Result<&'a str> {
        url.strip_prefix("s3://")
            .and_then(|rest| rest.split_once('/'))
            .filter(|(bucket, key)| *bucket == self.bucket && !key.is_empty())
            .map(|(_, key)| key)
            .ok_or_else(|| BlobError::BadUrl(url.to_string()))
    }

    /// Reads a whole object. The caller verifies its digest before trusting it.
    pub async fn get(&self, url: &str) -> Result<Bytes> {
        let key = self.parse_url(url)?;
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if e.code() == Some("NoSuchKey") => return Err(BlobError::NotFound(url.into())),
            Err(e) => return Err(BlobError::Unavailable(describe(&e))),
        };
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| BlobError::Unavailable(format!("reading {url}: {e}")))?;
        Ok(body.into_bytes())
    }

    /// Overwrites the object at an existing URL; for tests that tamper with stored files.
    pub async fn overwrite(&self, url: &str, content: Bytes) -> Result<()> {
        let key = self.parse_url(url)?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(content))
            .send()
            .await
            .map_err(|e| BlobError::Unavailable(describe(&e)))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_is_lowercase_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
