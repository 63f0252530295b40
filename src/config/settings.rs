//! Every setting of the two Lambda functions, declared once: its environment name, which function
//! reads it, its type with default and allowed values, what it means, and how the stacks expose it.
//!
//! Everything else is derived from [`SETTINGS`]: the functions' environment parsing (the typed
//! readers below), the CLI flags (their help, default and range), the configuration table of the
//! README and of `docs/architecture.md`, and `docs/settings.json`, which the stack parity test
//! (`tests/iac/test_parity.py`) compares with the CloudFormation parameters and Terraform variables.
//! Tests below fail when a generated copy is stale: run `apigw-stream settings --write` then.

use serde::Serialize;

use super::{ConfigError, Env};
use crate::decode::filter::{
    parse_extensions, parse_list, DEFAULT_REDACT_HEADERS, DEFAULT_RESPONSE_CONTENT_TYPES,
    DEFAULT_STATIC_FILE_EXTENSIONS,
};

/// Which function reads a setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Function {
    Decode,
    Shipper,
    Both,
}

impl Function {
    pub fn as_str(self) -> &'static str {
        match self {
            Function::Decode => "decode",
            Function::Shipper => "shipper",
            Function::Both => "both",
        }
    }
}

/// The type of a setting, with its default and the values it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Kind {
    /// `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`).
    Bool { default: bool },
    /// A whole number in `min..=max` (`max: None`: no upper bound).
    Int {
        default: u64,
        min: u64,
        max: Option<u64>,
    },
    /// One of `values` (case-insensitive).
    Choice {
        default: &'static str,
        values: &'static [&'static str],
    },
    /// A comma- or space-separated list; unset or blank means `default`.
    List { default: &'static [&'static str] },
    /// Free text (a URL, an id). A `secret` value is never repeated in an error.
    Text { required: bool, secret: bool },
}

