//! Execution-log events written by a CloudWatch Logs *delivery* (log type `EXECUTION_LOGS`, events
//! up to 1 MB, structured JSON in a log group of ours).
//!
//! The AWS documentation (`rest-api-create-log-delivery`) describes how to create the delivery but
//! shows no delivered event, and no public text we found names its JSON fields. So the mapping
//! below is an assumption, kept in one table: an object with a request id and the execution
//! message text under any of the listed names. The message text is the same line text as in the
//! standard format (with or without the `(id)` prefix). Anything else is left to the access-log
//! JSON parser, as before.

use serde_json::Value;

/// What a JSON key carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    RequestId,
    Message,
    Time,
}

/// JSON key → meaning, first match wins. ASSUMED names (see the module docs and the README).
pub const FIELDS: &[(&str, Field)] = &[
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

/// One delivered event, reduced to what the line parser needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    pub request_id: Option<String>,
    pub text: String,
    pub time_ms: Option<i64>,
}

/// Cheap check before parsing: a JSON object naming one of the message keys.
fn may_be_delivered(message: &str) -> bool {
    if !message.trim_start().starts_with('{') {
        return false;
    }
    let bytes = message.as_bytes();
    FIELDS
        .iter()
        .filter(|(_, f)| *f == Field::Message)
        .any(|(k, _)| {
            let quoted = [b"\"", k.as_bytes(), b"\""].concat();
            memchr::memmem::find(bytes, &quoted).is_some()
        })
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
    let mut out = Delivered {
        request_id: None,
        text: String::new(),
        time_ms: None,
    };
    let mut have_text = false;
    for (key, field) in FIELDS {
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
            Field::Time if out.time_ms.is_none() => {
                out.time_ms = match v {
                    Value::Number(n) => n.as_f64().and_then(epoch_ms),
                    Value::String(s) => crate::normalize::parse_request_time(s),
                    _ => None,
                };
            }
            _ => {}
        }
    }
    // The text must read as an execution line, else this is some other JSON log.
    let line = super::line::parse(&out.text);
    let named = line.request_id.is_some() || out.request_id.is_some();
    (have_text && (line.event.is_known() || (execution_group && named))).then_some(out)
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
