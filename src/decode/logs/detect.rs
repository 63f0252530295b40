//! Detecting the payload's form and peeling it down to LogData.

use std::borrow::Cow;

use serde::Deserialize;

use super::gunzip::{gunzip_capped_into, is_gzip};
use super::{LogData, LogEvent, MessageType, PayloadError};

/// Nesting guard: base64 → gzip → JSON is depth 2; anything deeper is not a payload.
const MAX_DEPTH: u8 = 4;

/// Decode any supported payload form into the LogData messages it holds, in order.
/// `limit` caps the decompressed bytes of the whole input (every gzip member of every event of a
/// file together), and [`MAX_EVENTS_PER_PAYLOAD`] its log events, so one input costs bounded
/// memory however it is built.
pub fn decode_payload(input: &[u8], limit: usize) -> Result<Vec<LogData>, PayloadError> {
    let mut out = Vec::new();
    let mut budget = Budget {
        limit,
        bytes_left: limit,
        events: 0,
    };
    decode_into(input, &mut budget, 0, &mut out)?;
    Ok(out)
}

/// What the rest of one input may still decompress to.
struct Budget {
    limit: usize,
    bytes_left: usize,
    /// Log events read so far.
    events: usize,
}

impl Budget {
    /// `data` decompressed into `plain`.
    fn gunzip(&mut self, data: &[u8], plain: &mut Vec<u8>) -> Result<(), PayloadError> {
        gunzip_capped_into(data, self.bytes_left, plain).map_err(|e| match e {
            // Name the whole cap, not what was left of it.
            PayloadError::TooLarge { .. } => PayloadError::TooLarge { limit: self.limit },
            other => other,
        })?;
        self.bytes_left -= plain.len();
        Ok(())
    }
}

/// Log events the LogData of one input may hold together. Real subscription deliveries hold at
/// most a few thousand; past this the records would not fit the memory a decode is given.
pub const MAX_EVENTS_PER_PAYLOAD: usize = 50_000;

fn add_logdata(
    budget: &mut Budget,
    out: &mut Vec<LogData>,
    data: LogData,
) -> Result<(), PayloadError> {
    budget.events += data.log_events.len();
    if budget.events > MAX_EVENTS_PER_PAYLOAD {
        return Err(PayloadError::TooManyEvents {
            limit: MAX_EVENTS_PER_PAYLOAD,
        });
    }
    out.push(data);
    Ok(())
}

fn decode_into(
    input: &[u8],
    limit: &mut Budget,
    depth: u8,
    out: &mut Vec<LogData>,
) -> Result<(), PayloadError> {
    if depth > MAX_DEPTH {
        return Err(PayloadError::NotAPayload(
            "too many nested encodings".into(),
        ));
    }
    let data = trim(input);
    if data.is_empty() {
        return Err(PayloadError::Empty);
    }
    if is_gzip(data) {
        // LogData is read into owned events, so the text's buffer serves the next payload.
        let mut plain = crate::scratch::take();
        let decoded = limit
            .gunzip(data, &mut plain)
            .and_then(|()| decode_into(&plain, limit, depth + 1, out));
        crate::scratch::give(plain);
        return decoded;
    }
    match data[0] {
        b'{' | b'[' => decode_json(data, limit, depth, out),
        b'"' => {
            let s: Cow<str> =
                serde_json::from_slice(data).map_err(|e| PayloadError::Json(e.to_string()))?;
            decode_base64_text(s.as_bytes(), limit, depth, out)
        }
        _ => decode_base64_text(data, limit, depth, out),
    }
}

fn trim(data: &[u8]) -> &[u8] {
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    let start = data
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(data.len());
    let end = data
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |p| p + 1);
    &data[start..end]
}

/// One or more base64 strings (one per line when several).
fn decode_base64_text(
    text: &[u8],
    limit: &mut Budget,
    depth: u8,
    out: &mut Vec<LogData>,
) -> Result<(), PayloadError> {
    let mut lines = 0usize;
    for line in crate::json::lines(text).map(trim) {
        if line.is_empty() {
            continue;
        }
        lines += 1;
        // The alphabet is checked only when decoding fails: scanning it first cost more than the
        // decode itself.
        let bytes = crate::b64::decode(line).map_err(|e| match e {
            crate::b64::Error::Character { byte, .. } if byte != b'=' => PayloadError::NotAPayload(
                "expected a Lambda event (JSON), LogData JSON, gzip or base64".into(),
            ),
            e => PayloadError::Base64(e.to_string()),
        })?;
        let bytes = trim(&bytes);
        if !(is_gzip(bytes) || bytes.first().is_some_and(|b| *b == b'{' || *b == b'[')) {
            return Err(PayloadError::NotAPayload(
                "base64 content is neither gzip nor JSON".into(),
            ));
        }
        decode_into(bytes, limit, depth + 1, out)?;
    }
    if lines == 0 {
        return Err(PayloadError::Empty);
    }
    Ok(())
}

