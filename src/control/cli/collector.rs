//! The collector's (Bridge's) flags, one set for every command that ships: `local` and
//! `replay --from-archive` take the same names, the same environment variables as fallbacks (the
//! shipper Lambda's), the same help, and the vendor's `.env` file (`--env-file`) below both.
//!
//! The client secret is never printed: [`CollectorArgs`]'s `Debug` redacts it, and clap does not
//! show its environment value in the help.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

use super::env_file::{EnvFileError, VendorEnv};
use crate::config::settings as s;

/// Where and how records are delivered to the collector.
#[derive(Clone, clap::Args)]
pub struct CollectorArgs {
    /// Bridge transactions URL, or the Edge base URL. `local`: default an embedded receiver on
    /// 127.0.0.1; `replay --from-archive`: ship straight to it instead of a queue.
    #[arg(long, env = s::BRIDGE_URL.name, value_name = "URL")]
    pub bridge_url: Option<String>,
    #[arg(long, env = s::AUTH_URL.name, help = s::AUTH_URL.doc)]
    pub auth_url: Option<String>,
    #[arg(long, env = s::CLIENT_ID.name, help = s::CLIENT_ID.doc)]
    pub client_id: Option<String>,
    #[arg(long, env = s::CLIENT_SECRET.name, help = s::CLIENT_SECRET.doc, hide_env_values = true)]
    pub client_secret: Option<String>,
    /// The vendor integration's .env file (cequence_client_id, cequence_edge_endpoint, ...);
    /// flags and environment variables take precedence.
    #[arg(long)]
    pub env_file: Option<PathBuf>,
    #[arg(long, env = s::BRIDGE_FORMAT.name, help = s::BRIDGE_FORMAT.doc,
          default_value = s::BRIDGE_FORMAT.choice_default(), value_parser = s::BRIDGE_FORMAT.clap_choice())]
    pub bridge_format: String,
    #[arg(long, env = s::ALLOW_INSECURE_HTTP.name, help = s::ALLOW_INSECURE_HTTP.doc)]
    pub allow_insecure_http: bool,
    #[arg(long, env = s::WINDOW_BYTES.name, help = s::WINDOW_BYTES.doc,
          default_value_t = s::WINDOW_BYTES.int_default() as usize, value_parser = s::WINDOW_BYTES.clap_usize())]
    pub window_bytes: usize,
    #[arg(long, env = s::REQUEST_TIMEOUT_MS.name, help = s::REQUEST_TIMEOUT_MS.doc,
          default_value_t = s::REQUEST_TIMEOUT_MS.int_default(), value_parser = s::REQUEST_TIMEOUT_MS.clap_u64())]
    pub request_timeout_ms: u64,
    #[arg(long, env = s::BRIDGE_CONCURRENCY.name, help = s::BRIDGE_CONCURRENCY.doc,
          default_value_t = s::BRIDGE_CONCURRENCY.int_default() as usize,
          value_parser = s::BRIDGE_CONCURRENCY.clap_usize())]
    pub bridge_concurrency: usize,
    #[arg(long, env = s::BRIDGE_GZIP.name, help = s::BRIDGE_GZIP.doc)]
    pub bridge_gzip: bool,
}

impl fmt::Debug for CollectorArgs {
    // Hand-written so the client secret never reaches a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CollectorArgs")
            .field("bridge_url", &self.bridge_url)
            .field("auth_url", &self.auth_url)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("env_file", &self.env_file)
            .field("bridge_format", &self.bridge_format)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("window_bytes", &self.window_bytes)
            .field("request_timeout_ms", &self.request_timeout_ms)
            .field("bridge_concurrency", &self.bridge_concurrency)
            .field("bridge_gzip", &self.bridge_gzip)
            .finish()
    }
}

impl CollectorArgs {
    /// The vendor file named by `--env-file` (empty without one).
    pub fn vendor(&self) -> Result<VendorEnv, EnvFileError> {
        match &self.env_file {
            Some(p) => VendorEnv::load(p),
            None => Ok(VendorEnv::default()),
        }
    }

