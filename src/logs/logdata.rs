//! The decoded subscription message. Parsed leniently: unknown fields are ignored (account-level
//! policies add `policyLevel`), `id` may be a string or a number (moto sends numbers), and missing
//! optional fields default.

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

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LogEvent {
    #[serde(default, deserialize_with = "string_or_number")]
    pub id: String,
    #[serde(default)]
    pub timestamp: i64,
    #[serde(default)]
    pub message: String,
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
    fn control_message() {
        let d: LogData = serde_json::from_str(
            r#"{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1600110003794,"message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}"#,
        )
        .unwrap();
        assert!(d.is_control());
    }
}
