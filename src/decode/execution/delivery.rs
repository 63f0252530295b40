//! Execution-log events written by a CloudWatch Logs *delivery* (log type `EXECUTION_LOGS`, events
//! up to 1 MB) into a log group of ours.
//!
//! We do not guess the shape: the delivery we create (`enable --large-bodies`, the api-subscription
//! stack, the Terraform module) names its output format (`json`) and its record fields
//! ([`RECORD_FIELDS`], every field AWS offers for this log type) explicitly, and `enable` checks
//! them against `DescribeConfigurationTemplates` before it creates anything. Each field, what we
//! parse from it and where its name comes from is listed in docs/execution-logs.md.
//!
//! A record of that shape is read by its names: `payload` is the execution line (with or without
//! the `(request-id) ` prefix), `event_timestamp` its time, `api_id`, `stage`, `resource_path`,
//! `http_method` its API context. Older or foreign shapes go through a lenient table of other
//! names ([`LENIENT_FIELDS`]). A `plain` delivery (the line text alone) needs none of this: its
//! events are execution lines as the standard format writes them.

use serde::Deserialize;
use serde_json::Value;

use crate::decode::formats::json::LINE_TEXT_KEYS;

/// The record fields of an `EXECUTION_LOGS` delivery, as `CreateDelivery --record-fields` takes
/// them and as a `json` delivery writes them. Source: a third-party summary of AWS's 2026-09-10
/// announcement (medium confidence); `enable` confirms them against `DescribeConfigurationTemplates`
/// at plan time. Kept in step with the templates by tests/iac.
pub const RECORD_FIELDS: &[&str] = &[
    "resource_arn",
    "event_timestamp",
    "api_id",
    "stage",
    "resource_path",
    "http_method",
    "payload",
];

/// The fields the decoder cannot do without (the line itself). The others improve a record
/// (time, API context) and have fallbacks (the CloudWatch event's time, the log group's name).
pub const REQUIRED_FIELDS: &[&str] = &["payload"];

/// The output format we create the delivery destination with.
pub const OUTPUT_FORMAT: &str = "json";

/// What a JSON key carries in the lenient table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    RequestId,
    Message,
    Time,
}

/// Other shapes (not what our deliveries write): JSON key → meaning, first match wins.
pub const LENIENT_FIELDS: &[(&str, Field)] = &[
    ("requestId", Field::RequestId),
    ("request_id", Field::RequestId),
    ("RequestId", Field::RequestId),
    ("requestID", Field::RequestId),
    ("message", Field::Message),
    ("Message", Field::Message),
    ("msg", Field::Message),
    ("logMessage", Field::Message),
    ("log", Field::Message),
    ("event_message", Field::Message),
    ("timestamp", Field::Time),
    ("time", Field::Time),
    ("eventTime", Field::Time),
];

/// The API context a delivered record names beside its line (kept with a request's lines when
/// they travel through the stitch queue).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct DeliveredApi {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_method: Option<String>,
}

impl DeliveredApi {
    pub fn is_empty(&self) -> bool {
        self.api_id.is_none()
            && self.stage.is_none()
            && self.resource_path.is_none()
            && self.http_method.is_none()
    }
}

/// One delivered event, reduced to what the line parser needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// The request id given beside the line (lenient shapes only; our shape carries it in the
    /// line's `(id)` prefix).
    pub request_id: Option<String>,
    pub text: String,
    pub time_ms: Option<i64>,
    pub api: DeliveredApi,
}

/// A record of the shape our deliveries write. Unknown fields are ignored (AWS may add some).
#[derive(Deserialize)]
struct Record {
    payload: Option<Value>,
    event_timestamp: Option<Value>,
    api_id: Option<Value>,
    stage: Option<Value>,
    resource_path: Option<Value>,
    http_method: Option<Value>,
}

/// A non-empty string field (a number or an empty string names nothing).
fn text(v: Option<Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s),
        _ => None,
    }
}

