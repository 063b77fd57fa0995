//! Settings: defaults from the type, then an optional TOML file, then `DISTCRON_*` environment
//! variables (nested fields with `__`, e.g. `DISTCRON_MYSQL__URL`), last one wins. Every
//! settings struct refuses unknown fields, so a typo or a setting meant for another process
//! stops the process with an error naming it, instead of being silently ignored. The
//! scripts' and the test harness's own knobs use the `DC_` prefix, which no process reads.

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
    // `DISTCRON_CONFIG` names the file itself; it is not a setting.
    let env = env
        .split("__")
        .filter(|k| !k.as_str().eq_ignore_ascii_case("config"));
    figment.merge(env).extract().map_err(explain)
}

/// The settings error as an operator reads it: an unknown setting (a typo such as
/// `DISTCRON_MYSQL__URLL`, or a setting of another process) is named with its variable and
/// the fields it could have meant; any other error keeps figment's own wording.
fn explain(errors: figment::Error) -> anyhow::Error {
    let lines: Vec<String> = errors
        .into_iter()
        .map(|e| match &e.kind {
            figment::error::Kind::UnknownField(field, expected) => {
                let mut path = e.path.clone();
                if path.last() != Some(field) {
                    path.push(field.clone());
                }
                let source = e
                    .metadata
                    .as_ref()
                    .map(|m| format!(", from {}", m.name))
                    .unwrap_or_default();
                let within = match &path[..path.len() - 1] {
                    [] => "this process".to_string(),
                    parent => format!("`{}`", parent.join(".")),
                };
                format!(
                    "unknown setting `{}` ({}{source}); {within} has: {}",
                    path.join("."),
                    env_name(&path),
                    expected.join(", ")
                )
            }
            _ => e.to_string(),
        })
        .collect();
    anyhow::anyhow!(
        "invalid settings (defaults, {CONFIG_FILE_VAR} file, DISTCRON_* variables):\n  {}",
        lines.join("\n  ")
    )
}

/// `mysql.url` → `DISTCRON_MYSQL__URL`.
fn env_name(path: &[String]) -> String {
    format!("DISTCRON_{}", path.join("__").to_ascii_uppercase())
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's test jail returns its own large error type
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    #[serde(default, deny_unknown_fields)]
    pub(super) struct Nested {
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
    #[serde(default, deny_unknown_fields)]
    pub(super) struct Example {
        listen: String,
        mysql: Nested,
    }

    #[test]
    fn environment_overrides_nested_fields_and_keeps_other_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("DTEST_MYSQL__URL", "mysql://other");
            jail.set_env("DTEST_LISTEN", "127.0.0.1:1");
            jail.set_env("DTEST_CONFIG", "names the file, not a setting");
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

#[cfg(test)]
#[allow(clippy::result_large_err)]
mod refusal {
    use super::tests::Example;
    use super::*;

    fn refused(vars: &[(&str, &str)], file: Option<&str>) -> String {
        let mut message = String::new();
        figment::Jail::expect_with(|jail| {
            for (k, v) in vars {
                jail.set_env(k, v);
            }
            if let Some(body) = file {
                jail.create_file("s.toml", body)?;
            }
            let r: anyhow::Result<Example> =
                load_from(file.map(|_| Path::new("s.toml")), Env::prefixed("DTEST_"));
            message = format!("{:#}", r.expect_err("an unknown setting must be refused"));
            Ok(())
        });
        message
    }

    #[test]
    fn a_misspelt_nested_variable_is_refused_by_name() {
        let m = refused(&[("DTEST_MYSQL__URLL", "mysql://typo")], None);
        assert!(m.contains("unknown setting `mysql.urll`"), "{m}");
        assert!(m.contains("DISTCRON_MYSQL__URLL"), "{m}");
        assert!(m.contains("url, max"), "{m}");
    }

    #[test]
    fn an_unknown_top_level_variable_is_refused_by_name() {
        let m = refused(&[("DTEST_CAPACITY", "5")], None);
        assert!(m.contains("unknown setting `capacity`"), "{m}");
        assert!(m.contains("DISTCRON_CAPACITY"), "{m}");
    }

    #[test]
    fn an_unknown_key_in_the_file_is_refused_by_name() {
        let m = refused(&[], Some("listen = \"x\"\nlisten_port = 5\n"));
        assert!(m.contains("unknown setting `listen_port`"), "{m}");
        assert!(m.contains("TOML file"), "{m}");
    }
}
