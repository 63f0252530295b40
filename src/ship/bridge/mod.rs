//! The collector side: encoders (`uap`, `ndjson`), request windows, OAuth2 tokens, the HTTP client
//! with the failure policy of docs/architecture.md, and a local receiver for tests and trials.
//!
//! ```text
//! Transaction ─encode (uap | ndjson)→ bytes ─window::plan→ ≤ WINDOW_BYTES bodies ─client::post→ Bridge
//!                                                         auth: token (OAuth2 cache) | static bearer/header
//! ```

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use crate::transaction::Transaction;

pub mod auth;
pub mod client;
pub mod ndjson;
#[cfg(feature = "cli")]
pub mod receiver;
pub mod response;
pub mod secret;
pub mod uap;
pub mod view;
pub mod window;

pub use auth::{Auth, AuthMethod, TokenError, TokenSource};
pub use client::{BridgeClient, ClientConfig, DeliveryError, Outcome, PostResult};
pub use secret::{SecretError, SecretSource};
pub use window::{plan_windows, EncodedRecord};

/// Path of the batch endpoint on a UAP Edge / Bridge.
pub const TRANSACTIONS_PATH: &str = "/api-transactions";
/// Path of the Keycloak token endpoint on the Cequence auth host (and on the local receiver).
pub const TOKEN_PATH: &str = "/auth/realms/cequence/protocol/openid-connect/token";

/// How records are written for the collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Cequence UAP Edge data format 1.0: `{"data":[txn, ...]}`.
    #[default]
    Uap,
    /// Canonical `apigw-stream/v1` records, one per line.
    Ndjson,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Uap => "uap",
            Format::Ndjson => "ndjson",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Uap => "application/json",
            Format::Ndjson => "application/x-ndjson",
        }
    }

    /// One record as it goes into a window (for ndjson, the line with its newline).
    pub fn encode(self, txn: &Transaction) -> Vec<u8> {
        match self {
            Format::Uap => uap::encode(txn),
            Format::Ndjson => ndjson::encode(txn),
        }
    }

    /// Bytes a window adds around its records: `(prefix, separator, suffix)`.
    pub fn framing(self) -> (&'static [u8], &'static [u8], &'static [u8]) {
        match self {
            Format::Uap => (b"{\"data\":[", b",", b"]}"),
            Format::Ndjson => (b"", b"", b""),
        }
    }

    /// Size of a window holding records of these encoded sizes.
    pub fn window_len(self, records: usize, record_bytes: usize) -> usize {
        let (prefix, sep, suffix) = self.framing();
        prefix.len() + record_bytes + sep.len() * records.saturating_sub(1) + suffix.len()
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "uap" | "" => Ok(Format::Uap),
            "ndjson" => Ok(Format::Ndjson),
            other => Err(format!(
                "unknown bridge format {other:?} (expected uap or ndjson)"
            )),
        }
    }
}

/// A credential (client secret, access token, static header value): never printed.
///
/// There is deliberately no `Display`; `Debug` shows only that a value is there.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    pub fn new(value: impl Into<Arc<str>>) -> Self {
        Secret(value.into())
    }
    /// The value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_parses_and_rejects() {
        assert_eq!("UAP".parse::<Format>(), Ok(Format::Uap));
        assert_eq!("ndjson".parse::<Format>(), Ok(Format::Ndjson));
        let err = "xml".parse::<Format>().unwrap_err();
        assert!(err.contains("xml"), "{err}");
    }

    #[test]
    fn secret_debug_hides_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn window_len_counts_framing() {
        assert_eq!(Format::Uap.window_len(3, 30), 9 + 30 + 2 + 2);
        assert_eq!(Format::Ndjson.window_len(3, 30), 30);
    }
}