    /// The collector's URL: the flag (or `BRIDGE_URL`), else the vendor file's Edge endpoint.
    pub fn bridge_url(&self, vendor: &VendorEnv) -> Option<String> {
        self.bridge_url.clone().or_else(|| vendor.bridge_url())
    }

    /// The collector's identity by the shipper's environment names for the collector at `url`:
    /// flags (or their environment variables) first, then the vendor file.
    pub fn identity(&self, url: String, vendor: &VendorEnv) -> HashMap<&'static str, String> {
        let given = [
            (s::BRIDGE_URL.name, Some(url)),
            (
                s::AUTH_URL.name,
                self.auth_url
                    .clone()
                    .or_else(|| vendor.auth_endpoint.clone()),
            ),
            (
                s::CLIENT_ID.name,
                self.client_id.clone().or_else(|| vendor.client_id.clone()),
            ),
            (
                s::CLIENT_SECRET.name,
                self.client_secret
                    .clone()
                    .or_else(|| vendor.client_secret.clone()),
            ),
            (
                s::ALLOW_INSECURE_HTTP.name,
                Some(self.allow_insecure_http.to_string()),
            ),
        ];
        given
            .into_iter()
            .filter_map(|(k, v)| Some((k, v?)))
            .collect()
    }

    /// How records are sent (format, window, timeout, concurrency, gzip), by environment name.
    pub fn delivery(&self) -> [(&'static str, String); 5] {
        [
            (s::BRIDGE_FORMAT.name, self.bridge_format.clone()),
            (s::WINDOW_BYTES.name, self.window_bytes.to_string()),
            (
                s::REQUEST_TIMEOUT_MS.name,
                self.request_timeout_ms.to_string(),
            ),
            (
                s::BRIDGE_CONCURRENCY.name,
                self.bridge_concurrency.to_string(),
            ),
            (s::BRIDGE_GZIP.name, self.bridge_gzip.to_string()),
        ]
    }

    /// The identity and delivery flags given on the command line rather than through their
    /// environment variables (a flag whose value differs from its variable), by flag name.
    pub fn explicit_flags(&self) -> Vec<&'static str> {
        let differs = |name: &str, value: &Option<String>| {
            value.is_some() && std::env::var(name).ok() != *value
        };
        let mut out = Vec::new();
        for (flag, name, value) in [
            ("--bridge-url", s::BRIDGE_URL.name, &self.bridge_url),
            ("--auth-url", s::AUTH_URL.name, &self.auth_url),
            ("--client-id", s::CLIENT_ID.name, &self.client_id),
            (
                "--client-secret",
                s::CLIENT_SECRET.name,
                &self.client_secret,
            ),
        ] {
            if differs(name, value) {
                out.push(flag);
            }
        }
        if self.env_file.is_some() {
            out.push("--env-file");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        collector: CollectorArgs,
    }

    #[test]
    fn debug_redacts_the_secret() {
        let cli = Cli::parse_from(["t", "--client-secret", "s3cret-value", "--client-id", "me"]);
        let text = format!("{:?}", cli.collector);
        assert!(!text.contains("s3cret-value"), "{text}");
        assert!(text.contains("<redacted>") && text.contains("me"), "{text}");
    }

    #[test]
    fn flags_come_before_the_vendor_file() {
        let cli = Cli::parse_from(["t", "--client-id", "flag-id", "--allow-insecure-http"]);
        let vendor = VendorEnv {
            client_id: Some("file-id".into()),
            client_secret: Some("file-secret".into()),
            edge_endpoint: Some("https://edge.example.com".into()),
            ..VendorEnv::default()
        };
        let url = cli.collector.bridge_url(&vendor);
        assert_eq!(
            url.as_deref(),
            Some("https://edge.example.com/api-transactions")
        );
        let id = cli.collector.identity(url.unwrap_or_default(), &vendor);
        assert_eq!(id[s::CLIENT_ID.name], "flag-id");
        assert_eq!(id[s::CLIENT_SECRET.name], "file-secret");
        assert_eq!(id[s::ALLOW_INSECURE_HTTP.name], "true");
        assert!(!id.contains_key(s::AUTH_URL.name));
    }
}
