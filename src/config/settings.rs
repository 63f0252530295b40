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

pub const QUEUE_URL: TextSetting = text_setting(
    "QUEUE_URL",
    Function::Decode,
    TextRule {
        required: true,
        secret: false,
    },
    Stack::Wired,
    "URL of the SQS queue the decode function sends frames to.",
);
pub const MESSAGE_BYTES: IntSetting = int_setting(
    "MESSAGE_BYTES",
    Function::Decode,
    IntRule {
        default: crate::transport::frame::DEFAULT_MESSAGE_BYTES as u64,
        min: crate::transport::frame::MIN_MESSAGE_BYTES as u64,
        max: Some(crate::transport::queue::MAX_MESSAGE_BYTES as u64),
    },
    Stack::Fixed("1048576"),
    "Bound on one SQS message, body and attributes.",
);
pub const MAX_PAYLOAD_BYTES: IntSetting = int_setting(
    "MAX_PAYLOAD_BYTES",
    Function::Decode,
    IntRule {
        default: crate::decode::logs::DEFAULT_MAX_PAYLOAD_BYTES as u64,
        min: 1_048_576,
        max: None,
    },
    Stack::Param("MaxPayloadBytes"),
    "Cap on one decompressed subscription payload (gzip-bomb guard).",
);
pub const MAX_BODY_BYTES: IntSetting = int_setting(
    "MAX_BODY_BYTES",
    Function::Decode,
    IntRule {
        default: crate::decode::execution::DEFAULT_MAX_BODY_BYTES as u64,
        min: crate::decode::execution::MIN_MAX_BODY_BYTES as u64,
        max: Some(crate::decode::execution::MAX_MAX_BODY_BYTES as u64),
    },
    Stack::NotSet,
    "Execution-log bodies longer than this are cut and flagged truncated (never dropped).",
);
pub const REST_API_ENABLED: BoolSetting = bool_setting(
    "REST_API_ENABLED",
    Function::Decode,
    BoolRule { default: true },
    Stack::Param("RestApiEnabled"),
    "Keep records of REST APIs.",
);
pub const HTTP_API_ENABLED: BoolSetting = bool_setting(
    "HTTP_API_ENABLED",
    Function::Decode,
    BoolRule { default: true },
    Stack::Param("HttpApiEnabled"),
    "Keep records of HTTP APIs.",
);
pub const WEBSOCKET_API_ENABLED: BoolSetting = bool_setting(
    "WEBSOCKET_API_ENABLED",
    Function::Decode,
    BoolRule { default: true },
    Stack::NotSet,
    "Keep records of WebSocket APIs.",
);
pub const STATIC_FILE_EXTENSIONS: ListSetting = list_setting(
    "STATIC_FILE_EXTENSIONS",
    Function::Decode,
    ListRule {
        default: DEFAULT_STATIC_FILE_EXTENSIONS,
    },
    Stack::Param("StaticFileExtensions"),
    "Requests for paths with these extensions are dropped as static files (counted); `.png` or `png`.",
);
pub const RESPONSE_CONTENT_TYPES: ListSetting = list_setting(
    "RESPONSE_CONTENT_TYPES",
    Function::Decode,
    ListRule {
        default: DEFAULT_RESPONSE_CONTENT_TYPES,
    },
    Stack::Param("ResponseContentTypes"),
    "Keep only responses of these content types, where the record knows one (access logs never do).",
);
pub const REDACT_HEADERS: ListSetting = list_setting(
    "REDACT_HEADERS",
    Function::Decode,
    ListRule {
        default: DEFAULT_REDACT_HEADERS,
    },
    Stack::Param("RedactHeaders"),
    "Header names whose values are replaced by [REDACTED] before shipping.",
);
pub const AWS_REGION: TextSetting = text_setting(
    "AWS_REGION",
    Function::Decode,
    TextRule {
        required: false,
        secret: false,
    },
    Stack::NotSet,
    "Region recorded when a line has no execute-api domain (Lambda sets it).",
);
pub const ARCHIVE_STREAM: TextSetting = text_setting(
    "ARCHIVE_STREAM",
    Function::Decode,
    TextRule {
        required: false,
        secret: false,
    },
    Stack::Wired,
    "Amazon Data Firehose stream that also archives every record sent to the queue; unset: no archive. The stacks set it when ArchiveBucket is given.",
);
pub const BRIDGE_URL: TextSetting = text_setting(
    "BRIDGE_URL",
    Function::Shipper,
    TextRule {
        required: true,
        secret: false,
    },
    Stack::Param("BridgeUrl"),
    "Collector URL; a bare Edge URL gets /api-transactions with the uap format.",
);
pub const BRIDGE_FORMAT: ChoiceSetting = choice_setting(
    "BRIDGE_FORMAT",
    Function::Shipper,
    ChoiceRule {
        default: "uap",
        values: &["uap", "ndjson"],
    },
    Stack::Param("BridgeFormat"),
    "Collector wire format: uap (Cequence Edge format 1.0) or ndjson (canonical records).",
);
pub const AUTH_URL: TextSetting = text_setting(
    "AUTH_URL",
    Function::Shipper,
    TextRule {
        required: false,
        secret: false,
    },
    Stack::Param("AuthUrl"),
    "OAuth2 token endpoint (client credentials); unset sends without a token.",
);
pub const CLIENT_ID: TextSetting = text_setting(
    "CLIENT_ID",
    Function::Shipper,
    TextRule {
        required: false,
        secret: false,
    },
    Stack::Param("ClientId"),
    "OAuth2 client id (required with AUTH_URL).",
);
pub const CLIENT_SECRET_ARN: TextSetting = text_setting(
    "CLIENT_SECRET_ARN",
    Function::Shipper,
    TextRule {
        required: false,
        secret: false,
    },
    Stack::Wired,
    "Secrets Manager secret holding the OAuth2 client secret (re-read every SECRET_TTL_SECS).",
);
pub const CLIENT_SECRET: TextSetting = text_setting(
    "CLIENT_SECRET",
    Function::Shipper,
    TextRule {
        required: false,
        secret: true,
    },
    Stack::NotSet,
    "The OAuth2 client secret itself, when CLIENT_SECRET_ARN is unset (local runs only).",
);
pub const AUTH_METHOD: ChoiceSetting = choice_setting(
    "AUTH_METHOD",
    Function::Shipper,
    ChoiceRule {
        default: "body",
        values: &["body", "basic"],
    },
    Stack::NotSet,
    "How the client credentials reach the token endpoint: form body or HTTP Basic.",
);
pub const SECRET_TTL_SECS: IntSetting = int_setting(
    "SECRET_TTL_SECS",
    Function::Shipper,
    IntRule {
        default: crate::ship::bridge::secret::DEFAULT_SECRET_TTL.as_secs(),
        min: 0,
        max: Some(86_400),
    },
    Stack::NotSet,
    "Seconds a client secret read from Secrets Manager is reused.",
);
pub const BRIDGE_BEARER_TOKEN: TextSetting = text_setting(
    "BRIDGE_BEARER_TOKEN",
    Function::Shipper,
    TextRule {
        required: false,
        secret: true,
    },
    Stack::NotSet,
    "A static bearer token, when AUTH_URL is unset.",
);
pub const BRIDGE_AUTH_HEADER: TextSetting = text_setting(
    "BRIDGE_AUTH_HEADER",
    Function::Shipper,
    TextRule {
        required: false,
        secret: true,
    },
    Stack::NotSet,
    "A static header \"Name: value\", when neither AUTH_URL nor BRIDGE_BEARER_TOKEN is set.",
);
pub const WINDOW_BYTES: IntSetting = int_setting(
    "WINDOW_BYTES",
    Function::Shipper,
    IntRule {
        default: crate::ship::DEFAULT_WINDOW_BYTES as u64,
        min: 4096,
        max: Some(10_000_000),
    },
    Stack::Param("WindowBytes"),
    "Bound on one request body to the collector, uncompressed.",
);
pub const REQUEST_TIMEOUT_MS: IntSetting = int_setting(
    "REQUEST_TIMEOUT_MS",
    Function::Shipper,
    IntRule {
        default: 10_000,
        min: 100,
        max: Some(600_000),
    },
    Stack::Param("RequestTimeoutMs"),
    "Timeout of one collector or token request, in milliseconds.",
);
pub const DEADLINE_MARGIN_MS: IntSetting = int_setting(
    "DEADLINE_MARGIN_MS",
    Function::Shipper,
    IntRule {
        default: 1500,
        min: 0,
        max: Some(60_000),
    },
    Stack::NotSet,
    "Time kept free before the invocation's deadline: no retry starts inside it.",
);
pub const BRIDGE_GZIP: BoolSetting = bool_setting(
    "BRIDGE_GZIP",
    Function::Shipper,
    BoolRule { default: false },
    Stack::NotSet,
    "Compress request bodies (Content-Encoding: gzip).",
);
pub const BRIDGE_CONCURRENCY: IntSetting = int_setting(
    "BRIDGE_CONCURRENCY",
    Function::Shipper,
    IntRule {
        default: 4,
        min: 1,
        max: Some(64),
    },
    Stack::NotSet,
    "Windows in flight per shipper batch.",
);
pub const ALLOW_INSECURE_HTTP: BoolSetting = bool_setting(
    "ALLOW_INSECURE_HTTP",
    Function::Shipper,
    BoolRule { default: false },
    Stack::Param("AllowInsecureHttp"),
    "Allow http:// collector and token URLs (testing only).",
);
pub const LOG_LEVEL: ChoiceSetting = choice_setting(
    "LOG_LEVEL",
    Function::Both,
    ChoiceRule {
        default: "info",
        values: &["error", "warn", "info", "debug", "trace"],
    },
    Stack::Param("LogLevel"),
    "Log level of the function's JSON log lines (a tracing directive is accepted too).",
);

