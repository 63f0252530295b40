//! Reading the vendor integration's `.env` file (`--env-file`), so a user of the polling
//! integration can move over without rewriting their settings.
//!
//! The file is what the vendor's shell scripts `source`: `name=value` lines, `#` comments,
//! optional `export`, single or double quotes. Parsing is dotenvy's; this module maps the
//! vendor's names (`cequence_client_id`, `cequence_edge_endpoint`, ...) to typed, optional fields.
//! Values are never echoed in errors (the file holds a client secret).

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum EnvFileError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: line {line}: cannot parse (check quotes and `name=value` form)")]
    Parse { path: PathBuf, line: usize },
    #[error("{path}: {name}: expected true or false")]
    Bool { path: PathBuf, name: String },
}

/// The settings of a vendor `.env` file. Every field is optional: absent or empty means "not set".
#[derive(Clone, Default, PartialEq)]
pub struct VendorEnv {
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// OAuth2 token endpoint (`cequence_auth_endpoint`).
    pub auth_endpoint: Option<String>,
    /// Bridge / Edge endpoint (`cequence_edge_endpoint`).
    pub edge_endpoint: Option<String>,
    pub rest_api_enabled: Option<bool>,
    pub http_api_enabled: Option<bool>,
    /// Response content types to keep (`cequence_res_content_types`).
    pub res_content_types: Option<Vec<String>>,
    /// Static-file extensions to drop (`cequence_static_file_extensions`).
    pub static_file_extensions: Option<Vec<String>>,
    pub log_level: Option<String>,
    /// `all`, one region or several (`cequence_aws_regions`), as listed.
    pub aws_regions: Option<Vec<String>>,
    pub auto_discover_apis: Option<bool>,
    pub is_existing_http_log_group: Option<bool>,
    pub http_log_group_name: Option<String>,
    /// Names in the file this tool does not use (deployment knobs of the vendor's scripts).
    pub ignored: Vec<String>,
}

impl fmt::Debug for VendorEnv {
    // Hand-written so the client secret never reaches a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VendorEnv")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("auth_endpoint", &self.auth_endpoint)
            .field("edge_endpoint", &self.edge_endpoint)
            .field("rest_api_enabled", &self.rest_api_enabled)
            .field("http_api_enabled", &self.http_api_enabled)
            .field("res_content_types", &self.res_content_types)
            .field("static_file_extensions", &self.static_file_extensions)
            .field("log_level", &self.log_level)
            .field("aws_regions", &self.aws_regions)
            .field("auto_discover_apis", &self.auto_discover_apis)
            .field(
                "is_existing_http_log_group",
                &self.is_existing_http_log_group,
            )
            .field("http_log_group_name", &self.http_log_group_name)
            .field("ignored", &self.ignored)
            .finish()
    }
}

impl VendorEnv {
    /// Read and map a `.env` file.
    pub fn load(path: &Path) -> Result<VendorEnv, EnvFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| EnvFileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        VendorEnv::parse(&text, path)
    }

    /// Map the `name=value` pairs of `text` (read from `path`, named in errors).
    pub fn parse(text: &str, path: &Path) -> Result<VendorEnv, EnvFileError> {
        let mut env = VendorEnv::default();
        for item in dotenvy::from_read_iter(text.as_bytes()) {
            let (name, value) = item.map_err(|e| parse_error(e, text, path))?;
            env.set(&name, value, path)?;
        }
        Ok(env)
    }

    fn set(&mut self, name: &str, value: String, path: &Path) -> Result<(), EnvFileError> {
        let value = value.trim().to_string();
        let text = (!value.is_empty()).then(|| value.clone());
        let flag = |v: &str| -> Result<Option<bool>, EnvFileError> {
            if v.is_empty() {
                return Ok(None);
            }
            // Report the name only: the file holds a secret.
            crate::config::parse_bool(v)
                .map(Some)
                .ok_or_else(|| EnvFileError::Bool {
                    path: path.to_path_buf(),
                    name: name.to_string(),
                })
        };
        match name.to_ascii_lowercase().as_str() {
            "cequence_client_id" => self.client_id = text,
            "cequence_client_secret" => self.client_secret = text,
            "cequence_auth_endpoint" => self.auth_endpoint = text,
            "cequence_edge_endpoint" => self.edge_endpoint = text,
            "cequence_rest_api_enabled" => self.rest_api_enabled = flag(&value)?,
            "cequence_http_api_enabled" => self.http_api_enabled = flag(&value)?,
            "cequence_res_content_types" => self.res_content_types = list(&value),
            "cequence_static_file_extensions" => self.static_file_extensions = list(&value),
            "cequence_log_level" => self.log_level = text,
            "cequence_aws_regions" => self.aws_regions = list(&value),
            "cequence_auto_discover_apis" => self.auto_discover_apis = flag(&value)?,
            "is_existing_http_log_group" | "cequence_is_existing_http_log_group" => {
                self.is_existing_http_log_group = flag(&value)?
            }
            "cequence_http_log_group_name" => self.http_log_group_name = text,
            _ => self.ignored.push(name.to_string()),
        }
        Ok(())
    }

    /// The Bridge's transactions URL from `cequence_edge_endpoint`: the endpoint as given when it
    /// already names `/api-transactions`, else with that path appended.
    pub fn bridge_url(&self) -> Option<String> {
        self.edge_endpoint.as_deref().map(|edge| {
            let edge = edge.trim_end_matches('/');
            if edge.ends_with("/api-transactions") {
                edge.to_string()
            } else {
                format!("{edge}/api-transactions")
            }
        })
    }
}

