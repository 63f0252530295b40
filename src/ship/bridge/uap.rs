//! Cequence UAP Edge data format 1.0 (docs/architecture.md, "Collector formats").
//!
//! Hyphenated keys, `timestamp` as `"secs.millis"`, headers as `"name:base64(value)"` (one entry per
//! value), bodies as `{length, data(base64)}`, `status-code` as a string. Access logs carry no
//! bodies, so those records are marked `cq-discovery-only: true`; a truncated body is replaced by
//! `{"cq_body_truncated":"true"}` and marked `cq-body-truncated: true`.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use super::view::{BodyView, HeaderList, RecordView};
use crate::json::escape::{content, string};
use crate::transaction::{BodyEncoding, Transaction};

/// `version` of every transaction we send.
pub const VERSION: &str = "1.0";
/// `txn-meta-data.source_info.type`.
pub const SOURCE_TYPE: &str = "aws-apigateway";
/// Body sent in place of one that was cut short.
pub const TRUNCATED_BODY: &str = r#"{"cq_body_truncated":"true"}"#;
/// API Gateway access logs do not record the address that terminated the connection.
const UNKNOWN_IP: &str = "0.0.0.0";

// The object is written by hand, keys as constant text, in the order the format's documentation
// lists them (the golden file `tests/golden/bridge/uap.ndjson` holds the bytes). Through serde's
// per-field calls, formatting each computed value into a scratch string first, this encoding was
// about a third of the shipper's time.

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
    out.extend_from_slice(b"{\"timestamp\":\"");
    timestamp_to(out, txn.time_ms);
    out.extend_from_slice(b"\",\"version\":\"");
    out.extend_from_slice(VERSION.as_bytes());
    out.extend_from_slice(b"\",\"transaction-id\":");
    string(out, &txn.id);

    out.extend_from_slice(b",\"request\":{\"http-scheme\":");
    string(out, req.scheme.as_deref().unwrap_or("https"));
    if let Some(p) = req.protocol.as_deref() {
        out.extend_from_slice(b",\"http-version\":");
        string(out, p.strip_prefix("HTTP/").unwrap_or(p));
    }
    // Required by the format; a line without a method is flagged `partial` upstream.
    out.extend_from_slice(b",\"http-method\":");
    string(out, req.method.as_deref().unwrap_or("UNKNOWN"));
    // The request target as the client sent it: path plus `?query` when there is one.
    out.extend_from_slice(b",\"uri-query-fragment\":\"");
    content(out, req.path.as_deref().unwrap_or("/"));
    if let Some(q) = req.query.as_deref().filter(|q| !q.is_empty()) {
        out.push(b'?');
        content(out, q);
    }
    out.push(b'"');
    if let Some(host) = req.host.as_deref().or(txn.api.domain.as_deref()) {
        out.extend_from_slice(b",\"host\":");
        string(out, host);
    }
    let client_ip = req.client_ip.as_deref();
    if let Some(ip) = client_ip {
        out.extend_from_slice(b",\"client-ip\":");
        string(out, ip);
    }
    out.extend_from_slice(b",\"connection\":{\"connection-ip\":");
    string(out, client_ip.unwrap_or(UNKNOWN_IP));
    out.extend_from_slice(b",\"server-ip\":\"");
    out.extend_from_slice(UNKNOWN_IP.as_bytes());
    out.extend_from_slice(b"\"},\"headers\":");
    let marks = [
        (txn.flags.discovery_only, "cq-discovery-only"),
        (truncated(&req.body), "cq-body-truncated"),
    ];
    headers(out, &req.headers, &marks);
    if let Some(b) = &req.body {
        out.extend_from_slice(b",\"body\":");
        body(out, b);
    }

    out.extend_from_slice(b"},\"response\":{\"status-code\":\"");
    out.extend_from_slice(
        itoa::Buffer::new()
            .format(resp.status.unwrap_or(0))
            .as_bytes(),
    );
    out.extend_from_slice(b"\",\"headers\":");
    headers(
        out,
        &resp.headers,
        &[(truncated(&resp.body), "cq-body-truncated")],
    );
    if let Some(b) = &resp.body {
        out.extend_from_slice(b",\"body\":");
        body(out, b);
    }

    out.extend_from_slice(b"},\"txn-meta-data\":{\"source_info\":{\"type\":\"");
    out.extend_from_slice(SOURCE_TYPE.as_bytes());
    out.extend_from_slice(b"\",\"version\":\"");
    out.extend_from_slice(env!("CARGO_PKG_VERSION").as_bytes());
    // `{api id}/{stage}`.
    out.extend_from_slice(b"\",\"instance_id\":\"");
    content(out, txn.api.id.as_deref().unwrap_or("unknown"));
    out.push(b'/');
    content(out, txn.api.stage.as_deref().unwrap_or("unknown"));
    out.extend_from_slice(b"\"}}}");
}