pub const ALLOWED_LOG_GROUPS: ListSetting = list_setting(
    "ALLOWED_LOG_GROUPS",
    Function::Decode,
    ListRule {
        default: crate::decode::DEFAULT_LOG_GROUPS,
    },
    Stack::Wired,
    "Log groups whose payloads are decoded (names, or prefixes ending in *; * alone: any); others are counted and ignored. The stacks add ExtraLogGroupPattern.",
);
pub const RETRY_MAX_VISIBILITY_SECS: IntSetting = int_setting(
    "RETRY_MAX_VISIBILITY_SECS",
    Function::Shipper,
    IntRule {
        default: 10_800,
        min: 0,
        max: Some(43_200),
    },
    Stack::Param("RetryMaxVisibilitySeconds"),
    "Cap on the visibility timeout a transiently failed message gets, doubling from the queue's with each receive (0: no growth).",
);
pub const REDRIVE_DLQ_ARN: TextSetting = text_setting(
    "REDRIVE_DLQ_ARN",
    Function::Shipper,
    TextRule {
        required: false,
        secret: false,
    },
    Stack::Wired,
    "Dead-letter queue moved back to its source queue once deliveries succeed again (unset: off; the stacks set the shipper DLQ unless AutoRedrive is false).",
);
pub const REDRIVE_COOLDOWN_SECS: IntSetting = int_setting(
    "REDRIVE_COOLDOWN_SECS",
    Function::Shipper,
    IntRule {
        default: 900,
        min: 60,
        max: Some(86_400),
    },
    Stack::Param("RedriveCooldownSeconds"),
    "Least time between two automatic redrive starts.",
);
pub const REDRIVE_RATE: IntSetting = int_setting(
    "REDRIVE_RATE",
    Function::Shipper,
    IntRule {
        default: 50,
        min: 1,
        max: Some(500),
    },
    Stack::NotSet,
    "Messages per second an automatic redrive moves.",
);

