//! Serializing secrets in settings. Settings are layered with figment, whose defaults go
//! through `Serialize`, so a secret must serialize to its value; `Debug` and logs still show
//! it redacted. Use as `#[serde(serialize_with = "distcron_core::secret::expose")]`.

use secrecy::{ExposeSecret, SecretString};
use serde::Serializer;

pub fn expose<S: Serializer>(secret: &SecretString, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(secret.expose_secret())
}

pub fn expose_opt<S: Serializer>(secret: &Option<SecretString>, ser: S) -> Result<S::Ok, S::Error> {
    match secret {
        Some(s) => ser.serialize_some(s.expose_secret()),
        None => ser.serialize_none(),
    }
}
