//! Reading settings from the environment (Lambda) with the names DESIGN.md lists.

use crate::decode::DecodeOptions;
use crate::filter::{parse_extensions, parse_list, FilterConfig};
use crate::frame::DEFAULT_MESSAGE_BYTES;
use crate::logs::DEFAULT_MAX_PAYLOAD_BYTES;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {name} is required")]
    Missing { name: &'static str },
    #[error("environment variable {name}={value:?} is invalid: {why}")]
    Invalid {
        name: &'static str,
        value: String,
        why: String,
    },
}

/// A source of settings: the process environment, or a map in tests.
pub trait Env {
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }
}

impl<S: std::hash::BuildHasher> Env for std::collections::HashMap<String, String, S> {
    fn get(&self, name: &str) -> Option<String> {
        std::collections::HashMap::get(self, name)
            .cloned()
            .filter(|v| !v.trim().is_empty())
    }
}

pub fn parse_bool(name: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::Invalid {
            name,
            value: value.to_string(),
            why: "expected true or false".into(),
        }),
    }
}

pub fn env_bool(env: &dyn Env, name: &'static str, default: bool) -> Result<bool, ConfigError> {
    env.get(name).map_or(Ok(default), |v| parse_bool(name, &v))
}

pub fn env_usize(env: &dyn Env, name: &'static str, default: usize) -> Result<usize, ConfigError> {
    match env.get(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|e: std::num::ParseIntError| ConfigError::Invalid {
                name,
                value: v,
                why: e.to_string(),
            }),
    }
}

pub fn env_required(env: &dyn Env, name: &'static str) -> Result<String, ConfigError> {
    env.get(name).ok_or(ConfigError::Missing { name })
}

/// Decode Lambda settings.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeConfig {
    pub queue_url: String,
    pub message_bytes: usize,
    pub options: DecodeOptions,
}

impl DecodeConfig {
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let queue_url = env_required(env, "QUEUE_URL")?;
        let message_bytes = env_usize(env, "MESSAGE_BYTES", DEFAULT_MESSAGE_BYTES)?;
        if !(crate::frame::MIN_MESSAGE_BYTES..=crate::queue::MAX_MESSAGE_BYTES)
            .contains(&message_bytes)
        {
            return Err(ConfigError::Invalid {
                name: "MESSAGE_BYTES",
                value: message_bytes.to_string(),
                why: "must be between 4096 and 1048576".into(),
            });
        }
        Ok(DecodeConfig {
            queue_url,
            message_bytes,
            options: decode_options_from_env(env)?,
        })
    }
}

/// The decode options shared by the Lambda and the CLI's environment fallback.
pub fn decode_options_from_env(env: &dyn Env) -> Result<DecodeOptions, ConfigError> {
    let defaults = FilterConfig::default();
    let filter = FilterConfig {
        rest_api_enabled: env_bool(env, "REST_API_ENABLED", true)?,
        http_api_enabled: env_bool(env, "HTTP_API_ENABLED", true)?,
        websocket_api_enabled: env_bool(env, "WEBSOCKET_API_ENABLED", true)?,
        static_file_extensions: env
            .get("STATIC_FILE_EXTENSIONS")
            .map_or(defaults.static_file_extensions, |v| parse_extensions(&v)),
        response_content_types: env
            .get("RESPONSE_CONTENT_TYPES")
            .map_or(defaults.response_content_types, |v| parse_list(&v)),
        redact_headers: env
            .get("REDACT_HEADERS")
            .map_or(defaults.redact_headers, |v| parse_list(&v)),
    };
    use crate::execution::{DEFAULT_MAX_BODY_BYTES, MAX_MAX_BODY_BYTES, MIN_MAX_BODY_BYTES};
    let max_body_bytes = env_usize(env, "MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)?;
    if !(MIN_MAX_BODY_BYTES..=MAX_MAX_BODY_BYTES).contains(&max_body_bytes) {
        return Err(ConfigError::Invalid {
            name: "MAX_BODY_BYTES",
            value: max_body_bytes.to_string(),
            why: format!("must be between {MIN_MAX_BODY_BYTES} and {MAX_MAX_BODY_BYTES}"),
        });
    }
    Ok(DecodeOptions {
        max_payload_bytes: env_usize(env, "MAX_PAYLOAD_BYTES", DEFAULT_MAX_PAYLOAD_BYTES)?,
        filter,
        region: env.get("AWS_REGION"),
        max_body_bytes,
    })
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
        ]);
        let c = DecodeConfig::from_env(&e).unwrap();
        assert_eq!(c.message_bytes, 1_048_576);
        assert!(!c.options.filter.rest_api_enabled);
        assert_eq!(c.options.filter.static_file_extensions, vec!["png", "css"]);
    }

    #[test]
    fn errors_name_the_variable() {
        let err = DecodeConfig::from_env(&env(&[])).unwrap_err();
        assert!(err.to_string().contains("QUEUE_URL"));
        let err = DecodeConfig::from_env(&env(&[("QUEUE_URL", "q"), ("MESSAGE_BYTES", "lots")]))
            .unwrap_err();
        assert!(err.to_string().contains("MESSAGE_BYTES"), "{err}");
        let err =
            DecodeConfig::from_env(&env(&[("QUEUE_URL", "q"), ("HTTP_API_ENABLED", "maybe")]))
                .unwrap_err();
        assert!(err.to_string().contains("HTTP_API_ENABLED"), "{err}");
    }
}