pub const STITCH_QUEUE_URL: TextSetting = text_setting(
    "STITCH_QUEUE_URL",
    Function::Decode,
    TextRule {
        required: false,
        secret: false,
    },
    Stack::Wired,
    "FIFO queue where requests not seen whole wait for their other part (docs/stitching.md); unset: they are delivered alone, flagged partial.",
);
pub const STITCH_HOLD_SECS: IntSetting = int_setting(
    "STITCH_HOLD_SECS",
    Function::Decode,
    IntRule {
        default: crate::stitch::DEFAULT_HOLD_SECS,
        min: 0,
        max: Some(600),
    },
    Stack::Param("StitchHoldSeconds"),
    "Seconds a request's fragment waits for its other part before it is delivered alone, flagged partial.",
);
pub const JOIN_STAGES: ListSetting = list_setting(
    "JOIN_STAGES",
    Function::Decode,
    ListRule { default: &[] },
    Stack::Param("JoinStages"),
    "REST stages ({api-id}/{stage}, * for all) whose access-log records are joined with their execution logs into one transaction (needs STITCH_QUEUE_URL).",
);

/// Every setting, in the order of the configuration table.
pub const SETTINGS: &[Setting] = &[
    QUEUE_URL.setting,
    MESSAGE_BYTES.setting,
    MAX_PAYLOAD_BYTES.setting,
    MAX_BODY_BYTES.setting,
    REST_API_ENABLED.setting,
    HTTP_API_ENABLED.setting,
    WEBSOCKET_API_ENABLED.setting,
    STATIC_FILE_EXTENSIONS.setting,
    RESPONSE_CONTENT_TYPES.setting,
    REDACT_HEADERS.setting,
    AWS_REGION.setting,
    ARCHIVE_STREAM.setting,
    BRIDGE_URL.setting,
    BRIDGE_FORMAT.setting,
    AUTH_URL.setting,
    CLIENT_ID.setting,
    CLIENT_SECRET_ARN.setting,
    CLIENT_SECRET.setting,
    AUTH_METHOD.setting,
    SECRET_TTL_SECS.setting,
    BRIDGE_BEARER_TOKEN.setting,
    BRIDGE_AUTH_HEADER.setting,
    WINDOW_BYTES.setting,
    REQUEST_TIMEOUT_MS.setting,
    DEADLINE_MARGIN_MS.setting,
    BRIDGE_GZIP.setting,
    BRIDGE_CONCURRENCY.setting,
    ALLOW_INSECURE_HTTP.setting,
    ALLOWED_LOG_GROUPS.setting,
    STITCH_QUEUE_URL.setting,
    STITCH_HOLD_SECS.setting,
    JOIN_STAGES.setting,
    RETRY_MAX_VISIBILITY_SECS.setting,
    REDRIVE_DLQ_ARN.setting,
    REDRIVE_COOLDOWN_SECS.setting,
    REDRIVE_RATE.setting,
    LOG_LEVEL.setting,
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
// Reading a setting. Each constant is typed by its kind ([`IntSetting`], [`BoolSetting`], ...), so
// only the readers of that kind exist for it: asking a switch for a number does not compile.

/// The rule of a whole-number setting: its default and range (`max: None`: no upper bound).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntRule {
    pub default: u64,
    pub min: u64,
    pub max: Option<u64>,
}

