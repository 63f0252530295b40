//! Settings: one registry ([`settings::SETTINGS`]) declares every setting; this module reads them
//! for the decode function, and [`crate::ship::config`] for the shipper. `docs/architecture.md`
//! ("Configuration") has the table.

pub mod settings;
pub mod ship;

pub use settings::parse_bool;
pub use ship::ShipConfigError;

use crate::decode::filter::FilterConfig;
use crate::decode::DecodeOptions;
use settings as s;

/// Why the settings cannot be used. Every variant names the setting; secrets are never repeated.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is required")]
    Missing { name: &'static str },
    #[error("{name}={value:?} is invalid: {why}")]
    Invalid {
        name: &'static str,
        value: String,
        why: String,
    },
    /// For settings holding credentials: the value is never repeated.
    #[error("{name} is invalid: {why}")]
    InvalidSecret { name: &'static str, why: String },
}

/// A source of settings: the process environment, a map, or a closure. Blank values are unset.
pub trait Env {
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl<S: std::hash::BuildHasher> Env for std::collections::HashMap<String, String, S> {
    fn get(&self, name: &str) -> Option<String> {
        std::collections::HashMap::get(self, name).cloned()
    }
}

/// Settings looked up through a closure (an env file, flags, a test's pairs).
pub struct Lookup<F>(pub F);

impl<F: Fn(&str) -> Option<String>> Env for Lookup<F> {
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name)
    }
}

/// Decode Lambda settings.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeConfig {
    pub queue_url: String,
    pub message_bytes: usize,
    pub options: DecodeOptions,
    /// `ARCHIVE_STREAM`: the Firehose stream that archives every record (off when unset).
    pub archive_stream: Option<String>,
    /// `STITCH_QUEUE_URL`: the FIFO stitch queue (stitching off when unset).
    pub stitch_queue_url: Option<String>,
    pub stitch: crate::stitch::StitchOptions,
    /// `JOIN_STAGES`: stages whose access and execution logs are joined.
    pub join: crate::decode::JoinRule,
}

impl DecodeConfig {
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(DecodeConfig {
            queue_url: s::QUEUE_URL.required(env)?,
            message_bytes: s::MESSAGE_BYTES.usize(env)?,
            options: decode_options_from_env(env)?,
            archive_stream: s::ARCHIVE_STREAM.text(env),
            stitch_queue_url: s::STITCH_QUEUE_URL.text(env),
            stitch: crate::stitch::StitchOptions {
                hold: std::time::Duration::from_secs(s::STITCH_HOLD_SECS.int(env)?),
                ..crate::stitch::StitchOptions::default()
            },
            join: join_rule(env),
        })
    }
}

/// `JOIN_STAGES`, case kept (stage names are case-sensitive, unlike the registry's list rule).
pub fn join_rule(env: &dyn Env) -> crate::decode::JoinRule {
    crate::decode::JoinRule::new(
        s::JOIN_STAGES
            .raw(env)
            .unwrap_or_default()
            .split([',', ' '])
            .map(str::to_string),
    )
}

/// The decode options: the Lambda's, and those of a deployed function read back by `replay`.
pub fn decode_options_from_env(env: &dyn Env) -> Result<DecodeOptions, ConfigError> {
    let filter = FilterConfig {
        rest_api_enabled: s::REST_API_ENABLED.bool(env)?,
        http_api_enabled: s::HTTP_API_ENABLED.bool(env)?,
        websocket_api_enabled: s::WEBSOCKET_API_ENABLED.bool(env)?,
        static_file_extensions: s::STATIC_FILE_EXTENSIONS.list(env),
        response_content_types: s::RESPONSE_CONTENT_TYPES.list(env),
        redact_headers: s::REDACT_HEADERS.list(env),
    };
    Ok(DecodeOptions {
        max_payload_bytes: s::MAX_PAYLOAD_BYTES.usize(env)?,
        filter,
        region: s::AWS_REGION.text(env),
        // Unset: API Gateway's groups; `*` among the patterns: any group. Names are
        // case-sensitive, so not the registry's (lower-casing) list rule.
        log_groups: crate::decode::parse_log_groups(
            &s::ALLOWED_LOG_GROUPS
                .raw(env)
                .unwrap_or_else(|| crate::decode::DEFAULT_LOG_GROUPS.join(",")),
        ),
        max_body_bytes: s::MAX_BODY_BYTES.usize(env)?,
    })
}

/// The functions' logging (JSON lines), at `LOG_LEVEL`'s registered default.
pub fn init_lambda_logging() {
    crate::runtime::telemetry::init_lambda(settings::LOG_LEVEL.choice_default());
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn decode_config() {
        let e = env(&[
            ("QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/1/q"),
            ("MESSAGE_BYTES", "1048576"),
            ("REST_API_ENABLED", "false"),
            ("STATIC_FILE_EXTENSIONS", ".png,.css"),
            ("REDACT_HEADERS", " "),
        ]);
        let c = DecodeConfig::from_env(&e).unwrap();
        assert_eq!(c.message_bytes, 1_048_576);
        assert!(!c.options.filter.rest_api_enabled);
        assert_eq!(c.options.filter.static_file_extensions, vec!["png", "css"]);
        // Blank is unset: the default list, not an empty one.
        assert_eq!(
            c.options.filter.redact_headers,
            FilterConfig::default().redact_headers
        );
    }

    #[test]
    fn errors_name_the_variable() {
        let err = DecodeConfig::from_env(&env(&[])).unwrap_err();
        assert!(err.to_string().contains("QUEUE_URL"));
        let err = DecodeConfig::from_env(&env(&[("QUEUE_URL", "q"), ("MESSAGE_BYTES", "lots")]))
            .unwrap_err();
        assert!(err.to_string().contains("MESSAGE_BYTES"), "{err}");
        let err = DecodeConfig::from_env(&env(&[("QUEUE_URL", "q"), ("MESSAGE_BYTES", "100")]))
            .unwrap_err();
        assert!(err.to_string().contains("4096"), "{err}");
        let err =
            DecodeConfig::from_env(&env(&[("QUEUE_URL", "q"), ("HTTP_API_ENABLED", "maybe")]))
                .unwrap_err();
        assert!(err.to_string().contains("HTTP_API_ENABLED"), "{err}");
    }
}
