//! The shipper's settings as data. They are read from the environment through the settings
//! registry in [`crate::config::ship`], which also builds the stage from them.

use std::time::Duration;

use reqwest::header::HeaderName;

use super::bridge::auth::AuthMethod;
use super::bridge::{Format, Secret};

/// Default largest request body, uncompressed (`WINDOW_BYTES`).
pub const DEFAULT_WINDOW_BYTES: usize = 1_000_000;

#[derive(Debug, Clone)]
pub enum SecretConfig {
    Arn(String),
    Value(Secret),
}

#[derive(Debug, Clone)]
pub enum AuthConfig {
    None,
    Bearer(Secret),
    Header {
        name: HeaderName,
        value: Secret,
    },
    OAuth {
        url: String,
        client_id: String,
        secret: SecretConfig,
        method: AuthMethod,
    },
}

/// The shipper's settings (`docs/architecture.md`, "Configuration").
#[derive(Debug, Clone)]
pub struct ShipConfig {
    /// Full URL POSTed to (a bare Edge base URL gets `/api-transactions` for `uap`).
    pub bridge_url: String,
    pub auth: AuthConfig,
    pub format: Format,
    pub window_bytes: usize,
    pub request_timeout: Duration,
    pub deadline_margin: Duration,
    pub gzip: bool,
    pub allow_insecure_http: bool,
    pub concurrency: usize,
    pub secret_ttl: Duration,
    /// Cap on the visibility a failed message gets (`RETRY_MAX_VISIBILITY_SECS`; 0: no growth).
    pub retry_max_visibility: Duration,
    /// The shipper DLQ moved back once deliveries succeed (`REDRIVE_DLQ_ARN`; unset: off).
    pub redrive_dlq_arn: Option<String>,
    /// At most one redrive start per this long (`REDRIVE_COOLDOWN_SECS`).
    pub redrive_cooldown: Duration,
    /// Messages per second a redrive moves (`REDRIVE_RATE`).
    pub redrive_rate: u32,
}

impl ShipConfig {
    /// Whether building a [`super::Shipper`] needs AWS configuration (Secrets Manager).
    pub fn needs_aws(&self) -> bool {
        matches!(
            self.auth,
            AuthConfig::OAuth {
                secret: SecretConfig::Arn(_),
                ..
            }
        )
    }
}
