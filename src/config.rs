//! Loads the whole configuration: built-in defaults < `rce.toml` < `RCE_*`
//! environment variables (`__` separates nesting levels, so
//! `RCE_WORKER__CONCURRENCY=4` sets `worker.concurrency`). Each module owns its
//! settings struct and defaults; this file only composes them.

use crate::actors::settings::{SupervisionSettings, WorkerSettings};
use crate::app::ShutdownSettings;
use crate::auth::AuthSettings;
use crate::compat::CompatSettings;
use crate::http::HttpSettings;
use crate::queue::RedisSettings;
use crate::quota::QuotaSettings;
use crate::sandbox::SandboxSettings;
use crate::store::StoreSettings;
use crate::telemetry::{LogSettings, TelemetrySettings};
use crate::ws::WsSettings;
use serde::Deserialize;
use std::path::Path;

/// `RCE_*` variables that are not settings keys: the config file's path
/// (read by the command line).
const NOT_SETTINGS: &[&str] = &["RCE_CONFIG"];

/// Every setting of one rce process.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// `RCE_ENV`: `development` (the default) or `production`, where unsafe
    /// settings (the built-in JWT secret) stop the server at start-up.
    pub env: String,
    pub http: HttpSettings,
    pub ws: WsSettings,
    pub auth: AuthSettings,
    pub quota: QuotaSettings,
    pub redis: RedisSettings,
    pub worker: WorkerSettings,
    pub sandbox: SandboxSettings,
    pub store: StoreSettings,
    pub log: LogSettings,
    /// The Judge0 and Piston compatibility APIs.
    pub compat: CompatSettings,
    pub telemetry: TelemetrySettings,
    pub shutdown: ShutdownSettings,
    pub supervision: SupervisionSettings,
    /// `RCE_MONGODB_URL`, the conventional name for `store.mongodb_url`
    /// (which wins when both are set).
    pub mongodb_url: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            env: "development".into(),
            http: HttpSettings::default(),
            ws: WsSettings::default(),
            auth: AuthSettings::default(),
            quota: QuotaSettings::default(),
            redis: RedisSettings::default(),
            worker: WorkerSettings::default(),
            sandbox: SandboxSettings::default(),
            store: StoreSettings::default(),
            log: LogSettings::default(),
            compat: CompatSettings::default(),
            telemetry: TelemetrySettings::default(),
            shutdown: ShutdownSettings::default(),
            supervision: SupervisionSettings::default(),
            mongodb_url: None,
        }
    }
}

impl Settings {
    /// Reads `file` (optional) and the `RCE_*` environment over the defaults.
    pub fn load(file: &Path) -> Result<Settings, config::ConfigError> {
        Settings::from_sources(Some(file), std::env::vars())
    }

    /// The settings `vars` (an environment: `RCE_*` keys are settings, the
    /// rest is ignored) give over the defaults, without reading a file. An
    /// unknown `RCE_*` key is an error, so deployment manifests can be
    /// checked against the real set of keys.
    pub fn from_env(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, config::ConfigError> {
        Settings::from_sources(None, vars)
    }

    fn from_sources(
        file: Option<&Path>,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, config::ConfigError> {
        let environment: config::Map<String, String> = vars
            .into_iter()
            .filter(|(key, _)| !NOT_SETTINGS.contains(&key.as_str()))
            .collect();
        let mut builder = config::Config::builder();
        if let Some(file) = file {
            builder = builder.add_source(config::File::from(file).required(false));
        }
        let mut settings: Settings = builder
            .add_source(
                config::Environment::with_prefix("RCE")
                    .prefix_separator("_")
                    .separator("__")
                    .try_parsing(true)
                    // Lists come comma-separated; only the keys named here
                    // are lists, every other value stays a plain string.
                    .list_separator(",")
                    .with_list_parse_key("sandbox.languages")
                    .with_list_parse_key("sandbox.warm_languages")
                    .with_list_parse_key("http.trusted_proxies")
                    .with_list_parse_key("compat.judge0.callback_allowed_hosts")
                    .with_list_parse_key("compat.judge0.callback_allowed_addresses")
                    .with_list_parse_key("compat.judge0.callback_ports")
                    .source(Some(environment)),
            )
            .build()?
            .try_deserialize()?;
        if settings.store.mongodb_url.is_none() {
            settings.store.mongodb_url = settings.mongodb_url.clone();
        }
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file sets values, and an unknown key is an error rather than silently
    /// ignored (a typo in rce.toml must not fall back to a default).
    #[test]
    fn file_values_apply_and_unknown_keys_fail() {
        let dir = std::env::temp_dir().join(format!("rce-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.toml");
        std::fs::write(
            &good,
            "[worker]\nconcurrency = 7\n[http]\nbind = \"0.0.0.0:9\"\n",
        )
        .unwrap();
        let settings = Settings::load(&good).unwrap();
        assert_eq!(settings.worker.concurrency, 7);
        assert_eq!(settings.http.bind, "0.0.0.0:9");
        let bad = dir.join("bad.toml");
        std::fs::write(&bad, "[worker]\nconcurency = 7\n").unwrap();
        assert!(Settings::load(&bad).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// `RCE_COMPAT__JUDGE0__CALLBACK_PORTS` is a comma-separated list like
    /// the other list settings, and a lone port (which the environment
    /// source parses as an integer, not a list) is a list of one; unset,
    /// callbacks may use 80 and 443. A word or a number over 65535 stops
    /// the load.
    #[test]
    fn callback_ports_come_from_a_comma_separated_variable() {
        let ports = |value: &str| {
            Settings::from_env([(
                "RCE_COMPAT__JUDGE0__CALLBACK_PORTS".to_string(),
                value.to_string(),
            )])
            .map(|settings| settings.compat.judge0.callback_ports)
        };
        let defaults = Settings::from_env(Vec::new()).unwrap();
        assert_eq!(defaults.compat.judge0.callback_ports, [80, 443]);
        assert_eq!(ports("8080,9443").unwrap(), [8080, 9443]);
        assert_eq!(ports("8080").unwrap(), [8080]);
        assert!(ports("80,http").is_err());
        assert!(ports("70000").is_err());
    }

    /// With no file at all, every default is in place.
    #[test]
    fn missing_file_gives_defaults() {
        let settings = Settings::load(Path::new("/nonexistent/rce.toml")).unwrap();
        assert_eq!(settings.redis.prefix, "rce");
        assert!(settings.worker.concurrency >= 1);
    }
}
