//! Settings: defaults from the type, then an optional TOML file, then `DISTCRON_*` environment
//! variables (nested fields with `__`, e.g. `DISTCRON_MYSQL__URL`), last one wins.

use anyhow::Context;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Serialize, de::DeserializeOwned};
use std::path::Path;

/// Environment variable naming an optional TOML settings file.
pub const CONFIG_FILE_VAR: &str = "DISTCRON_CONFIG";

/// Loads `T` from its defaults, the file named by `DISTCRON_CONFIG` (if set) and the
/// environment.
pub fn load_settings<T: Serialize + DeserializeOwned + Default>() -> anyhow::Result<T> {
    let file = std::env::var_os(CONFIG_FILE_VAR);
    load_from(file.as_deref().map(Path::new), Env::prefixed("DISTCRON_"))
}

fn load_from<T: Serialize + DeserializeOwned + Default>(
    file: Option<&Path>,
    env: Env,
) -> anyhow::Result<T> {
    let mut figment = Figment::from(Serialized::defaults(T::default()));
    if let Some(path) = file {
        anyhow::ensure!(
            path.exists(),
            "settings file {} does not exist",
            path.display()
        );
        figment = figment.merge(Toml::file(path));
    }
    // `DISTCRON_TEST_*` variables belong to the test harness, and `DISTCRON_CONFIG` names the
    // file itself; neither is a setting.
    let env = env.split("__").filter(|k| {
        let k = k.as_str().to_ascii_lowercase();
        k != "config" && !k.starts_with("test_")
    });
    let figment = figment.merge(env);
    let settings: T = figment
        .extract()
        .context("invalid settings (defaults, DISTCRON_CONFIG file, DISTCRON_* variables)")?;
    for key in unknown_keys(&figment, &settings) {
        // Tracing is not set up yet (its format is a setting), so this goes to stderr.
        eprintln!(
            "warning: ignoring unknown setting `{key}` (DISTCRON_{})",
            key.to_uppercase()
        );
    }
    Ok(settings)
}

/// Top-level keys present in the sources that `T` does not have. Nested sections refuse
/// unknown keys themselves; the top level cannot, because other tools (the cluster scripts)
/// use the DISTCRON_ prefix for their own variables.
fn unknown_keys<T: Serialize>(figment: &Figment, settings: &T) -> Vec<String> {
    let known = match serde_json::to_value(settings) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => return Vec::new(),
    };
    let present: serde_json::Value = figment.extract().unwrap_or_default();
    match present {
        serde_json::Value::Object(map) => map
            .keys()
            .filter(|k| !known.contains_key(*k))
            .cloned()
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's test jail returns its own large error type
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    #[serde(default, deny_unknown_fields)]
    struct Nested {
        url: String,
        max: u32,
    }
    impl Default for Nested {
        fn default() -> Self {
            Nested {
                url: "mysql://default".into(),
                max: 5,
            }
        }
    }
    #[derive(Debug, Serialize, Deserialize, PartialEq, Default)]
    #[serde(default)]
    struct Example {
        listen: String,
        mysql: Nested,
    }

    #[test]
    fn environment_overrides_nested_fields_and_keeps_other_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("DTEST_MYSQL__URL", "mysql://other");
            jail.set_env("DTEST_LISTEN", "127.0.0.1:1");
            jail.set_env("DTEST_TEST_ZK", "ignored");
            let s: Example = load_from(None, Env::prefixed("DTEST_")).map_err(|e| e.to_string())?;
            assert_eq!(s.listen, "127.0.0.1:1");
            assert_eq!(
                s.mysql,
                Nested {
                    url: "mysql://other".into(),
                    max: 5
                }
            );
            Ok(())
        });
    }

    #[test]
    fn a_file_is_read_and_the_environment_wins_over_it() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("s.toml", "listen = \"file\"\n[mysql]\nmax = 9\n")?;
            jail.set_env("DTEST_LISTEN", "env");
            let s: Example = load_from(Some(Path::new("s.toml")), Env::prefixed("DTEST_"))
                .map_err(|e| e.to_string())?;
            assert_eq!(s.listen, "env");
            assert_eq!(s.mysql.max, 9);
            Ok(())
        });
    }

    #[test]
    fn a_missing_file_is_an_error() {
        let r: anyhow::Result<Example> = load_from(
            Some(Path::new("/nonexistent/x.toml")),
            Env::prefixed("DTEST_"),
        );
        assert!(r.is_err());
    }
}