/// The rule of a switch: its default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoolRule {
    pub default: bool,
}

/// The rule of a choice: its default and the values it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChoiceRule {
    pub default: &'static str,
    pub values: &'static [&'static str],
}

/// The rule of a list: its default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListRule {
    pub default: &'static [&'static str],
}

/// The rule of free text: whether it is required, and whether it is a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextRule {
    pub required: bool,
    pub secret: bool,
}

/// A registry entry with the rule of its kind. It derefs to its [`Setting`] (`name`, `doc`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Typed<R> {
    pub setting: Setting,
    pub rule: R,
}

impl<R> std::ops::Deref for Typed<R> {
    type Target = Setting;
    fn deref(&self) -> &Setting {
        &self.setting
    }
}

pub type IntSetting = Typed<IntRule>;
pub type BoolSetting = Typed<BoolRule>;
pub type ChoiceSetting = Typed<ChoiceRule>;
pub type ListSetting = Typed<ListRule>;
pub type TextSetting = Typed<TextRule>;

const fn int_setting(
    name: &'static str,
    function: Function,
    rule: IntRule,
    stack: Stack,
    doc: &'static str,
) -> IntSetting {
    let kind = Kind::Int {
        default: rule.default,
        min: rule.min,
        max: rule.max,
    };
    Typed {
        setting: setting(name, function, kind, stack, doc),
        rule,
    }
}