/// How the CloudFormation and Terraform stacks set a function's variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "how", content = "value", rename_all = "snake_case")]
pub enum Stack {
    /// From this CloudFormation parameter (the Terraform variable is its snake_case).
    Param(&'static str),
    /// To this fixed value on both stacks.
    Fixed(&'static str),
    /// To a resource the stack creates (the queue's URL, the secret's ARN).
    Wired,
    /// Not set by the stacks (the code's default applies, or the runtime sets it).
    NotSet,
}

/// One setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Setting {
    /// The environment variable (the CLI flag is its kebab case).
    pub name: &'static str,
    pub function: Function,
    pub kind: Kind,
    pub doc: &'static str,
    pub stack: Stack,
}

const fn setting(
    name: &'static str,
    function: Function,
    kind: Kind,
    stack: Stack,
    doc: &'static str,
) -> Setting {
    Setting {
        name,
        function,
        kind,
        doc,
        stack,
    }
}

const BOOL_VALUES: &[&str] = &["true", "false"];

pub const QUEUE_URL: Setting = setting(
    "QUEUE_URL",
    Function::Decode,
    Kind::Text {
        required: true,
        secret: false,
    },
    Stack::Wired,
    "URL of the SQS queue the decode function sends frames to.",
);
pub const MESSAGE_BYTES: Setting = setting(
    "MESSAGE_BYTES",
    Function::Decode,
    Kind::Int {
        default: crate::transport::frame::DEFAULT_MESSAGE_BYTES as u64,
        min: crate::transport::frame::MIN_MESSAGE_BYTES as u64,
        max: Some(crate::transport::queue::MAX_MESSAGE_BYTES as u64),
    },
    Stack::Fixed("1048576"),
    "Bound on one SQS message, body and attributes.",
);
pub const MAX_PAYLOAD_BYTES: Setting = setting(
    "MAX_PAYLOAD_BYTES",
    Function::Decode,
    Kind::Int {
        default: crate::decode::logs::DEFAULT_MAX_PAYLOAD_BYTES as u64,
        min: 1_048_576,
        max: None,
    },
    Stack::Param("MaxPayloadBytes"),
    "Cap on one decompressed subscription payload (gzip-bomb guard).",
);
pub const MAX_BODY_BYTES: Setting = setting(
    "MAX_BODY_BYTES",
    Function::Decode,
    Kind::Int {
        default: crate::decode::execution::DEFAULT_MAX_BODY_BYTES as u64,
        min: crate::decode::execution::MIN_MAX_BODY_BYTES as u64,
        max: Some(crate::decode::execution::MAX_MAX_BODY_BYTES as u64),
    },
    Stack::NotSet,
    "Execution-log bodies longer than this are cut and flagged truncated (never dropped).",
);
pub const REST_API_ENABLED: Setting = setting(
    "REST_API_ENABLED",
    Function::Decode,
    Kind::Bool { default: true },
    Stack::Param("RestApiEnabled"),
    "Keep records of REST APIs.",
);
pub const HTTP_API_ENABLED: Setting = setting(
    "HTTP_API_ENABLED",
    Function::Decode,
    Kind::Bool { default: true },
    Stack::Param("HttpApiEnabled"),
    "Keep records of HTTP APIs.",
);
pub const WEBSOCKET_API_ENABLED: Setting = setting(
    "WEBSOCKET_API_ENABLED",
    Function::Decode,
    Kind::Bool { default: true },
    Stack::NotSet,
    "Keep records of WebSocket APIs.",
);
pub const STATIC_FILE_EXTENSIONS: Setting = setting(
    "STATIC_FILE_EXTENSIONS",
    Function::Decode,
    Kind::List {
        default: DEFAULT_STATIC_FILE_EXTENSIONS,
    },
    Stack::Param("StaticFileExtensions"),
    "Requests for paths with these extensions are dropped as static files (counted); `.png` or `png`.",
);
pub const RESPONSE_CONTENT_TYPES: Setting = setting(
    "RESPONSE_CONTENT_TYPES",
    Function::Decode,
    Kind::List {
        default: DEFAULT_RESPONSE_CONTENT_TYPES,
    },
    Stack::Param("ResponseContentTypes"),
    "Keep only responses of these content types, where the record knows one (access logs never do).",
);
pub const REDACT_HEADERS: Setting = setting(
    "REDACT_HEADERS",
    Function::Decode,
    Kind::List {
        default: DEFAULT_REDACT_HEADERS,
    },
    Stack::Param("RedactHeaders"),
    "Header names whose values are replaced by [REDACTED] before shipping.",
);
pub const AWS_REGION: Setting = setting(
    "AWS_REGION",
    Function::Decode,
    Kind::Text {
        required: false,
        secret: false,
    },
    Stack::NotSet,
    "Region recorded when a line has no execute-api domain (Lambda sets it).",
);
pub const ARCHIVE_STREAM: Setting = setting(
    "ARCHIVE_STREAM",
    Function::Decode,
    Kind::Text {
        required: false,
        secret: false,
    },
    Stack::Wired,
    "Amazon Data Firehose stream that also archives every record sent to the queue; unset: no archive. The stacks set it when ArchiveBucket is given.",
);
pub const BRIDGE_URL: Setting = setting(
    "BRIDGE_URL",
    Function::Shipper,
    Kind::Text {
        required: true,
        secret: false,
    },
    Stack::Param("BridgeUrl"),
    "Collector URL; a bare Edge URL gets /api-transactions with the uap format.",
);
pub const BRIDGE_FORMAT: Setting = setting(
    "BRIDGE_FORMAT",
    Function::Shipper,
    Kind::Choice {
        default: "uap",
        values: &["uap", "ndjson"],
    },
    Stack::Param("BridgeFormat"),
    "Collector wire format: uap (Cequence Edge format 1.0) or ndjson (canonical records).",
);
pub const AUTH_URL: Setting = setting(
    "AUTH_URL",
    Function::Shipper,
    Kind::Text {
        required: false,
        secret: false,
    },
    Stack::Param("AuthUrl"),
    "OAuth2 token endpoint (client credentials); unset sends without a token.",
);
pub const CLIENT_ID: Setting = setting(
    "CLIENT_ID",
    Function::Shipper,
    Kind::Text {
        required: false,
        secret: false,
    },
    Stack::Param("ClientId"),
    "OAuth2 client id (required with AUTH_URL).",
);
pub const CLIENT_SECRET_ARN: Setting = setting(
    "CLIENT_SECRET_ARN",
    Function::Shipper,
    Kind::Text {
        required: false,
        secret: false,
    },
    Stack::Wired,
    "Secrets Manager secret holding the OAuth2 client secret (re-read every SECRET_TTL_SECS).",
);
pub const CLIENT_SECRET: Setting = setting(
    "CLIENT_SECRET",
    Function::Shipper,
    Kind::Text {
        required: false,
        secret: true,
    },
    Stack::NotSet,
    "The OAuth2 client secret itself, when CLIENT_SECRET_ARN is unset (local runs only).",
);
pub const AUTH_METHOD: Setting = setting(
    "AUTH_METHOD",
    Function::Shipper,
    Kind::Choice {
        default: "body",
        values: &["body", "basic"],
    },
    Stack::NotSet,
    "How the client credentials reach the token endpoint: form body or HTTP Basic.",
);
pub const SECRET_TTL_SECS: Setting = setting(
    "SECRET_TTL_SECS",
    Function::Shipper,
    Kind::Int {
        default: crate::ship::bridge::secret::DEFAULT_SECRET_TTL.as_secs(),
        min: 0,
        max: Some(86_400),
    },
    Stack::NotSet,
    "Seconds a client secret read from Secrets Manager is reused.",
);
pub const BRIDGE_BEARER_TOKEN: Setting = setting(
    "BRIDGE_BEARER_TOKEN",
    Function::Shipper,
    Kind::Text {
        required: false,
        secret: true,
    },
    Stack::NotSet,
    "A static bearer token, when AUTH_URL is unset.",
);
pub const BRIDGE_AUTH_HEADER: Setting = setting(
    "BRIDGE_AUTH_HEADER",
    Function::Shipper,
    Kind::Text {
        required: false,
        secret: true,
    },
    Stack::NotSet,
    "A static header \"Name: value\", when neither AUTH_URL nor BRIDGE_BEARER_TOKEN is set.",
);
pub const WINDOW_BYTES: Setting = setting(
    "WINDOW_BYTES",
    Function::Shipper,
    Kind::Int {
        default: crate::ship::DEFAULT_WINDOW_BYTES as u64,
        min: 4096,
        max: Some(10_000_000),
    },
    Stack::Param("WindowBytes"),
    "Bound on one request body to the collector, uncompressed.",
);
pub const REQUEST_TIMEOUT_MS: Setting = setting(
    "REQUEST_TIMEOUT_MS",
    Function::Shipper,
    Kind::Int {
        default: 10_000,
        min: 100,
        max: Some(600_000),
    },
    Stack::Param("RequestTimeoutMs"),
    "Timeout of one collector or token request, in milliseconds.",
);
pub const DEADLINE_MARGIN_MS: Setting = setting(
    "DEADLINE_MARGIN_MS",
    Function::Shipper,
    Kind::Int {
        default: 1500,
        min: 0,
        max: Some(60_000),
    },
    Stack::NotSet,
    "Time kept free before the invocation's deadline: no retry starts inside it.",
);
pub const BRIDGE_GZIP: Setting = setting(
    "BRIDGE_GZIP",
    Function::Shipper,
    Kind::Bool { default: false },
    Stack::NotSet,
    "Compress request bodies (Content-Encoding: gzip).",
);
pub const BRIDGE_CONCURRENCY: Setting = setting(
    "BRIDGE_CONCURRENCY",
    Function::Shipper,
    Kind::Int {
        default: 4,
        min: 1,
        max: Some(64),
    },
    Stack::NotSet,
    "Windows in flight per shipper batch.",
);
pub const ALLOW_INSECURE_HTTP: Setting = setting(
    "ALLOW_INSECURE_HTTP",
    Function::Shipper,
    Kind::Bool { default: false },
    Stack::Param("AllowInsecureHttp"),
    "Allow http:// collector and token URLs (testing only).",
);
pub const LOG_LEVEL: Setting = setting(
    "LOG_LEVEL",
    Function::Both,
    Kind::Choice {
        default: "info",
        values: &["error", "warn", "info", "debug", "trace"],
    },
    Stack::Param("LogLevel"),
    "Log level of the function's JSON log lines (a tracing directive is accepted too).",
);

pub const ALLOWED_LOG_GROUPS: Setting = setting(
    "ALLOWED_LOG_GROUPS",
    Function::Decode,
    Kind::List {
        default: crate::decode::DEFAULT_LOG_GROUPS,
    },
    Stack::Wired,
    "Log groups whose payloads are decoded (names, or prefixes ending in *; * alone: any); others are counted and ignored. The stacks add ExtraLogGroupPattern.",
);
pub const RETRY_MAX_VISIBILITY_SECS: Setting = setting(
    "RETRY_MAX_VISIBILITY_SECS",
    Function::Shipper,
    Kind::Int {
        default: 10_800,
        min: 0,
        max: Some(43_200),
    },
    Stack::Param("RetryMaxVisibilitySeconds"),
    "Cap on the visibility timeout a transiently failed message gets, doubling from the queue's with each receive (0: no growth).",
);
pub const REDRIVE_DLQ_ARN: Setting = setting(
    "REDRIVE_DLQ_ARN",
    Function::Shipper,
    Kind::Text {
        required: false,
        secret: false,
    },
    Stack::Wired,
    "Dead-letter queue moved back to its source queue once deliveries succeed again (unset: off; the stacks set the shipper DLQ unless AutoRedrive is false).",
);
pub const REDRIVE_COOLDOWN_SECS: Setting = setting(
    "REDRIVE_COOLDOWN_SECS",
    Function::Shipper,
    Kind::Int {
        default: 900,
        min: 60,
        max: Some(86_400),
    },
    Stack::Param("RedriveCooldownSeconds"),
    "Least time between two automatic redrive starts.",
);
pub const REDRIVE_RATE: Setting = setting(
    "REDRIVE_RATE",
    Function::Shipper,
    Kind::Int {
        default: 50,
        min: 1,
        max: Some(500),
    },
    Stack::NotSet,
    "Messages per second an automatic redrive moves.",
);

pub const STITCH_QUEUE_URL: Setting = setting(
    "STITCH_QUEUE_URL",
    Function::Decode,
    Kind::Text {
        required: false,
        secret: false,
    },
    Stack::Wired,
    "FIFO queue where requests not seen whole wait for their other part (docs/stitching.md); unset: they are delivered alone, flagged partial.",
);
pub const STITCH_HOLD_SECS: Setting = setting(
    "STITCH_HOLD_SECS",
    Function::Decode,
    Kind::Int {
        default: crate::stitch::DEFAULT_HOLD_SECS,
        min: 0,
        max: Some(600),
    },
    Stack::Param("StitchHoldSeconds"),
    "Seconds a request's fragment waits for its other part before it is delivered alone, flagged partial.",
);
pub const JOIN_STAGES: Setting = setting(
    "JOIN_STAGES",
    Function::Decode,
    Kind::List { default: &[] },
    Stack::Param("JoinStages"),
    "REST stages ({api-id}/{stage}, * for all) whose access-log records are joined with their execution logs into one transaction (needs STITCH_QUEUE_URL).",
);

/// Every setting, in the order of the configuration table.
pub const SETTINGS: &[Setting] = &[
    QUEUE_URL,
    MESSAGE_BYTES,
    MAX_PAYLOAD_BYTES,
    MAX_BODY_BYTES,
    REST_API_ENABLED,
    HTTP_API_ENABLED,
    WEBSOCKET_API_ENABLED,
    STATIC_FILE_EXTENSIONS,
    RESPONSE_CONTENT_TYPES,
    REDACT_HEADERS,
    AWS_REGION,
    ARCHIVE_STREAM,
    BRIDGE_URL,
    BRIDGE_FORMAT,
    AUTH_URL,
    CLIENT_ID,
    CLIENT_SECRET_ARN,
    CLIENT_SECRET,
    AUTH_METHOD,
    SECRET_TTL_SECS,
    BRIDGE_BEARER_TOKEN,
    BRIDGE_AUTH_HEADER,
    WINDOW_BYTES,
    REQUEST_TIMEOUT_MS,
    DEADLINE_MARGIN_MS,
    BRIDGE_GZIP,
    BRIDGE_CONCURRENCY,
    ALLOW_INSECURE_HTTP,
    ALLOWED_LOG_GROUPS,
    STITCH_QUEUE_URL,
    STITCH_HOLD_SECS,
    JOIN_STAGES,
    RETRY_MAX_VISIBILITY_SECS,
    REDRIVE_DLQ_ARN,
    REDRIVE_COOLDOWN_SECS,
    REDRIVE_RATE,
    LOG_LEVEL,
];

/// `true`/`false` and the usual spellings; `None` for anything else.
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Reading a setting. Each reader panics only on a programming error (asking a Bool for a number).

impl Setting {
    /// The value as given, trimmed; blank is unset.
    pub fn raw(&self, env: &dyn Env) -> Option<String> {
        env.get(self.name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    fn invalid(&self, value: &str, why: impl Into<String>) -> ConfigError {
        match self.kind {
            Kind::Text { secret: true, .. } => ConfigError::InvalidSecret {
                name: self.name,
                why: why.into(),
            },
            _ => ConfigError::Invalid {
                name: self.name,
                value: value.to_string(),
                why: why.into(),
            },
        }
    }

    /// A required text setting.
    pub fn required(&self, env: &dyn Env) -> Result<String, ConfigError> {
        self.raw(env)
            .ok_or(ConfigError::Missing { name: self.name })
    }

    /// An optional text setting.
    pub fn text(&self, env: &dyn Env) -> Option<String> {
        self.raw(env)
    }

    pub fn bool(&self, env: &dyn Env) -> Result<bool, ConfigError> {
        match self.raw(env) {
            None => Ok(self.bool_default()),
            Some(v) => parse_bool(&v).ok_or_else(|| self.invalid(&v, "expected true or false")),
        }
    }

    /// A whole number, checked against the setting's range.
    pub fn int(&self, env: &dyn Env) -> Result<u64, ConfigError> {
        match self.raw(env) {
            None => Ok(self.int_default()),
            Some(v) => self.check_int(&v).map_err(|why| self.invalid(&v, why)),
        }
    }

    pub fn usize(&self, env: &dyn Env) -> Result<usize, ConfigError> {
        let n = self.int(env)?;
        usize::try_from(n).map_err(|_| self.invalid(&n.to_string(), "too large for this machine"))
    }

    /// One of the setting's values, parsed by `T` (which may accept aliases).
    pub fn choice<T>(&self, env: &dyn Env) -> Result<T, ConfigError>
    where
        T: std::str::FromStr,
        T::Err: std::fmt::Display,
    {
        let v = self.raw(env).unwrap_or_else(|| self.default_text());
        v.parse()
            .map_err(|e: T::Err| self.invalid(&v, e.to_string()))
    }

    /// A list (lower-cased); extensions lose a leading dot.
    pub fn list(&self, env: &dyn Env) -> Vec<String> {
        let Kind::List { default } = self.kind else {
            panic!("{} is not a list setting", self.name)
        };
        match self.raw(env) {
            None => default.iter().map(|s| s.to_string()).collect(),
            Some(v) if self.name == STATIC_FILE_EXTENSIONS.name => parse_extensions(&v),
            Some(v) => parse_list(&v),
        }
    }

    /// Parse and range-check a number: the rule of the environment and of the CLI flag.
    pub fn check_int(&self, value: &str) -> Result<u64, String> {
        let Kind::Int { min, max, .. } = self.kind else {
            panic!("{} is not a number setting", self.name)
        };
        let n = value.trim().parse::<u64>().map_err(|e| e.to_string())?;
        match max {
            Some(max) if !(min..=max).contains(&n) => Err(format!("must be {min}..={max}")),
            None if n < min => Err(format!("must be at least {min}")),
            _ => Ok(n),
        }
    }

    pub const fn int_default(&self) -> u64 {
        match self.kind {
            Kind::Int { default, .. } => default,
            _ => panic!("not a number setting"),
        }
    }

    pub const fn choice_default(&self) -> &'static str {
        match self.kind {
            Kind::Choice { default, .. } => default,
            _ => panic!("not a choice setting"),
        }
    }

    pub const fn bool_default(&self) -> bool {
        match self.kind {
            Kind::Bool { default } => default,
            _ => panic!("not a bool setting"),
        }
    }

    /// The default as the environment would spell it; empty when there is none.
    pub fn default_text(&self) -> String {
        match self.kind {
            Kind::Bool { default } => default.to_string(),
            Kind::Int { default, .. } => default.to_string(),
            Kind::Choice { default, .. } => default.to_string(),
            Kind::List { default } => default.join(","),
            Kind::Text { .. } => String::new(),
        }
    }

    /// What the setting accepts, in words.
    pub fn allowed_text(&self) -> String {
        match self.kind {
            Kind::Bool { .. } => "true, false".into(),
            Kind::Int {
                min,
                max: Some(max),
                ..
            } => format!("{min}..={max}"),
            Kind::Int { min, max: None, .. } => format!("≥ {min}"),
            Kind::Choice { values, .. } => values.join(", "),
            Kind::List { .. } => "comma-separated list".into(),
            Kind::Text { required: true, .. } => "required".into(),
            Kind::Text { .. } => "text".into(),
        }
    }

    /// The values a CLI flag accepts: the same range as the environment.
    pub fn clap_usize(&self) -> clap::builder::RangedU64ValueParser<usize> {
        let Kind::Int { min, max, .. } = self.kind else {
            panic!("{} is not a number setting", self.name)
        };
        clap::builder::RangedU64ValueParser::<usize>::new().range(min..=max.unwrap_or(u64::MAX))
    }

    pub fn clap_u64(&self) -> clap::builder::RangedU64ValueParser<u64> {
        let Kind::Int { min, max, .. } = self.kind else {
            panic!("{} is not a number setting", self.name)
        };
        clap::builder::RangedU64ValueParser::<u64>::new().range(min..=max.unwrap_or(u64::MAX))
    }

    pub fn clap_choice(&self) -> clap::builder::PossibleValuesParser {
        match self.kind {
            Kind::Choice { values, .. } => {
                clap::builder::PossibleValuesParser::new(values.iter().copied())
            }
            Kind::Bool { .. } => {
                clap::builder::PossibleValuesParser::new(BOOL_VALUES.iter().copied())
            }
            _ => panic!("{} is not a choice setting", self.name),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Generated documents.

/// The configuration table (Markdown) of the README and `docs/architecture.md`.
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| variable | function | default | accepts | meaning |\n|---|---|---|---|---|\n",
    );
    for s in SETTINGS {
        let default = match s.default_text() {
            d if d.is_empty() => "—".to_string(),
            d => format!("`{d}`"),
        };
        let stack = match s.stack {
            Stack::Param(p) => format!(" Stack parameter `{p}`."),
            Stack::Fixed(v) => format!(" The stacks set `{v}`."),
            Stack::Wired | Stack::NotSet => String::new(),
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {}{} |\n",
            s.name,
            s.function.as_str(),
            default,
            s.allowed_text(),
            s.doc.replace('|', "\\|"),
            stack
        ));
    }
    out
}

/// `docs/settings.json`: the registry for tools outside Rust (the stack parity test).
pub fn json() -> String {
    let mut text = serde_json::to_string_pretty(&serde_json::json!({
        "generated_by": "apigw-stream settings --write (from src/config/settings.rs)",
        "settings": SETTINGS,
    }))
    .unwrap_or_default();
    text.push('\n');
    text
}

/// Marks around the generated table in a Markdown document.
pub const TABLE_BEGIN: &str = "<!-- settings table: generated from src/config/settings.rs -->";
pub const TABLE_END: &str = "<!-- end of settings table -->";

/// `doc` with the text between the table marks replaced by the current table; `None` without marks.
pub fn with_table(doc: &str) -> Option<String> {
    let start = doc.find(TABLE_BEGIN)? + TABLE_BEGIN.len();
    let end = start + doc[start..].find(TABLE_END)?;
    Some(format!(
        "{}\n{}{}",
        &doc[..start],
        markdown_table(),
        &doc[end..]
    ))
}

/// Files holding generated copies of the registry, relative to the repository root.
pub const TABLE_DOCS: &[&str] = &["docs/architecture.md"];
pub const JSON_DOC: &str = "docs/settings.json";

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    fn root(path: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
    }

