//! The decoded subscription message. Parsed leniently: unknown fields are ignored (account-level
//! policies add `policyLevel`), `id` may be a string or a number (moto sends numbers) or be named
//! `eventId` (events copied from `FilterLogEvents`), `timestamp` may be a string, missing optional
//! fields default, and a message with invalid UTF-8 is decoded lossily and flagged rather than
//! failing the whole payload.

use serde::{Deserialize, Deserializer, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum MessageType {
    #[default]
    #[serde(rename = "DATA_MESSAGE")]
    Data,
    #[serde(rename = "CONTROL_MESSAGE")]
    Control,
    #[serde(other, rename = "UNKNOWN")]
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogData {
    #[serde(default)]
    pub message_type: MessageType,
    #[serde(default)]
    pub owner: String,
    #[serde(default)]
    pub log_group: String,
    #[serde(default)]
    pub log_stream: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub subscription_filters: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_level: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub log_events: Vec<LogEvent>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct LogEvent {
    pub id: String,
    pub timestamp: i64,
    pub message: String,
    /// The message held invalid UTF-8, replaced by U+FFFD: its record is flagged `partial`.
    #[serde(skip)]
    pub lossy: bool,
}

impl<'de> Deserialize<'de> for LogEvent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(EventVisitor)
    }
}

struct EventVisitor;

impl<'de> serde::de::Visitor<'de> for EventVisitor {
    type Value = LogEvent;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a log event object")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<LogEvent, A::Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        enum Key {
            Id,
            EventId,
            Timestamp,
            Message,
            #[serde(other)]
            Other,
        }
        let mut event = LogEvent::default();
        let mut have_id = false;
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Id => {
                    event.id = map.next_value_seed(TextOrNumber)?;
                    have_id = true;
                }
                // `id` wins over `eventId` whatever their order.
                Key::EventId if !have_id => event.id = map.next_value_seed(TextOrNumber)?,
                Key::Timestamp => event.timestamp = map.next_value_seed(Millis)?,
                Key::Message => {
                    let Message(text, lossy) = map.next_value()?;
                    event.message = text;
                    event.lossy = lossy;
                }
                Key::EventId | Key::Other => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(event)
    }
}

/// A message string read as raw bytes, so that one invalid UTF-8 sequence costs one event its
/// exactness instead of failing the payload.
struct Message(String, bool);

impl<'de> Deserialize<'de> for Message {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Message;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a message string")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Message, E> {
                Ok(match std::str::from_utf8(v) {
                    Ok(s) => Message(s.to_string(), false),
                    Err(_) => Message(String::from_utf8_lossy(v).into_owned(), true),
                })
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Message, E> {
                Ok(Message(v.to_string(), false))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Message, E> {
                Ok(Message(v, false))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Message, E> {
                Ok(Message(String::new(), false))
            }
        }
        // serde_json hands a string's bytes, escapes resolved, without checking UTF-8.
        d.deserialize_bytes(V)
    }
}

/// Epoch milliseconds as a number or a numeric string (`"1619427317539"`); anything else is 0,
/// and the record takes its time from the line. Numbers are read as numbers (no text round trip):
/// every event of every payload comes through here.
struct Millis;

impl<'de> serde::de::DeserializeSeed<'de> for Millis {
    type Value = i64;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<i64, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = i64;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("epoch milliseconds")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<i64, E> {
                Ok(i64::try_from(v).unwrap_or(0))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<i64, E> {
                Ok(v)
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<i64, E> {
                Ok(float_millis(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<i64, E> {
                let t = v.trim();
                Ok(t.parse::<i64>()
                    .ok()
                    .or_else(|| t.parse::<f64>().ok().map(float_millis))
                    .unwrap_or(0))
            }
            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<i64, E> {
                Ok(0)
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<i64, E> {
                Ok(0)
            }
        }
        d.deserialize_any(V)
    }
}

fn float_millis(f: f64) -> i64 {
    if f.is_finite() && f.abs() < 9.0e18 {
        f as i64
    } else {
        0
    }
}

/// A string, or a number kept as its text.
struct TextOrNumber;

impl<'de> serde::de::DeserializeSeed<'de> for TextOrNumber {
    type Value = String;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        string_or_number(d)
    }
}

impl LogData {
    pub fn is_control(&self) -> bool {
        self.message_type == MessageType::Control
    }
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    struct V;
    impl serde::de::Visitor<'_> for V {
        type Value = String;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a string or a number")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_string<E: serde::de::Error>(self, v: String) -> Result<String, E> {
            Ok(v)
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<String, E> {
            // Very long numeric ids (56 digits) arrive as floats; keep their text form.
            Ok(format!("{v}"))
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<String, E> {
            Ok(String::new())
        }
        fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<String, E> {
            Ok(v.to_string())
        }
    }
    d.deserialize_any(V)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_fields() {
        let j = r#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s",
            "subscriptionFilters":null,"policyLevel":"ACCOUNT_LEVEL_POLICY","extra":{"x":1},
            "logEvents":[{"id":123,"timestamp":5,"message":"m"},{"id":"abc","timestamp":6,"message":"n"}]}"#;
        let d: LogData = serde_json::from_str(j).unwrap();
        assert_eq!(d.log_events[0].id, "123");
        assert_eq!(d.log_events[1].id, "abc");
        assert_eq!(d.policy_level.as_deref(), Some("ACCOUNT_LEVEL_POLICY"));
        assert!(d.subscription_filters.is_empty());
    }

    #[test]
    fn missing_optional_fields_default() {
        let d: LogData = serde_json::from_str(r#"{"logEvents":[{"message":"x"}]}"#).unwrap();
        assert_eq!(d.message_type, MessageType::Data);
        assert_eq!(d.log_events[0].timestamp, 0);
    }

    #[test]
    fn string_timestamps_and_event_ids() {
        // dynatrace-aws-log-forwarder's test records; Datadog's snapshot of `FilterLogEvents` output.
        let d: LogData = serde_json::from_str(
            r#"{"logEvents":[{"id":"","timestamp":"1619427317539","message":"CWL CONTROL MESSAGE"},
            {"ingestionTime":1607444452966,"timestamp":1607444432899,"message":"m","eventId":"11111111111111111111111111111111","logStreamName":"s"}]}"#,
        )
        .unwrap();
        assert_eq!(d.log_events[0].timestamp, 1_619_427_317_539);
        assert_eq!(d.log_events[1].id, "11111111111111111111111111111111");
        assert_eq!(d.log_events[1].timestamp, 1_607_444_432_899);
        let e: LogEvent =
            serde_json::from_str(r#"{"eventId":"b","id":"a","timestamp":"x"}"#).unwrap();
        assert_eq!((e.id.as_str(), e.timestamp), ("a", 0));
    }

    #[test]
    fn invalid_utf8_in_a_message_is_lossy_not_fatal() {
        let mut raw = br#"{"logEvents":[{"id":"1","timestamp":1,"message":"ok \u00e9"},{"id":"2","timestamp":2,"message":"bad X here"}]}"#.to_vec();
        let at = raw.iter().position(|b| *b == b'X').unwrap();
        raw[at] = 0xff;
        let d: LogData = serde_json::from_slice(&raw).unwrap();
        assert_eq!(d.log_events[0].message, "ok é");
        assert!(!d.log_events[0].lossy);
        assert_eq!(d.log_events[1].message, "bad \u{fffd} here");
        assert!(d.log_events[1].lossy);
    }

    #[test]
    fn control_message() {
        let d: LogData = serde_json::from_str(
            r#"{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1600110003794,"message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}"#,
        )
        .unwrap();
        assert!(d.is_control());
    }
}