/// One JSON item: a Lambda event (`awslogs`), a Kinesis Data Streams event (`Records`), a
/// Firehose transformation event (`records`) or LogData, read in a single pass.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Item<'a> {
    #[serde(borrow, default)]
    awslogs: Option<AwsLogs<'a>>,
    #[serde(borrow, default, rename = "Records")]
    kinesis_records: Option<Vec<KinesisRecord<'a>>>,
    #[serde(borrow, default)]
    records: Option<Vec<Data<'a>>>,
    #[serde(default)]
    message_type: Option<MessageType>,
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    log_group: Option<String>,
    #[serde(default)]
    log_stream: Option<String>,
    #[serde(default)]
    subscription_filters: Option<Vec<String>>,
    #[serde(default)]
    policy_level: Option<String>,
    #[serde(default, deserialize_with = "capped_events")]
    log_events: Option<Vec<LogEvent>>,
}

/// `logEvents`, refused as soon as it holds more than [`MAX_EVENTS_PER_PAYLOAD`] (before the rest
/// of a huge array is read into memory).
fn capped_events<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<LogEvent>>, D::Error> {
    struct Events;
    impl<'de> serde::de::Visitor<'de> for Events {
        type Value = Option<Vec<LogEvent>>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an array of log events")
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: serde::Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(self)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut events = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
            while let Some(e) = seq.next_element::<LogEvent>()? {
                if events.len() == MAX_EVENTS_PER_PAYLOAD {
                    return Err(serde::de::Error::custom(format!(
                        "more than {MAX_EVENTS_PER_PAYLOAD} log events in one payload"
                    )));
                }
                events.push(e);
            }
            Ok(Some(events))
        }
    }
    d.deserialize_option(Events)
}

#[derive(Deserialize)]
struct AwsLogs<'a> {
    #[serde(borrow)]
    data: Cow<'a, str>,
}

/// `{"kinesis": {"data": "<base64 gzip LogData>"}, "eventID": …}`
#[derive(Deserialize)]
struct KinesisRecord<'a> {
    #[serde(borrow, default)]
    kinesis: Option<Data<'a>>,
}

/// A record's base64 `data` (Kinesis `kinesis`, Firehose `records[]`, which also has `recordId`).
#[derive(Deserialize)]
struct Data<'a> {
    #[serde(borrow)]
    data: Cow<'a, str>,
}

/// A JSON stream: one object, several (one per line or back to back), or an array of them.
fn decode_json(
    data: &[u8],
    limit: &mut Budget,
    depth: u8,
    out: &mut Vec<LogData>,
) -> Result<(), PayloadError> {
    let json_err = |e: serde_json::Error| PayloadError::Json(e.to_string());
    if data[0] == b'[' {
        let items: Vec<Item> = crate::json::from_slice(data).map_err(json_err)?;
        for item in items {
            decode_item(item, limit, depth, out)?;
        }
        return Ok(());
    }
    // As `json::from_slice`: one UTF-8 check of the whole text spares one per string; invalid
    // text (a message with a bad byte, decoded lossily) takes the byte path.
    match std::str::from_utf8(data) {
        Ok(text) => match super::envelope::read(text) {
            Some(logdata) => add_logdata(limit, out, logdata),
            None => decode_stream(serde_json::Deserializer::from_str(text), limit, depth, out),
        },
        Err(_) => decode_stream(
            serde_json::Deserializer::from_slice(data),
            limit,
            depth,
            out,
        ),
    }
}

fn decode_stream<'a, R: serde_json::de::Read<'a>>(
    de: serde_json::Deserializer<R>,
    limit: &mut Budget,
    depth: u8,
    out: &mut Vec<LogData>,
) -> Result<(), PayloadError> {
    for item in de.into_iter::<Item>() {
        let item = item.map_err(|e| PayloadError::Json(e.to_string()))?;
        decode_item(item, limit, depth, out)?;
    }
    Ok(())
}

