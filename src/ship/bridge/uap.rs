//! Cequence UAP Edge data format 1.0 (docs/architecture.md, "Collector formats").
//!
//! Hyphenated keys, `timestamp` as `"secs.millis"`, headers as `"name:base64(value)"` (one entry per
//! value), bodies as `{length, data(base64)}`, `status-code` as a string. Access logs carry no
//! bodies, so those records are marked `cq-discovery-only: true`; a truncated body is replaced by
//! `{"cq_body_truncated":"true"}` and marked `cq-body-truncated: true`.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::Serialize;

use crate::transaction::{Body, BodyEncoding, Headers, Transaction};

/// `version` of every transaction we send.
pub const VERSION: &str = "1.0";
/// `txn-meta-data.source_info.type`.
pub const SOURCE_TYPE: &str = "aws-apigateway";
/// Body sent in place of one that was cut short.
pub const TRUNCATED_BODY: &str = r#"{"cq_body_truncated":"true"}"#;
/// API Gateway access logs do not record the address that terminated the connection.
const UNKNOWN_IP: &str = "0.0.0.0";

#[derive(Serialize)]
struct Txn<'a> {
    timestamp: String,
    version: &'static str,
    #[serde(rename = "transaction-id")]
    transaction_id: &'a str,
    request: Request<'a>,
    response: Response,
    #[serde(rename = "txn-meta-data")]
    meta: Meta,
}

#[derive(Serialize)]
struct Request<'a> {
    #[serde(rename = "http-scheme")]
    scheme: &'a str,
    #[serde(rename = "http-version", skip_serializing_if = "Option::is_none")]
    version: Option<&'a str>,
    #[serde(rename = "http-method")]
    method: &'a str,
    #[serde(rename = "uri-query-fragment")]
    uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    host: Option<&'a str>,
    #[serde(rename = "client-ip", skip_serializing_if = "Option::is_none")]
    client_ip: Option<&'a str>,
    connection: Connection<'a>,
    headers: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<UapBody>,
}

#[derive(Serialize)]
struct Connection<'a> {
    #[serde(rename = "connection-ip")]
    connection_ip: &'a str,
    #[serde(rename = "server-ip")]
    server_ip: &'a str,
}

#[derive(Serialize)]
struct Response {
    #[serde(rename = "status-code")]
    status: String,
    headers: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<UapBody>,
}

#[derive(Serialize)]
struct UapBody {
    length: usize,
    data: String,
}

#[derive(Serialize)]
struct Meta {
    source_info: SourceInfo,
}

#[derive(Serialize)]
struct SourceInfo {
    #[serde(rename = "type")]
    kind: &'static str,
    version: &'static str,
    instance_id: String,
}

/// `"secs.millis"`, e.g. `1686411388000` → `"1686411388.000"` (negative times stay well-formed).
pub fn timestamp(time_ms: i64) -> String {
    format!(
        "{}.{:03}",
        time_ms.div_euclid(1000),
        time_ms.rem_euclid(1000)
    )
}

fn header_entry(name: &str, value: &str) -> String {
    let mut s = String::with_capacity(name.len() + 1 + value.len().div_ceil(3) * 4);
    s.push_str(name);
    s.push(':');
    B64.encode_string(value.as_bytes(), &mut s);
    s
}

fn headers(map: &Headers, extra: &[(&str, &str)]) -> Vec<String> {
    let mut out = Vec::with_capacity(map.values().map(Vec::len).sum::<usize>() + extra.len());
    for (name, values) in map {
        for value in values {
            out.push(header_entry(name, value));
        }
    }
    for (name, value) in extra {
        out.push(header_entry(name, value));
    }
    out
}

fn body(body: &Body) -> UapBody {
    if body.truncated {
        return UapBody {
            length: TRUNCATED_BODY.len(),
            data: B64.encode(TRUNCATED_BODY),
        };
    }
    match body.encoding {
        BodyEncoding::Utf8 => UapBody {
            length: body.data.len(),
            data: B64.encode(body.data.as_bytes()),
        },
        BodyEncoding::Base64 => match B64.decode(body.data.as_bytes()) {
            Ok(raw) => UapBody {
                length: raw.len(),
                data: body.data.clone(),
            },
            // Not valid base64 after all: send the text itself, encoded, rather than garbage.
            Err(_) => UapBody {
                length: body.data.len(),
                data: B64.encode(body.data.as_bytes()),
            },
        },
    }
}

fn truncated(b: &Option<Body>) -> bool {
    b.as_ref().is_some_and(|b| b.truncated)
}

/// One transaction as a UAP JSON object (no trailing newline).
pub fn encode(txn: &Transaction) -> Vec<u8> {
    let req = &txn.request;
    let resp = &txn.response;

    let mut req_extra: Vec<(&str, &str)> = Vec::new();
    if txn.flags.discovery_only {
        req_extra.push(("cq-discovery-only", "true"));
    }
    if truncated(&req.body) {
        req_extra.push(("cq-body-truncated", "true"));
    }
    let resp_extra: &[(&str, &str)] = if truncated(&resp.body) {
        &[("cq-body-truncated", "true")]
    } else {
        &[]
    };

    let instance_id = format!(
        "{}/{}",
        txn.api.id.as_deref().unwrap_or("unknown"),
        txn.api.stage.as_deref().unwrap_or("unknown")
    );
    let out = Txn {
        timestamp: timestamp(txn.time_ms),
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
            uri: txn.path_and_query(),
            host: req.host.as_deref().or(txn.api.domain.as_deref()),
            client_ip: req.client_ip.as_deref(),
            connection: Connection {
                connection_ip: req.client_ip.as_deref().unwrap_or(UNKNOWN_IP),
                server_ip: UNKNOWN_IP,
            },
            headers: headers(&req.headers, &req_extra),
            body: req.body.as_ref().map(body),
        },
        response: Response {
            status: resp
                .status
                .map(|s| s.to_string())
                .unwrap_or_else(|| "0".into()),
            headers: headers(&resp.headers, resp_extra),
            body: resp.body.as_ref().map(body),
        },
        meta: Meta {
            source_info: SourceInfo {
                kind: SOURCE_TYPE,
                version: env!("CARGO_PKG_VERSION"),
                instance_id,
            },
        },
    };
    // Plain structs of strings and numbers: serialization cannot fail.
    serde_json::to_vec(&out).unwrap_or_default()
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