const fn bool_setting(
    name: &'static str,
    function: Function,
    rule: BoolRule,
    stack: Stack,
    doc: &'static str,
) -> BoolSetting {
    let kind = Kind::Bool {
        default: rule.default,
    };
    Typed {
        setting: setting(name, function, kind, stack, doc),
        rule,
    }
}

const fn choice_setting(
    name: &'static str,
    function: Function,
    rule: ChoiceRule,
    stack: Stack,
    doc: &'static str,
) -> ChoiceSetting {
    let kind = Kind::Choice {
        default: rule.default,
        values: rule.values,
    };
    Typed {
        setting: setting(name, function, kind, stack, doc),
        rule,
    }
}

const fn list_setting(
    name: &'static str,
    function: Function,
    rule: ListRule,
    stack: Stack,
    doc: &'static str,
) -> ListSetting {
    let kind = Kind::List {
        default: rule.default,
    };
    Typed {
        setting: setting(name, function, kind, stack, doc),
        rule,
    }
}

const fn text_setting(
    name: &'static str,
    function: Function,
    rule: TextRule,
    stack: Stack,
    doc: &'static str,
) -> TextSetting {
    let kind = Kind::Text {
        required: rule.required,
        secret: rule.secret,
    };
    Typed {
        setting: setting(name, function, kind, stack, doc),
        rule,
    }
}

/// Why a value is not one a setting accepts (the setting's name is added by the reader).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("{0}")]
    NotANumber(#[from] std::num::ParseIntError),
    #[error("must be {min}..={max}")]
    OutOfRange { min: u64, max: u64 },
    #[error("must be at least {min}")]
    TooSmall { min: u64 },
    #[error("expected true or false")]
    NotABool,
    #[error("expected one of {}", values.join(", "))]
    NotAChoice { values: &'static [&'static str] },
}