fn decode_item(
    item: Item,
    limit: &mut Budget,
    depth: u8,
    out: &mut Vec<LogData>,
) -> Result<(), PayloadError> {
    if let Some(awslogs) = item.awslogs {
        if awslogs.data.trim().is_empty() {
            // Nothing was sent, so nothing can be lost; say so rather than fail the invocation.
            tracing::warn!("Lambda event with an empty awslogs.data: no log events in it");
            return Ok(());
        }
        return decode_base64_text(awslogs.data.as_bytes(), limit, depth, out);
    }
    if let Some(records) = item.kinesis_records {
        for (i, record) in records.iter().enumerate() {
            let data = record.kinesis.as_ref().ok_or_else(|| {
                PayloadError::NotAPayload(format!(
                    "Records[{i}] has no `kinesis.data` (only Kinesis Data Streams events are read)"
                ))
            })?;
            decode_base64_text(data.data.as_bytes(), limit, depth, out)?;
        }
        return Ok(());
    }
    if let Some(records) = item.records {
        for record in &records {
            decode_base64_text(record.data.as_bytes(), limit, depth, out)?;
        }
        return Ok(());
    }
    if item.message_type.is_none() && item.log_events.is_none() {
        return Err(PayloadError::NotAPayload(
            "JSON object has none of `awslogs`, `Records` (Kinesis), `records` (Firehose), `messageType`/`logEvents`".into(),
        ));
    }
    add_logdata(
        limit,
        out,
        LogData {
            message_type: item.message_type.unwrap_or_default(),
            owner: item.owner.unwrap_or_default(),
            log_group: item.log_group.unwrap_or_default(),
            log_stream: item.log_stream.unwrap_or_default(),
            subscription_filters: item.subscription_filters.unwrap_or_default(),
            policy_level: item.policy_level,
            log_events: item.log_events.unwrap_or_default(),
        },
    )
}

/// What serde_json alone makes of a LogData text (the path [`super::envelope`] stands in for).
#[cfg(test)]
pub(super) fn serde_reading(text: &str) -> Result<Vec<LogData>, String> {
    stream_reading(serde_json::Deserializer::from_str(text))
}

/// The LogData items of a JSON stream, as `decode_json` reads them, under a 1 MiB budget.
#[cfg(test)]
fn stream_reading<'a, R: serde_json::de::Read<'a>>(
    de: serde_json::Deserializer<R>,
) -> Result<Vec<LogData>, String> {
    let mut out = Vec::new();
    let mut budget = Budget {
        limit: 1 << 20,
        bytes_left: 1 << 20,
        events: 0,
    };
    decode_stream(de, &mut budget, 0, &mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the byte path alone (`serde_json::from_slice`) makes of `text`.
    fn bytes_path(text: &[u8]) -> Result<Vec<LogData>, String> {
        stream_reading(serde_json::Deserializer::from_slice(text))
    }

    /// The str path (taken for valid UTF-8) reads a text as the byte path does.
    fn both(text: &[u8]) -> Result<Vec<LogData>, String> {
        let ours = decode_payload(text, 1 << 20).map_err(|e| e.to_string());
        assert_eq!(ours, bytes_path(text), "{}", String::from_utf8_lossy(text));
        ours
    }

    #[test]
    fn the_str_path_reads_logdata_as_the_byte_path_does() {
        let lenient: &[u8] = br#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s",
            "subscriptionFilters":null,"policyLevel":"ACCOUNT_LEVEL_POLICY","extra":{"x":[1,{"y":null}]},
            "logEvents":[{"id":123,"timestamp":"5","message":"{\"a\":\"b\\u00e9\"}"},
            {"eventId":"e","timestamp":6.0,"message":"m"},{"id":"abc","timestamp":-7,"message":"n"}]}"#;
        let d = both(lenient).unwrap();
        assert_eq!(d[0].log_events.len(), 3);
        assert_eq!(d[0].log_events[0].message, "{\"a\":\"b\\u00e9\"}");
        // Back to back, one per line, and nothing but whitespace after.
        let two = [lenient, b"\n", lenient, b"  \n"].concat();
        assert_eq!(both(&two).unwrap().len(), 2);
        assert_eq!(both(&[lenient, lenient].concat()).unwrap().len(), 2);
        // Malformed text is an error, in skipped fields too (a bad escape, a bare `\u`).
        assert!(both(&[lenient, b"{"].concat()).is_err());
        assert!(both(br#"{"logEvents":[{"message":"x"}],}"#).is_err());
        assert!(both(br#"{"logEvents":[{"message":"x"}]} x"#).is_err());
        assert!(both(br#"{"logEvents":[{"id":"1","message":"m","x":"\uZZZZ"}]}"#).is_err());
        assert!(
            both(br#"{"logEvents":[{"id":"1","message":"m","x":"\u"}],"logGroup":"g"}"#).is_err()
        );
    }

    #[test]
    fn invalid_utf8_and_lone_surrogates_are_read_lossily() {
        let surrogate = br#"{"logGroup":"g","logEvents":[{"id":"1","message":"ok"},{"id":"2","message":"a\ud800b"}]}"#;
        let d = both(surrogate).unwrap();
        assert!(!d[0].log_events[0].lossy);
        assert!(d[0].log_events[1].lossy, "{:?}", d[0].log_events[1]);
        let mut bad = br#"{"logGroup":"g","logEvents":[{"id":"1","message":"bad X"}]}"#.to_vec();
        let at = bad.iter().position(|b| *b == b'X').unwrap();
        bad[at] = 0xff;
        let d = both(&bad).unwrap();
        assert_eq!(d[0].log_events[0].message, "bad \u{fffd}");
        assert!(d[0].log_events[0].lossy);
    }
}
