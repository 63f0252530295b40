//! The shipper's settings: read through the registry ([`super::settings`]), checked at start (not
//! at the first window), and turned into the ship stage.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderName;

use super::settings as s;
use super::ConfigError as SettingError;
use super::{Env, Lookup, ProcessEnv};
use crate::ship::bridge::auth::{Auth, TokenSource};
use crate::ship::bridge::client::{self, BridgeClient, ClientConfig};
use crate::ship::bridge::secret::SecretSource;
use crate::ship::bridge::{Format, Secret, TRANSACTIONS_PATH};
use crate::ship::stage::ShipStage;
use crate::ship::{AuthConfig, SecretConfig, ShipConfig, Shipper, DEFAULT_WINDOW_BYTES};

/// Why the shipper cannot be built from its settings. Every variant names the setting at fault;
/// secrets are never repeated.
#[derive(Debug, thiserror::Error)]
pub enum ShipConfigError {
    #[error(transparent)]
    Setting(#[from] SettingError),
    #[error("CLIENT_SECRET_ARN needs AWS configuration, and none was given")]
    NeedsAws,
    #[error(transparent)]
    Client(#[from] client::ClientError),
}

impl ShipConfig {
    /// The registry's defaults around a collector URL and auth, for tests and the `local` command.
    pub fn new(bridge_url: impl Into<String>, auth: AuthConfig) -> Self {
        ShipConfig {
            bridge_url: bridge_url.into(),
            auth,
            format: Format::Uap,
            window_bytes: DEFAULT_WINDOW_BYTES,
            request_timeout: Duration::from_millis(s::REQUEST_TIMEOUT_MS.int_default()),
            deadline_margin: Duration::from_millis(s::DEADLINE_MARGIN_MS.int_default()),
            gzip: s::BRIDGE_GZIP.bool_default(),
            allow_insecure_http: s::ALLOW_INSECURE_HTTP.bool_default(),
            concurrency: s::BRIDGE_CONCURRENCY.int_default() as usize,
            secret_ttl: Duration::from_secs(s::SECRET_TTL_SECS.int_default()),
            retry_max_visibility: Duration::from_secs(s::RETRY_MAX_VISIBILITY_SECS.int_default()),
            redrive_dlq_arn: None,
            redrive_cooldown: Duration::from_secs(s::REDRIVE_COOLDOWN_SECS.int_default()),
            redrive_rate: s::REDRIVE_RATE.int_default() as u32,
        }
    }

    /// Read the process environment.
    pub fn from_env() -> Result<Self, ShipConfigError> {
        Self::read(&ProcessEnv)
    }

    /// Read settings through `get` (an env file, flags, a test map). Blank means unset.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ShipConfigError> {
        Self::read(&Lookup(get))
    }

    /// Auth is OAuth2 when `AUTH_URL` is set, else `BRIDGE_BEARER_TOKEN`, else
    /// `BRIDGE_AUTH_HEADER`, else none.
    pub fn read(env: &dyn Env) -> Result<Self, ShipConfigError> {
        let format: Format = s::BRIDGE_FORMAT.choice(env)?;
        let bridge_url = collector_url(&s::BRIDGE_URL.required(env)?, format);
        let mut config = ShipConfig::new(bridge_url, read_auth(env)?);
        config.format = format;
        config.window_bytes = s::WINDOW_BYTES.usize(env)?;
        config.request_timeout = Duration::from_millis(s::REQUEST_TIMEOUT_MS.int(env)?);
        config.deadline_margin = Duration::from_millis(s::DEADLINE_MARGIN_MS.int(env)?);
        config.gzip = s::BRIDGE_GZIP.bool(env)?;
        config.allow_insecure_http = s::ALLOW_INSECURE_HTTP.bool(env)?;
        config.concurrency = s::BRIDGE_CONCURRENCY.usize(env)?;
        config.secret_ttl = Duration::from_secs(s::SECRET_TTL_SECS.int(env)?);
        config.retry_max_visibility = Duration::from_secs(s::RETRY_MAX_VISIBILITY_SECS.int(env)?);
        config.redrive_dlq_arn = s::REDRIVE_DLQ_ARN.text(env);
        config.redrive_cooldown = Duration::from_secs(s::REDRIVE_COOLDOWN_SECS.int(env)?);
        config.redrive_rate = u32::try_from(s::REDRIVE_RATE.int(env)?).unwrap_or(500);
        // Fail at start, not at the first window.
        client::check_url(&config.bridge_url, config.allow_insecure_http)?;
        if let AuthConfig::OAuth { url, .. } = &config.auth {
            client::check_url(url, config.allow_insecure_http)?;
        }
        Ok(config)
    }
}

fn read_auth(env: &dyn Env) -> Result<AuthConfig, ShipConfigError> {
    if let Some(url) = s::AUTH_URL.text(env) {
        let client_id = s::CLIENT_ID.required(env)?;
        let secret = match (s::CLIENT_SECRET_ARN.text(env), s::CLIENT_SECRET.text(env)) {
            (Some(arn), _) => SecretConfig::Arn(arn),
            (None, Some(secret)) => SecretConfig::Value(Secret::new(secret)),
            (None, None) => {
                return Err(SettingError::Missing {
                    name: "CLIENT_SECRET_ARN (or CLIENT_SECRET)",
                }
                .into())
            }
        };
        let method = s::AUTH_METHOD.choice(env)?;
        return Ok(AuthConfig::OAuth {
            url,
            client_id,
            secret,
            method,
        });
    }
    if let Some(token) = s::BRIDGE_BEARER_TOKEN.text(env) {
        return Ok(AuthConfig::Bearer(Secret::new(token)));
    }
    let Some(header) = s::BRIDGE_AUTH_HEADER.text(env) else {
        return Ok(AuthConfig::None);
    };
    let invalid = |why: &str| SettingError::InvalidSecret {
        name: s::BRIDGE_AUTH_HEADER.name,
        why: why.into(),
    };
    let (name, value) = header
        .split_once(':')
        .ok_or_else(|| invalid("expected \"Name: value\""))?;
    let name =
        HeaderName::try_from(name.trim()).map_err(|_| invalid("the header name is not valid"))?;
    Ok(AuthConfig::Header {
        name,
        value: Secret::new(value.trim()),
    })
}

/// A bare Edge URL (no path) gets the batch path when the format is `uap`.
fn collector_url(url: &str, format: Format) -> String {
    let trimmed = url.trim_end_matches('/');
    match reqwest::Url::parse(url) {
        Ok(u) if format == Format::Uap && (u.path() == "/" || u.path().is_empty()) => {
            format!("{trimmed}{TRANSACTIONS_PATH}")
        }
        _ => url.to_string(),
    }
}

impl Shipper {
    /// Build the HTTP client, the auth and the Bridge client from configuration. `aws` is needed
    /// only for `CLIENT_SECRET_ARN`.
    pub fn from_config(
        config: &ShipConfig,
        aws: Option<&aws_config::SdkConfig>,
    ) -> Result<Self, ShipConfigError> {
        let client_config = ClientConfig {
            request_timeout: config.request_timeout,
            deadline_margin: config.deadline_margin,
            gzip: config.gzip,
            allow_insecure_http: config.allow_insecure_http,
            ..ClientConfig::default()
        };
        let http = client::http_client(&client_config)?;
        let auth = match &config.auth {
            AuthConfig::None => Auth::None,
            AuthConfig::Bearer(t) => Auth::Bearer(t.clone()),
            AuthConfig::Header { name, value } => Auth::Header {
                name: name.clone(),
                value: value.clone(),
            },
            AuthConfig::OAuth {
                url,
                client_id,
                secret,
                method,
            } => {
                client::check_url(url, config.allow_insecure_http)?;
                let source = match secret {
                    SecretConfig::Value(v) => SecretSource::Static(v.clone()),
                    SecretConfig::Arn(arn) => {
                        let aws = aws.ok_or(ShipConfigError::NeedsAws)?;
                        SecretSource::secrets_manager(
                            aws_sdk_secretsmanager::Client::new(aws),
                            arn.clone(),
                            config.secret_ttl,
                        )
                    }
                };
                Auth::OAuth(Box::new(TokenSource::new(
                    http.clone(),
                    url.clone(),
                    client_id.clone(),
                    source,
                    *method,
                    config.request_timeout,
                )))
            }
        };
        let client = BridgeClient::new(
            http,
            &config.bridge_url,
            Arc::new(auth),
            config.format,
            client_config,
        )?;
        Ok(Shipper::new(
            client,
            config.window_bytes,
            config.concurrency,
        ))
    }
}

impl ShipStage {
    /// The shipper Lambda's stage: the shipper, and the redrive of `REDRIVE_DLQ_ARN` (which needs
    /// `aws`).
    pub fn from_config(
        config: &ShipConfig,
        aws: Option<&aws_config::SdkConfig>,
    ) -> Result<Self, ShipConfigError> {
        let shipper = Arc::new(Shipper::from_config(config, aws)?);
        let redrive = match (&config.redrive_dlq_arn, aws) {
            (Some(arn), Some(aws)) => Some(crate::ship::settle::Redrive::new(
                aws_sdk_sqs::Client::new(aws),
                arn.clone(),
                config.redrive_cooldown,
                config.redrive_rate,
            )),
            (Some(_), None) => return Err(ShipConfigError::NeedsAws),
            (None, _) => None,
        };
        Ok(Self::new(shipper, config.retry_max_visibility, redrive))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<ShipConfig, ShipConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ShipConfig::read(&map)
    }