impl IntRule {
    /// Parse and range-check a number: the rule of the environment and of the CLI flag.
    pub fn check(&self, value: &str) -> Result<u64, ValueError> {
        let n = value.trim().parse::<u64>()?;
        match self.max {
            Some(max) if !(self.min..=max).contains(&n) => {
                Err(ValueError::OutOfRange { min: self.min, max })
            }
            None if n < self.min => Err(ValueError::TooSmall { min: self.min }),
            _ => Ok(n),
        }
    }
}

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

    /// Whether `value` is one the setting accepts (text and lists accept anything).
    pub fn check(&self, value: &str) -> Result<(), ValueError> {
        match self.kind {
            Kind::Int { default, min, max } => IntRule { default, min, max }.check(value).map(drop),
            Kind::Bool { .. } => parse_bool(value).map(drop).ok_or(ValueError::NotABool),
            Kind::Choice { values, .. } => values
                .iter()
                .any(|v| v.eq_ignore_ascii_case(value.trim()))
                .then_some(())
                .ok_or(ValueError::NotAChoice { values }),
            Kind::List { .. } | Kind::Text { .. } => Ok(()),
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
}

impl TextSetting {
    /// A required text setting.
    pub fn required(&self, env: &dyn Env) -> Result<String, ConfigError> {
        self.raw(env)
            .ok_or(ConfigError::Missing { name: self.name })
    }

    /// An optional text setting.
    pub fn text(&self, env: &dyn Env) -> Option<String> {
        self.raw(env)
    }
}

impl BoolSetting {
    pub fn bool(&self, env: &dyn Env) -> Result<bool, ConfigError> {
        match self.raw(env) {
            None => Ok(self.bool_default()),
            Some(v) => parse_bool(&v).ok_or_else(|| self.invalid(&v, "expected true or false")),
        }
    }

    pub const fn bool_default(&self) -> bool {
        self.rule.default
    }

    /// The values a CLI flag taking a value accepts.
    pub fn clap_choice(&self) -> clap::builder::PossibleValuesParser {
        clap::builder::PossibleValuesParser::new(BOOL_VALUES.iter().copied())
    }
}

impl IntSetting {
    /// A whole number, checked against the setting's range.
    pub fn int(&self, env: &dyn Env) -> Result<u64, ConfigError> {
        match self.raw(env) {
            None => Ok(self.int_default()),
            Some(v) => self
                .check_int(&v)
                .map_err(|why| self.invalid(&v, why.to_string())),
        }
    }

    pub fn usize(&self, env: &dyn Env) -> Result<usize, ConfigError> {
        let n = self.int(env)?;
        usize::try_from(n).map_err(|_| self.invalid(&n.to_string(), "too large for this machine"))
    }

    /// Parse and range-check a number: the rule of the environment and of the CLI flag.
    pub fn check_int(&self, value: &str) -> Result<u64, ValueError> {
        self.rule.check(value)
    }

    pub const fn int_default(&self) -> u64 {
        self.rule.default
    }

    /// The values a CLI flag accepts: the same range as the environment.
    pub fn clap_usize(&self) -> clap::builder::RangedU64ValueParser<usize> {
        let IntRule { min, max, .. } = self.rule;
        clap::builder::RangedU64ValueParser::<usize>::new().range(min..=max.unwrap_or(u64::MAX))
    }

    pub fn clap_u64(&self) -> clap::builder::RangedU64ValueParser<u64> {
        let IntRule { min, max, .. } = self.rule;
        clap::builder::RangedU64ValueParser::<u64>::new().range(min..=max.unwrap_or(u64::MAX))
    }
}

impl ChoiceSetting {
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

    pub const fn choice_default(&self) -> &'static str {
        self.rule.default
    }

    /// The values a CLI flag accepts.
    pub fn clap_choice(&self) -> clap::builder::PossibleValuesParser {
        clap::builder::PossibleValuesParser::new(self.rule.values.iter().copied())
    }
}

impl ListSetting {
    /// A list (lower-cased); extensions lose a leading dot.
    pub fn list(&self, env: &dyn Env) -> Vec<String> {
        match self.raw(env) {
            None => self.rule.default.iter().map(|s| s.to_string()).collect(),
            Some(v) if self.name == STATIC_FILE_EXTENSIONS.name => parse_extensions(&v),
            Some(v) => parse_list(&v),
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
            match s.kind {
                Kind::Int { default, min, max } => assert_eq!(
                    IntRule { default, min, max }.check(&default.to_string()),
                    Ok(default),
                    "{}",
                    s.name
                ),
                Kind::Choice { default, values } => assert!(values.contains(&default)),
                Kind::Bool { .. } => assert!(s.check(&s.default_text()).is_ok()),
                Kind::List { .. } | Kind::Text { .. } => {}
            }
            if let Stack::Fixed(v) = s.stack {
                assert!(
                    s.check(v).is_ok(),
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