/// `"secs.millis"`, e.g. `1686411388000` → `"1686411388.000"` (negative times stay well-formed).
fn timestamp_to(out: &mut Vec<u8>, time_ms: i64) {
    out.extend_from_slice(
        itoa::Buffer::new()
            .format(time_ms.div_euclid(1000))
            .as_bytes(),
    );
    // 0..=999 always, so three digits.
    let ms = time_ms.rem_euclid(1000) as u32;
    out.extend_from_slice(&[
        b'.',
        b'0' + (ms / 100) as u8,
        b'0' + (ms / 10 % 10) as u8,
        b'0' + (ms % 10) as u8,
    ]);
}

/// Every value of every header as one entry `"name:base64(value)"`, then the `cq-*` marks that
/// are on, with the value `true`.
fn headers(out: &mut Vec<u8>, list: &HeaderList<'_>, marks: &[(bool, &str)]) {
    out.push(b'[');
    let mut first = true;
    let mut entry = |out: &mut Vec<u8>, name: &str, value: &[u8]| {
        if !std::mem::take(&mut first) {
            out.push(b',');
        }
        out.push(b'"');
        content(out, name);
        out.push(b':');
        crate::b64::append(out, value);
        out.push(b'"');
    };
    for (name, values) in &list.0 {
        for value in values {
            entry(out, name, value.as_bytes());
        }
    }
    for (on, mark) in marks {
        if *on {
            entry(out, mark, b"true");
        }
    }
    out.push(b']');
}

/// A body as `{"length":n,"data":"base64"}`: a cut body is replaced by [`TRUNCATED_BODY`]; a
/// base64 body goes as it is, with its decoded length.
fn body(out: &mut Vec<u8>, b: &BodyView<'_>) {
    let raw: &[u8] = if b.truncated {
        TRUNCATED_BODY.as_bytes()
    } else {
        match b.encoding {
            BodyEncoding::Utf8 => b.data.as_bytes(),
            BodyEncoding::Base64 => match B64.decode(b.data.as_bytes()) {
                Ok(decoded) => {
                    out.extend_from_slice(b"{\"length\":");
                    out.extend_from_slice(itoa::Buffer::new().format(decoded.len()).as_bytes());
                    out.extend_from_slice(b",\"data\":");
                    string(out, &b.data);
                    out.push(b'}');
                    return;
                }
                // Not valid base64 after all: send the text itself, encoded, rather than garbage.
                Err(_) => b.data.as_bytes(),
            },
        }
    };
    out.extend_from_slice(b"{\"length\":");
    out.extend_from_slice(itoa::Buffer::new().format(raw.len()).as_bytes());
    out.extend_from_slice(b",\"data\":\"");
    crate::b64::append(out, raw);
    out.extend_from_slice(b"\"}");
}