/// A list value: comma- or whitespace-separated, optionally in `[...]` with quoted items.
fn list(value: &str) -> Option<Vec<String>> {
    let inner = value.trim().trim_start_matches('[').trim_end_matches(']');
    let items: Vec<String> = inner
        .split(|c: char| c == ',' || c.is_whitespace())
        .map(|s| s.trim().trim_matches(|c| c == '"' || c == '\'').trim())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    (!items.is_empty()).then_some(items)
}

/// dotenvy's parse error carries the offending line's text, which may hold the secret:
/// report the line number only.
fn parse_error(err: dotenvy::Error, text: &str, path: &Path) -> EnvFileError {
    let line = match &err {
        dotenvy::Error::LineParse(content, _) => text
            .lines()
            .position(|l| {
                !content.is_empty() && l.contains(content.lines().next().unwrap_or(content))
            })
            .map_or(0, |i| i + 1),
        _ => 0,
    };
    EnvFileError::Parse {
        path: path.to_path_buf(),
        line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<VendorEnv, EnvFileError> {
        VendorEnv::parse(text, Path::new("test.env"))
    }

    #[test]
    fn reads_vendor_names_with_quotes_and_comments() {
        let env = parse(
            r#"
# Cequence settings
cequence_client_id=my-client
export cequence_client_secret='s3cr#t value'
cequence_auth_endpoint="https://auth.example.com/auth/realms/cequence/protocol/openid-connect/token"
cequence_edge_endpoint=https://edge.example.com/   # trailing comment
cequence_rest_api_enabled=true
cequence_http_api_enabled=False
cequence_res_content_types="application/json,application/xml, text/plain"
cequence_static_file_extensions=".js .css .png"
cequence_log_level=info
cequence_aws_regions=us-east-1,eu-west-1
cequence_auto_discover_apis=true
is_existing_http_log_group=false
cequence_http_log_group_name=cequence-http-api-access-logs
cequence_deployment_type=terraform
"#,
        )
        .unwrap();
        assert_eq!(env.client_id.as_deref(), Some("my-client"));
        assert_eq!(env.client_secret.as_deref(), Some("s3cr#t value"));
        assert_eq!(
            env.auth_endpoint.as_deref(),
            Some("https://auth.example.com/auth/realms/cequence/protocol/openid-connect/token")
        );
        assert_eq!(
            env.edge_endpoint.as_deref(),
            Some("https://edge.example.com/")
        );
        assert_eq!(
            env.bridge_url().as_deref(),
            Some("https://edge.example.com/api-transactions")
        );
        assert_eq!(env.rest_api_enabled, Some(true));
        assert_eq!(env.http_api_enabled, Some(false));
        assert_eq!(
            env.res_content_types,
            Some(vec![
                "application/json".to_string(),
                "application/xml".to_string(),
                "text/plain".to_string()
            ])
        );
        assert_eq!(
            env.static_file_extensions,
            Some(vec![
                ".js".to_string(),
                ".css".to_string(),
                ".png".to_string()
            ])
        );
        assert_eq!(env.log_level.as_deref(), Some("info"));
        assert_eq!(
            env.aws_regions,
            Some(vec!["us-east-1".to_string(), "eu-west-1".to_string()])
        );
        assert_eq!(env.auto_discover_apis, Some(true));
        assert_eq!(env.is_existing_http_log_group, Some(false));
        assert_eq!(
            env.http_log_group_name.as_deref(),
            Some("cequence-http-api-access-logs")
        );
        assert_eq!(env.ignored, vec!["cequence_deployment_type".to_string()]);
    }

    #[test]
    fn empty_values_are_unset_and_lists_accept_brackets() {
        let env =
            parse("cequence_client_id=\ncequence_static_file_extensions='[\"js\", \"css\"]'\n")
                .unwrap();
        assert_eq!(env.client_id, None);
        assert_eq!(
            env.static_file_extensions,
            Some(vec!["js".to_string(), "css".to_string()])
        );
        assert_eq!(env.rest_api_enabled, None);
    }

    #[test]
    fn bad_bool_names_the_variable() {
        let err = parse("cequence_rest_api_enabled=maybe\n").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("test.env") && msg.contains("cequence_rest_api_enabled"),
            "{msg}"
        );
    }

    #[test]
    fn parse_error_never_shows_the_secret() {
        let err = parse("cequence_client_id=a\ncequence_client_secret=\"topsecret\n").unwrap_err();
        let msg = err.to_string();
        assert!(!msg.contains("topsecret"), "{msg}");
        assert!(msg.contains("test.env"), "{msg}");
    }

    #[test]
    fn debug_redacts_the_secret() {
        let env = parse("cequence_client_secret=topsecret\n").unwrap();
        assert!(!format!("{env:?}").contains("topsecret"));
    }

    #[test]
    fn bridge_url_keeps_an_explicit_path() {
        let env = VendorEnv {
            edge_endpoint: Some("https://e.example.com/api-transactions".into()),
            ..VendorEnv::default()
        };
        assert_eq!(
            env.bridge_url().as_deref(),
            Some("https://e.example.com/api-transactions")
        );
    }
}