    #[test]
    fn names_are_unique_and_defaults_are_accepted() {
        let mut seen = HashSet::new();
        for s in SETTINGS {
            assert!(seen.insert(s.name), "{} declared twice", s.name);
            let empty: HashMap<String, String> = HashMap::new();
            match s.kind {
                Kind::Int { default, .. } => {
                    assert_eq!(s.check_int(&default.to_string()), Ok(default), "{}", s.name)
                }
                Kind::Choice { default, values } => assert!(values.contains(&default)),
                Kind::Bool { .. } => assert!(s.bool(&empty).is_ok()),
                Kind::List { .. } | Kind::Text { .. } => {}
            }
            if let Stack::Fixed(v) = s.stack {
                assert!(
                    s.check_int(v).is_ok(),
                    "{}: the stacks' value {v} is refused",
                    s.name
                );
            }
        }
    }

    #[test]
    fn ranges_are_enforced_with_the_name_in_the_error() {
        let env: HashMap<String, String> =
            [("WINDOW_BYTES".to_string(), "1024".to_string())].into();
        let e = WINDOW_BYTES.int(&env).unwrap_err().to_string();
        assert!(e.contains("WINDOW_BYTES") && e.contains("4096"), "{e}");
        let env: HashMap<String, String> =
            [("BRIDGE_AUTH_HEADER".to_string(), "x".to_string())].into();
        let e = BRIDGE_AUTH_HEADER.invalid("s3cr3t", "bad").to_string();
        assert!(
            e.contains("BRIDGE_AUTH_HEADER") && !e.contains("s3cr3t"),
            "{e}"
        );
        assert_eq!(BRIDGE_AUTH_HEADER.text(&env).as_deref(), Some("x"));
    }

    #[test]
    fn the_deadline_margin_default_is_the_clients() {
        let client = crate::ship::bridge::ClientConfig::default();
        assert_eq!(
            DEADLINE_MARGIN_MS.int_default(),
            client.deadline_margin.as_millis() as u64
        );
    }

    #[test]
    fn generated_documents_are_current() {
        // Run `apigw-stream settings --write` (or `cargo run -- settings --write`) after a change.
        for doc in TABLE_DOCS {
            let text = std::fs::read_to_string(root(doc)).unwrap_or_default();
            let want = with_table(&text);
            assert!(want.is_some(), "{doc} lacks the settings table marks");
            assert!(
                want.as_deref() == Some(&*text),
                "{doc}: the settings table is stale"
            );
        }
        let json = std::fs::read_to_string(root(JSON_DOC)).unwrap_or_default();
        assert!(json == super::json(), "{JSON_DOC} is stale");
    }
}
