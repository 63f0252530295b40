//! The canonical record `apigw-stream/v1`: one API transaction, whatever log format it came from.
//!
//! Absent values are `None` and serialize as `null`; API Gateway's `-` placeholder never reaches here.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub(crate) mod write;

/// Value of the `schema` field of every record.
pub const SCHEMA: &str = "apigw-stream/v1";

/// Header map: lower-case names, each with its values in the order seen.
pub type Headers = BTreeMap<String, Vec<String>>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transaction {
    pub schema: std::borrow::Cow<'static, str>,
    /// API Gateway request id when the line has one, else `{log_stream}/{event_id}`.
    pub id: String,
    pub time_ms: i64,
    pub api: Api,
    pub request: Request,
    pub response: Response,
    pub flags: Flags,
    pub source: Source,
    /// What only execution logs tell (absent for access-log records).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution: Option<Execution>,
}

/// Execution-log details of a REST request that have no place in the HTTP exchange itself.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Execution {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extended_request_id: Option<String>,
    /// `Execution failed due to …`, `Lambda execution failed …` or the throttling line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The Lambda authorizer denied the request.
    #[serde(default)]
    pub authorizer_denied: bool,
    #[serde(default)]
    pub throttled: bool,
    /// The `Method completed with status` line was in the payload.
    #[serde(default)]
    pub complete: bool,
    /// The raw lines of an incomplete request, so that a later stage can join it with the rest.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<ExecutionLine>,
    /// Some raw lines were cut or left out so that the record fits (see [`crate::transport::truncate`]).
    #[serde(default, skip_serializing_if = "is_false")]
    pub lines_truncated: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One log event of an incomplete request, as it arrived.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ExecutionLine {
    pub event_id: String,
    pub timestamp: i64,
    pub message: String,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ApiKind {
    Rest,
    Http,
    Websocket,
    #[default]
    Unknown,
}

impl ApiKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiKind::Rest => "rest",
            ApiKind::Http => "http",
            ApiKind::Websocket => "websocket",
            ApiKind::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<ApiKind> {
        match s.to_ascii_lowercase().as_str() {
            "rest" => Some(ApiKind::Rest),
            "http" => Some(ApiKind::Http),
            "websocket" | "ws" => Some(ApiKind::Websocket),
            "unknown" => Some(ApiKind::Unknown),
            _ => None,
        }
    }
}

impl std::fmt::Display for ApiKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Api {
    pub kind: ApiKind,
    pub id: Option<String>,
    pub stage: Option<String>,
    pub account: Option<String>,
    pub region: Option<String>,
    pub domain: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Request {
    pub method: Option<String>,
    pub scheme: Option<String>,
    pub host: Option<String>,
    pub path: Option<String>,
    pub query: Option<String>,
    pub route: Option<String>,
    pub protocol: Option<String>,
    pub client_ip: Option<String>,
    pub headers: Headers,
    pub body: Option<Body>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Response {
    pub status: Option<u16>,
    pub length: Option<u64>,
    pub latency_ms: Option<u64>,
    pub integration_latency_ms: Option<u64>,
    pub headers: Headers,
    pub body: Option<Body>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BodyEncoding {
    Utf8,
    Base64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Body {
    pub data: String,
    pub encoding: BodyEncoding,
    pub truncated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Flags {
    /// No body was captured (every access-log record).
    pub discovery_only: bool,
    pub body_truncated: bool,
    /// Some fields could not be recovered from the line (e.g. broken JSON), or were cut.
    pub partial: bool,
    /// Header values were cut or headers left out so that the record fits (see
    /// [`crate::transport::truncate`]); absent when nothing was cut.
    #[serde(default, skip_serializing_if = "is_false")]
    pub headers_truncated: bool,
    /// A body (or a line it came from) held bytes that are not UTF-8, or JSON escapes of lone
    /// UTF-16 surrogates: it was decoded lossily (U+FFFD); absent when not.
    #[serde(default, skip_serializing_if = "is_false")]
    pub body_lossy: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum SourceFormat {
    #[default]
    #[serde(rename = "access-json")]
    AccessJson,
    #[serde(rename = "access-clf")]
    AccessClf,
    #[serde(rename = "access-csv")]
    AccessCsv,
    #[serde(rename = "access-xml")]
    AccessXml,
    /// A custom `key: value, …` or `key=value …` access-log format.
    #[serde(rename = "access-kv")]
    AccessKv,
    #[serde(rename = "execution")]
    Execution,
}

impl SourceFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceFormat::AccessJson => "access-json",
            SourceFormat::AccessClf => "access-clf",
            SourceFormat::AccessCsv => "access-csv",
            SourceFormat::AccessXml => "access-xml",
            SourceFormat::AccessKv => "access-kv",
            SourceFormat::Execution => "execution",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Source {
    pub log_group: String,
    pub log_stream: String,
    pub event_id: String,
    pub format: SourceFormat,
}

impl Transaction {
    /// An empty record with the schema set; the parsers fill it in.
    pub fn new(id: String, time_ms: i64, source: Source) -> Self {
        Transaction {
            schema: std::borrow::Cow::Borrowed(SCHEMA),
            id,
            time_ms,
            api: Api::default(),
            request: Request::default(),
            response: Response::default(),
            flags: Flags {
                discovery_only: true,
                ..Flags::default()
            },
            source,
            execution: None,
        }
    }

    /// The request target as the client sent it: path plus `?query` when there is one.
    pub fn path_and_query(&self) -> String {
        let path = self.request.path.as_deref().unwrap_or("/");
        match self.request.query.as_deref() {
            Some(q) if !q.is_empty() => format!("{path}?{q}"),
            _ => path.to_string(),
        }
    }
}
