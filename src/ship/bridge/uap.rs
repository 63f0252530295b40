//! Cequence UAP Edge data format 1.0 (docs/architecture.md, "Collector formats").
//!
//! Hyphenated keys, `timestamp` as `"secs.millis"`, headers as `"name:base64(value)"` (one entry per
//! value), bodies as `{length, data(base64)}`, `status-code` as a string. Access logs carry no
//! bodies, so those records are marked `cq-discovery-only: true`; a truncated body is replaced by
//! `{"cq_body_truncated":"true"}` and marked `cq-body-truncated: true`.

use std::fmt;

use base64::display::Base64Display;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::ser::{SerializeSeq, Serializer};
use serde::Serialize;

use super::view::{BodyView, HeaderList, RecordView};
use crate::transaction::{BodyEncoding, Transaction};

/// `version` of every transaction we send.
pub const VERSION: &str = "1.0";
/// `txn-meta-data.source_info.type`.
pub const SOURCE_TYPE: &str = "aws-apigateway";
/// Body sent in place of one that was cut short.
pub const TRUNCATED_BODY: &str = r#"{"cq_body_truncated":"true"}"#;
/// API Gateway access logs do not record the address that terminated the connection.
const UNKNOWN_IP: &str = "0.0.0.0";

// The derived structs below borrow everything; the computed values (timestamp, URI, headers,
// bodies) are written by `Display` straight into the output, so encoding builds no strings.

#[derive(Serialize)]
struct Txn<'a> {
    #[serde(serialize_with = "as_text")]
    timestamp: Timestamp,
    version: &'static str,
    #[serde(rename = "transaction-id")]
    transaction_id: &'a str,
    request: Request<'a>,
    response: Response<'a>,
    #[serde(rename = "txn-meta-data")]
    meta: Meta<'a>,
}

#[derive(Serialize)]
struct Request<'a> {
    #[serde(rename = "http-scheme")]
    scheme: &'a str,
    #[serde(rename = "http-version", skip_serializing_if = "Option::is_none")]
    version: Option<&'a str>,
    #[serde(rename = "http-method")]
    method: &'a str,
    #[serde(rename = "uri-query-fragment", serialize_with = "as_text")]
    uri: Uri<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    host: Option<&'a str>,
    #[serde(rename = "client-ip", skip_serializing_if = "Option::is_none")]
    client_ip: Option<&'a str>,
    connection: Connection<'a>,
    headers: UapHeaders<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<UapBody<'a>>,
}

#[derive(Serialize)]
struct Connection<'a> {
    #[serde(rename = "connection-ip")]
    connection_ip: &'a str,
    #[serde(rename = "server-ip")]
    server_ip: &'a str,
}

#[derive(Serialize)]
struct Response<'a> {
    #[serde(rename = "status-code", serialize_with = "as_text")]
    status: u16,
    headers: UapHeaders<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<UapBody<'a>>,
}

#[derive(Serialize)]
struct Meta<'a> {
    source_info: SourceInfo<'a>,
}

#[derive(Serialize)]
struct SourceInfo<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    version: &'static str,
    #[serde(serialize_with = "as_text")]
    instance_id: InstanceId<'a>,
}

/// Serialize a value as the JSON string of its `Display`.
fn as_text<T: fmt::Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// `"secs.millis"`, e.g. `1686411388000` → `"1686411388.000"` (negative times stay well-formed).
struct Timestamp(i64);

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:03}",
            self.0.div_euclid(1000),
            self.0.rem_euclid(1000)
        )
    }
}

/// [`Timestamp`] as a string.
pub fn timestamp(time_ms: i64) -> String {
    Timestamp(time_ms).to_string()
}

/// The request target as the client sent it: path plus `?query` when there is one.
struct Uri<'a> {
    path: &'a str,
    query: Option<&'a str>,
}

impl fmt::Display for Uri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.path)?;
        match self.query {
            Some(q) if !q.is_empty() => write!(f, "?{q}"),
            _ => Ok(()),
        }
    }
}

/// `{api id}/{stage}`.
struct InstanceId<'a>(Option<&'a str>, Option<&'a str>);

impl fmt::Display for InstanceId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}",
            self.0.unwrap_or("unknown"),
            self.1.unwrap_or("unknown")
        )
    }
}

/// `name:base64(value)`.
struct HeaderEntry<'a>(&'a str, &'a str);

impl fmt::Display for HeaderEntry<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}",
            self.0,
            Base64Display::new(self.1.as_bytes(), &B64)
        )
    }
}

#[cfg(test)]
fn header_entry(name: &str, value: &str) -> String {
    HeaderEntry(name, value).to_string()
}

/// Every value of every header as one entry each, then the `cq-*` marks.
struct UapHeaders<'a> {
    list: &'a HeaderList<'a>,
    extra: &'a [(&'a str, &'a str)],
}

impl Serialize for UapHeaders<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let values = self.list.0.iter().map(|(_, v)| v.len()).sum::<usize>();
        let mut seq = s.serialize_seq(Some(values + self.extra.len()))?;
        for (name, values) in &self.list.0 {
            for value in values {
                seq.serialize_element(&Text(HeaderEntry(name, value)))?;
            }
        }
        for (name, value) in self.extra {
            seq.serialize_element(&Text(HeaderEntry(name, value)))?;
        }
        seq.end()
    }
}