/// Epoch seconds or milliseconds (a number or a digit string), or ISO 8601.
fn time(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_f64().and_then(epoch_ms),
        Value::String(s) => {
            let s = s.trim();
            if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
                s.parse::<f64>().ok().and_then(epoch_ms)
            } else {
                crate::decode::normalize::parse_request_time(s)
            }
        }
        _ => None,
    }
}

/// Cheap check before parsing: a JSON object naming `payload` or one of the lenient message keys
/// ([`LINE_TEXT_KEYS`]).
/// One pass over the line's quotes, no allocation: every JSON access-log line comes through here.
fn may_be_delivered(message: &str) -> bool {
    if !message.trim_start().starts_with('{') {
        return false;
    }
    let bytes = message.as_bytes();
    memchr::memchr_iter(b'"', bytes).any(|at| {
        let rest = &bytes[at + 1..];
        LINE_TEXT_KEYS.iter().any(|k| names_message_key(rest, k))
    })
}

/// `rest` (the text after a quote) starts with `key` and its closing quote.
fn names_message_key(rest: &[u8], key: &str) -> bool {
    rest.len() > key.len() && rest.starts_with(key.as_bytes()) && rest[key.len()] == b'"'
}

/// A delivered event, when `message` is one: a JSON object with execution message text.
/// `execution_group`: the payload's log group holds execution logs, so a line of a kind the parser
/// does not know is still taken when the object names its request.
pub fn parse(message: &str, execution_group: bool) -> Option<Delivered> {
    if !may_be_delivered(message) {
        return None;
    }
    let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(message) else {
        return None;
    };
    let out = if obj.contains_key("payload") {
        ours(Value::Object(obj))?
    } else {
        lenient(&obj)?
    };
    // The text must read as an execution line, else this is some other JSON log.
    let line = super::line::parse(&out.text);
    let named = line.request_id.is_some() || out.request_id.is_some();
    let ours = !out.api.is_empty();
    (line.event.is_known() || ((execution_group || ours) && named)).then_some(out)
}

/// Our shape: the fields of [`RECORD_FIELDS`].
fn ours(obj: Value) -> Option<Delivered> {
    let r: Record = serde_json::from_value(obj).ok()?;
    let text = match r.payload {
        Some(Value::String(s)) => s,
        _ => return None,
    };
    Some(Delivered {
        request_id: None,
        // A line as the standard format writes it; a trailing newline is not part of it.
        text: text.strip_suffix('\n').map(str::to_string).unwrap_or(text),
        time_ms: r.event_timestamp.as_ref().and_then(time),
        api: DeliveredApi {
            api_id: text_field(r.api_id),
            stage: text_field(r.stage),
            resource_path: text_field(r.resource_path),
            http_method: text_field(r.http_method).map(|m| m.to_ascii_uppercase()),
        },
    })
}

fn text_field(v: Option<Value>) -> Option<String> {
    text(v).map(|s| s.trim().to_string())
}

/// Other shapes, through [`LENIENT_FIELDS`].
fn lenient(obj: &serde_json::Map<String, Value>) -> Option<Delivered> {
    let mut out = Delivered {
        request_id: None,
        text: String::new(),
        time_ms: None,
        api: DeliveredApi::default(),
    };
    let mut have_text = false;
    for (key, field) in LENIENT_FIELDS {
        let Some(v) = obj.get(*key) else { continue };
        match field {
            Field::RequestId if out.request_id.is_none() => {
                out.request_id = v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
            }
            Field::Message if !have_text => {
                if let Some(s) = v.as_str() {
                    out.text = s.to_string();
                    have_text = true;
                }
            }
            Field::Time if out.time_ms.is_none() => out.time_ms = time(v),
            _ => {}
        }
    }
    have_text.then_some(out)
}

