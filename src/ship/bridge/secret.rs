//! Where the OAuth2 client secret comes from: Secrets Manager (cached for a few minutes, so a
//! rotated secret is picked up without a redeploy) or a value given directly (local use).

use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use tokio::sync::Mutex;

use super::Secret;

/// How long a secret read from Secrets Manager is reused.
pub const DEFAULT_SECRET_TTL: Duration = Duration::from_secs(300);

/// Why the client secret could not be read. Only [`SecretError::Unavailable`] is worth retrying;
/// the others need someone to fix the secret, its ARN or the function's permissions.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SecretError {
    /// Network failure, timeout, throttling or a Secrets Manager fault.
    #[error("reading secret {arn} from Secrets Manager failed (will retry): {message}")]
    Unavailable { arn: String, message: String },
    #[error("secret {arn} does not exist (check CLIENT_SECRET_ARN)")]
    NotFound { arn: String },
    #[error("not allowed to read secret {arn} (the function's role needs secretsmanager:GetSecretValue, and kms:Decrypt for a customer key): {message}")]
    AccessDenied { arn: String, message: String },
    /// Any other refusal (a deleted or undecryptable secret, an invalid ARN).
    #[error("Secrets Manager refused to return secret {arn}: {message}")]
    Refused { arn: String, message: String },
    #[error("secret {arn} has no SecretString (binary secrets are not supported)")]
    NotString { arn: String },
    #[error("secret {arn} is a JSON object without a client_secret key")]
    NoClientSecret { arn: String },
}

impl SecretError {
    pub fn is_transient(&self) -> bool {
        matches!(self, SecretError::Unavailable { .. })
    }
}

/// Sort a `GetSecretValue` failure into transient and permanent causes.
fn classify(arn: &str, e: SdkError<GetSecretValueError>) -> SecretError {
    let arn = arn.to_string();
    let message = DisplayErrorContext(&e).to_string();
    let SdkError::ServiceError(service) = &e else {
        // Timeouts, connection and response errors.
        return SecretError::Unavailable { arn, message };
    };
    match service.err() {
        GetSecretValueError::ResourceNotFoundException(_) => SecretError::NotFound { arn },
        GetSecretValueError::InternalServiceError(_) => SecretError::Unavailable { arn, message },
        GetSecretValueError::DecryptionFailure(_)
        | GetSecretValueError::InvalidParameterException(_)
        | GetSecretValueError::InvalidRequestException(_) => SecretError::Refused { arn, message },
        other => match other.code() {
            Some("AccessDeniedException") | Some("UnrecognizedClientException") => {
                SecretError::AccessDenied { arn, message }
            }
            Some(code) if code.contains("Throttl") => SecretError::Unavailable { arn, message },
            _ if service.raw().status().is_server_error() => {
                SecretError::Unavailable { arn, message }
            }
            _ => SecretError::Refused { arn, message },
        },
    }
}

pub enum SecretSource {
    Static(Secret),
    SecretsManager(SecretsManagerSecret),
}

impl std::fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretSource::Static(_) => f.write_str("SecretSource::Static(***)"),
            SecretSource::SecretsManager(s) => write!(f, "SecretSource::SecretsManager({})", s.arn),
        }
    }
}

pub struct SecretsManagerSecret {
    client: aws_sdk_secretsmanager::Client,
    arn: String,
    ttl: Duration,
    cached: Mutex<Option<(Secret, Instant)>>,
}

impl SecretSource {
    pub fn secrets_manager(
        client: aws_sdk_secretsmanager::Client,
        arn: impl Into<String>,
        ttl: Duration,
    ) -> Self {
        SecretSource::SecretsManager(SecretsManagerSecret {
            client,
            arn: arn.into(),
            ttl,
            cached: Mutex::new(None),
        })
    }

    /// The current secret (from the cache when fresh).
    pub async fn get(&self) -> Result<Secret, SecretError> {
        match self {
            SecretSource::Static(s) => Ok(s.clone()),
            SecretSource::SecretsManager(sm) => sm.get().await,
        }
    }

    /// Forget the cached value (the token endpoint refused it: it may have been rotated).
    pub async fn invalidate(&self) {
        if let SecretSource::SecretsManager(sm) = self {
            *sm.cached.lock().await = None;
        }
    }
}

impl SecretsManagerSecret {
    async fn get(&self) -> Result<Secret, SecretError> {
        // Held across the read, so concurrent callers share one GetSecretValue.
        let mut cached = self.cached.lock().await;
        if let Some((secret, at)) = cached.as_ref() {
            if at.elapsed() < self.ttl {
                return Ok(secret.clone());
            }
        }
        let out = self
            .client
            .get_secret_value()
            .secret_id(&self.arn)
            .send()
            .await
            .map_err(|e| classify(&self.arn, e))?;
        let raw = out.secret_string().ok_or_else(|| SecretError::NotString {
            arn: self.arn.clone(),
        })?;
        let secret = parse_secret_string(raw).ok_or_else(|| SecretError::NoClientSecret {
            arn: self.arn.clone(),
        })?;
        *cached = Some((secret.clone(), Instant::now()));
        Ok(secret)
    }
}

/// A secret string is either the client secret itself or a JSON object holding it under
/// `client_secret` (also `clientSecret`, `CLIENT_SECRET`, `cequence_client_secret`).
pub fn parse_secret_string(raw: &str) -> Option<Secret> {
    let trimmed = raw.trim();
    if trimmed.starts_with('{') {
        if let Ok(serde_json::Value::Object(map)) =
            serde_json::from_str::<serde_json::Value>(trimmed)
        {
            return [
                "client_secret",
                "clientSecret",
                "CLIENT_SECRET",
                "cequence_client_secret",
            ]
            .iter()
            .find_map(|k| map.get(*k).and_then(|v| v.as_str()))
            .map(Secret::new);
        }
    }
    Some(Secret::new(trimmed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_string_forms() {
        assert_eq!(parse_secret_string(" s3cr3t\n").unwrap().expose(), "s3cr3t");
        assert_eq!(
            parse_secret_string(r#"{"client_id":"a","client_secret":"b"}"#)
                .unwrap()
                .expose(),
            "b"
        );
        assert!(parse_secret_string(r#"{"other":"b"}"#).is_none());
    }
}