/// A `Display` value as a JSON string.
struct Text<T>(T);

impl<T: fmt::Display> Serialize for Text<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Formatted whole into a reused buffer, then escaped in one pass: `collect_str` escapes
        // each piece the formatter hands over (a header entry comes in several), which cost the
        // UAP encoder about a tenth of its time.
        thread_local! {
            static SCRATCH: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
        }
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut text) => {
                use std::fmt::Write as _;
                text.clear();
                // Writing to a String fails only if a Display impl does, and ours do not.
                let _ = write!(text, "{}", self.0);
                s.serialize_str(&text)
            }
            Err(_) => s.collect_str(&self.0),
        })
    }
}

#[derive(Serialize)]
struct UapBody<'a> {
    length: usize,
    data: BodyData<'a>,
}

/// A body's `data`: base64 written from the text, or the record's own base64.
enum BodyData<'a> {
    Encode(&'a [u8]),
    AsIs(&'a str),
}

impl Serialize for BodyData<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            BodyData::Encode(raw) => s.collect_str(&Base64Display::new(raw, &B64)),
            BodyData::AsIs(text) => s.serialize_str(text),
        }
    }
}

fn body<'a>(body: &'a BodyView<'a>) -> UapBody<'a> {
    let encode = |raw: &'a [u8]| UapBody {
        length: raw.len(),
        data: BodyData::Encode(raw),
    };
    if body.truncated {
        return encode(TRUNCATED_BODY.as_bytes());
    }
    match body.encoding {
        BodyEncoding::Utf8 => encode(body.data.as_bytes()),
        // The decoded length is the body's; the base64 goes as it is.
        BodyEncoding::Base64 => match B64.decode(body.data.as_bytes()) {
            Ok(raw) => UapBody {
                length: raw.len(),
                data: BodyData::AsIs(&body.data),
            },
            // Not valid base64 after all: send the text itself, encoded, rather than garbage.
            Err(_) => encode(body.data.as_bytes()),
        },
    }
}

fn truncated(b: &Option<BodyView>) -> bool {
    b.as_ref().is_some_and(|b| b.truncated)
}

/// One transaction as a UAP JSON object (no trailing newline).
pub fn encode(txn: &Transaction) -> Vec<u8> {
    let mut out = Vec::new();
    encode_view(&RecordView::of(txn), &mut out);
    out
}

/// One record as a UAP JSON object appended to `out` (no trailing newline).
pub fn encode_view(txn: &RecordView<'_>, out: &mut Vec<u8>) {
    let req = &txn.request;
    let resp = &txn.response;
    let mut marks = [("", ""); 2];
    let mut n = 0;
    for (on, mark) in [
        (txn.flags.discovery_only, "cq-discovery-only"),
        (truncated(&req.body), "cq-body-truncated"),
    ] {
        if on {
            marks[n] = (mark, "true");
            n += 1;
        }
    }
    let req_extra = &marks[..n];
    let resp_extra: &[(&str, &str)] = if truncated(&resp.body) {
        &[("cq-body-truncated", "true")]
    } else {
        &[]
    };
    let client_ip = req.client_ip.as_deref();
    let value = Txn {
        timestamp: Timestamp(txn.time_ms),
        version: VERSION,
        transaction_id: &txn.id,
        request: Request {
            scheme: req.scheme.as_deref().unwrap_or("https"),
            version: req
                .protocol
                .as_deref()
                .map(|p| p.strip_prefix("HTTP/").unwrap_or(p)),
            // Required by the format; a line without a method is flagged `partial` upstream.
            method: req.method.as_deref().unwrap_or("UNKNOWN"),
            uri: Uri {
                path: req.path.as_deref().unwrap_or("/"),
                query: req.query.as_deref(),
            },
            host: req.host.as_deref().or(txn.api.domain.as_deref()),
            client_ip,
            connection: Connection {
                connection_ip: client_ip.unwrap_or(UNKNOWN_IP),
                server_ip: UNKNOWN_IP,
            },
            headers: UapHeaders {
                list: &req.headers,
                extra: req_extra,
            },
            body: req.body.as_ref().map(body),
        },
        response: Response {
            status: resp.status.unwrap_or(0),
            headers: UapHeaders {
                list: &resp.headers,
                extra: resp_extra,
            },
            body: resp.body.as_ref().map(body),
        },
        meta: Meta {
            source_info: SourceInfo {
                kind: SOURCE_TYPE,
                version: env!("CARGO_PKG_VERSION"),
                instance_id: InstanceId(txn.api.id.as_deref(), txn.api.stage.as_deref()),
            },
        },
    };
    crate::json::append(out, &value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_is_secs_dot_millis() {
        assert_eq!(timestamp(1_686_411_388_007), "1686411388.007");
        assert_eq!(timestamp(0), "0.000");
        assert_eq!(timestamp(-1), "-1.999");
    }

    #[test]
    fn header_value_is_base64() {
        assert_eq!(
            header_entry("user-agent", "curl/8.4.0"),
            "user-agent:Y3VybC84LjQuMA=="
        );
    }
}