/// Seconds or milliseconds since the epoch.
fn epoch_ms(v: f64) -> Option<i64> {
    if !v.is_finite() || v <= 0.0 || v > 1e15 {
        return None;
    }
    Some(if v < 1e11 {
        (v * 1000.0).round() as i64
    } else {
        v.round() as i64
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(payload: &str, ts: Value) -> String {
        serde_json::json!({
            "resource_arn": "arn:aws:apigateway:us-east-1::/restapis/a1b2c3d4e5/stages/prod",
            "event_timestamp": ts,
            "api_id": "a1b2c3d4e5",
            "stage": "prod",
            "resource_path": "/pets/{id}",
            "http_method": "get",
            "payload": payload,
        })
        .to_string()
    }

    #[test]
    fn our_shape_with_and_without_the_id_prefix() {
        let d = parse(
            &record(
                "(0f7e-1) Method completed with status: 200",
                serde_json::json!(1_717_200_000_123u64),
            ),
            false,
        )
        .unwrap();
        assert_eq!(d.text, "(0f7e-1) Method completed with status: 200");
        assert_eq!(d.time_ms, Some(1_717_200_000_123));
        assert_eq!(d.api.api_id.as_deref(), Some("a1b2c3d4e5"));
        assert_eq!(d.api.stage.as_deref(), Some("prod"));
        assert_eq!(d.api.resource_path.as_deref(), Some("/pets/{id}"));
        assert_eq!(d.api.http_method.as_deref(), Some("GET"));
        // No prefix, ISO 8601 time.
        let d = parse(
            &record(
                "Method completed with status: 200",
                serde_json::json!("2024-06-01T00:00:00.123Z"),
            ),
            false,
        )
        .unwrap();
        assert_eq!(d.text, "Method completed with status: 200");
        assert_eq!(d.time_ms, Some(1_717_200_000_123));
        // Epoch seconds as a string.
        let d = parse(
            &record(
                "Method completed with status: 200",
                serde_json::json!("1717200000"),
            ),
            false,
        )
        .unwrap();
        assert_eq!(d.time_ms, Some(1_717_200_000_000));
    }

    #[test]
    fn our_shape_needs_a_payload_string() {
        assert!(parse(r#"{"payload":5,"api_id":"a"}"#, true).is_none());
        assert!(parse(r#"{"payload":"hello","api_id":"a"}"#, true).is_none());
        // A line kind the parser does not name, with its id prefix: taken (the record is ours).
        let d = parse(&record("(a-1) Something new", Value::Null), false).unwrap();
        assert_eq!(d.text, "(a-1) Something new");
        assert_eq!(d.time_ms, None);
    }

    #[test]
    fn the_line_parser_knows_every_key_a_delivered_line_travels_under() {
        let mut ours: Vec<&str> = LENIENT_FIELDS
            .iter()
            .filter(|(_, f)| *f == Field::Message)
            .map(|(k, _)| *k)
            .chain(["payload"])
            .collect();
        let mut known = LINE_TEXT_KEYS.to_vec();
        ours.sort_unstable();
        known.sort_unstable();
        assert_eq!(ours, known);
    }

    #[test]
    fn lenient_shapes() {
        let d = parse(r#"{"requestId":"abc-1","message":"Method completed with status: 200","timestamp":1717200000123}"#, false).unwrap();
        assert_eq!(d.request_id.as_deref(), Some("abc-1"));
        assert_eq!(d.text, "Method completed with status: 200");
        assert_eq!(d.time_ms, Some(1_717_200_000_123));
        let d = parse(r#"{"msg":"(abc-2) HTTP Method: GET, Resource Path: /x","time":"2024-06-01T00:00:00Z"}"#, false).unwrap();
        assert_eq!(d.request_id, None);
        assert_eq!(d.time_ms, Some(1_717_200_000_000));
        // Other JSON: an access-log line, an app log with a message that is no execution line.
        assert!(parse(
            r#"{"requestId":"a","status":"200","httpMethod":"GET"}"#,
            true
        )
        .is_none());
        assert!(parse(r#"{"message":"hello","level":"info"}"#, true).is_none());
        assert!(parse(r#"{"message": 5"#, true).is_none());
        // A line kind the parser does not name: taken in an execution log group only.
        let other = r#"{"requestId":"a","message":"Incoming identity: ****abcdef"}"#;
        assert!(parse(other, false).is_none());
        assert_eq!(
            parse(other, true).unwrap().text,
            "Incoming identity: ****abcdef"
        );
    }
}