fn truncated(b: &Option<BodyView>) -> bool {
    b.as_ref().is_some_and(|b| b.truncated)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::{Body, Headers};
    use proptest::prelude::*;
    use serde_json::{json, Value};

    /// The format written a second way, as a tree (key order is the golden file's business).
    fn oracle(t: &Transaction) -> Value {
        let entries = |h: &Headers, marks: &[(bool, &str)]| -> Vec<Value> {
            let mut v: Vec<Value> = h
                .iter()
                .flat_map(|(k, vs)| {
                    vs.iter()
                        .map(move |x| json!(format!("{k}:{}", B64.encode(x))))
                })
                .collect();
            v.extend(
                marks
                    .iter()
                    .filter(|m| m.0)
                    .map(|m| json!(format!("{}:{}", m.1, B64.encode("true")))),
            );
            v
        };
        let body = |b: &Body| -> Value {
            if b.truncated {
                return json!({"length": TRUNCATED_BODY.len(), "data": B64.encode(TRUNCATED_BODY)});
            }
            match (b.encoding, B64.decode(&b.data)) {
                (BodyEncoding::Base64, Ok(raw)) => json!({"length": raw.len(), "data": b.data}),
                _ => json!({"length": b.data.len(), "data": B64.encode(&b.data)}),
            }
        };
        let r = &t.request;
        let cut = |b: &Option<Body>| b.as_ref().is_some_and(|b| b.truncated);
        let query = r.query.as_deref().filter(|q| !q.is_empty());
        let mut req = json!({
            "http-scheme": r.scheme.as_deref().unwrap_or("https"),
            "http-method": r.method.as_deref().unwrap_or("UNKNOWN"),
            "uri-query-fragment": format!(
                "{}{}{}",
                r.path.as_deref().unwrap_or("/"),
                if query.is_some() { "?" } else { "" },
                query.unwrap_or("")
            ),
            "connection": {
                "connection-ip": r.client_ip.as_deref().unwrap_or("0.0.0.0"),
                "server-ip": "0.0.0.0",
            },
            "headers": entries(
                &r.headers,
                &[(t.flags.discovery_only, "cq-discovery-only"), (cut(&r.body), "cq-body-truncated")],
            ),
        });
        if let Some(p) = &r.protocol {
            req["http-version"] = json!(p.strip_prefix("HTTP/").unwrap_or(p));
        }
        if let Some(h) = r.host.as_ref().or(t.api.domain.as_ref()) {
            req["host"] = json!(h);
        }
        if let Some(ip) = &r.client_ip {
            req["client-ip"] = json!(ip);
        }
        if let Some(b) = &r.body {
            req["body"] = body(b);
        }
        let s = &t.response;
        let mut resp = json!({
            "status-code": s.status.unwrap_or(0).to_string(),
            "headers": entries(&s.headers, &[(cut(&s.body), "cq-body-truncated")]),
        });
        if let Some(b) = &s.body {
            resp["body"] = body(b);
        }
        json!({
            "timestamp": format!("{}.{:03}", t.time_ms.div_euclid(1000), t.time_ms.rem_euclid(1000)),
            "version": "1.0",
            "transaction-id": t.id,
            "request": req,
            "response": resp,
            "txn-meta-data": {"source_info": {
                "type": "aws-apigateway",
                "version": env!("CARGO_PKG_VERSION"),
                "instance_id": format!(
                    "{}/{}",
                    t.api.id.as_deref().unwrap_or("unknown"),
                    t.api.stage.as_deref().unwrap_or("unknown")
                ),
            }},
        })
    }

    proptest! {
        /// Any record, from the owned record and from a view of its NDJSON line, is the same
        /// object as the oracle builds, in the same bytes both ways.
        #[test]
        fn writes_the_format(
            mut t in crate::transaction::write::tests::record(),
            valid_base64 in any::<bool>(),
        ) {
            if valid_base64 {
                for b in [&mut t.request.body, &mut t.response.body].into_iter().flatten() {
                    b.data = B64.encode(&b.data);
                }
            }
            let owned = encode(&t);
            let parsed: Value = serde_json::from_slice(&owned).expect("valid JSON");
            prop_assert_eq!(&parsed, &oracle(&t));
            let line = t.json_line();
            let view = RecordView::parse(&line[..line.len() - 1]).expect("a record line");
            let mut borrowed = Vec::new();
            encode_view(&view, &mut borrowed);
            prop_assert_eq!(owned, borrowed);
        }
    }

    #[test]
    fn timestamp_is_secs_dot_millis() {
        let timestamp = |ms| {
            let mut out = Vec::new();
            timestamp_to(&mut out, ms);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(timestamp(1_686_411_388_007), "1686411388.007");
        assert_eq!(timestamp(0), "0.000");
        assert_eq!(timestamp(-1), "-1.999");
    }

    #[test]
    fn header_value_is_base64() {
        let list = HeaderList(vec![("user-agent".into(), vec!["curl/8.4.0".into()])]);
        let mut out = Vec::new();
        headers(
            &mut out,
            &list,
            &[(false, "cq-discovery-only"), (true, "cq-x")],
        );
        assert_eq!(out, br#"["user-agent:Y3VybC84LjQuMA==","cq-x:dHJ1ZQ=="]"#);
    }
}