    #[test]
    fn config_defaults_and_oauth() {
        let c = cfg(&[
            ("BRIDGE_URL", "https://edge.example.com"),
            ("AUTH_URL", "https://auth.example.com/t"),
            ("CLIENT_ID", "id"),
            (
                "CLIENT_SECRET_ARN",
                "arn:aws:secretsmanager:us-east-1:1:secret:x",
            ),
        ])
        .unwrap();
        assert_eq!(c.bridge_url, "https://edge.example.com/api-transactions");
        assert_eq!(c.window_bytes, DEFAULT_WINDOW_BYTES);
        assert_eq!(c.format, Format::Uap);
        assert_eq!(c.concurrency, 4);
        assert_eq!(c.request_timeout, Duration::from_secs(10));
        assert!(c.needs_aws());
        assert!(!c.allow_insecure_http);
    }

    #[test]
    fn config_errors_name_the_variable() {
        let e = cfg(&[]).unwrap_err().to_string();
        assert!(e.contains("BRIDGE_URL"), "{e}");
        let e = cfg(&[("BRIDGE_URL", "http://127.0.0.1:1")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("ALLOW_INSECURE_HTTP"), "{e}");
        for (var, bad) in [
            ("WINDOW_BYTES", "10"),
            ("WINDOW_BYTES", "10000001"),
            ("REQUEST_TIMEOUT_MS", "0"),
            ("BRIDGE_CONCURRENCY", "65"),
            ("BRIDGE_FORMAT", "xml"),
            ("BRIDGE_GZIP", "maybe"),
        ] {
            let e = cfg(&[("BRIDGE_URL", "https://x"), (var, bad)])
                .unwrap_err()
                .to_string();
            assert!(e.contains(var), "{var}={bad}: {e}");
        }
        let e = cfg(&[
            ("BRIDGE_URL", "https://x"),
            ("AUTH_URL", "https://a"),
            ("CLIENT_ID", "i"),
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("CLIENT_SECRET"), "{e}");
    }

    #[test]
    fn bad_auth_header_does_not_echo_the_value() {
        let e = cfg(&[
            ("BRIDGE_URL", "https://x"),
            ("BRIDGE_AUTH_HEADER", "no-colon-s3cr3t"),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("BRIDGE_AUTH_HEADER") && !e.contains("s3cr3t"),
            "{e}"
        );
    }
}
