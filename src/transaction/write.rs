//! A record written as JSON by hand: the bytes serde_json writes for the derived `Serialize`
//! (a property test holds them equal), with the keys as constant text and the strings escaped
//! 16 bytes at a time. Every frame, archive chunk and `decode` output line is written here;
//! through serde's per-field calls the writing took about a fifth of the decode Lambda's time.

use super::{Api, Body, BodyEncoding, Execution, Flags, Headers, Request, Response, Source};
use super::{ApiKind, Transaction};
use crate::json::escape::string;

impl Transaction {
    /// The record as one line of JSON (no newline) appended to `out`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"schema\":");
        string(out, &self.schema);
        out.extend_from_slice(b",\"id\":");
        string(out, &self.id);
        out.extend_from_slice(b",\"time_ms\":");
        integer(out, self.time_ms);
        out.extend_from_slice(b",\"api\":");
        api(out, &self.api);
        out.extend_from_slice(b",\"request\":");
        request(out, &self.request);
        out.extend_from_slice(b",\"response\":");
        response(out, &self.response);
        out.extend_from_slice(b",\"flags\":");
        flags(out, &self.flags);
        out.extend_from_slice(b",\"source\":");
        source(out, &self.source);
        if let Some(e) = &self.execution {
            out.extend_from_slice(b",\"execution\":");
            execution(out, e);
        }
        out.push(b'}');
    }

    /// The record as one NDJSON line, newline included.
    pub fn json_line(&self) -> Vec<u8> {
        let mut line = Vec::with_capacity(1024);
        self.write_json(&mut line);
        line.push(b'\n');
        line
    }
}

fn api(out: &mut Vec<u8>, a: &Api) {
    out.extend_from_slice(b"{\"kind\":\"");
    out.extend_from_slice(ApiKind::as_str(a.kind).as_bytes());
    out.extend_from_slice(b"\",\"id\":");
    optional(out, a.id.as_deref());
    out.extend_from_slice(b",\"stage\":");
    optional(out, a.stage.as_deref());
    out.extend_from_slice(b",\"account\":");
    optional(out, a.account.as_deref());
    out.extend_from_slice(b",\"region\":");
    optional(out, a.region.as_deref());
    out.extend_from_slice(b",\"domain\":");
    optional(out, a.domain.as_deref());
    out.push(b'}');
}

fn request(out: &mut Vec<u8>, r: &Request) {
    out.extend_from_slice(b"{\"method\":");
    optional(out, r.method.as_deref());
    out.extend_from_slice(b",\"scheme\":");
    optional(out, r.scheme.as_deref());
    out.extend_from_slice(b",\"host\":");
    optional(out, r.host.as_deref());
    out.extend_from_slice(b",\"path\":");
    optional(out, r.path.as_deref());
    out.extend_from_slice(b",\"query\":");
    optional(out, r.query.as_deref());
    out.extend_from_slice(b",\"route\":");
    optional(out, r.route.as_deref());
    out.extend_from_slice(b",\"protocol\":");
    optional(out, r.protocol.as_deref());
    out.extend_from_slice(b",\"client_ip\":");
    optional(out, r.client_ip.as_deref());
    headers_and_body(out, &r.headers, r.body.as_ref());
}

fn response(out: &mut Vec<u8>, r: &Response) {
    out.extend_from_slice(b"{\"status\":");
    optional_integer(out, r.status.map(i64::from));
    out.extend_from_slice(b",\"length\":");
    optional_unsigned(out, r.length);
    out.extend_from_slice(b",\"latency_ms\":");
    optional_unsigned(out, r.latency_ms);
    out.extend_from_slice(b",\"integration_latency_ms\":");
    optional_unsigned(out, r.integration_latency_ms);
    headers_and_body(out, &r.headers, r.body.as_ref());
}

/// The two last fields of a request and of a response, and the object's end.
fn headers_and_body(out: &mut Vec<u8>, h: &Headers, b: Option<&Body>) {
    out.extend_from_slice(b",\"headers\":");
    headers(out, h);
    out.extend_from_slice(b",\"body\":");
    body(out, b);
    out.push(b'}');
}

fn headers(out: &mut Vec<u8>, h: &Headers) {
    out.push(b'{');
    for (i, (name, values)) in h.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(out, name);
        out.extend_from_slice(b":[");
        for (j, v) in values.iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            string(out, v);
        }
        out.push(b']');
    }
    out.push(b'}');
}

fn body(out: &mut Vec<u8>, b: Option<&Body>) {
    let Some(b) = b else {
        out.extend_from_slice(b"null");
        return;
    };
    out.extend_from_slice(b"{\"data\":");
    string(out, &b.data);
    out.extend_from_slice(match b.encoding {
        BodyEncoding::Utf8 => b",\"encoding\":\"utf8\",\"truncated\":",
        BodyEncoding::Base64 => b",\"encoding\":\"base64\",\"truncated\":",
    });
    boolean(out, b.truncated);
    out.push(b'}');
}

fn flags(out: &mut Vec<u8>, f: &Flags) {
    out.extend_from_slice(b"{\"discovery_only\":");
    boolean(out, f.discovery_only);
    out.extend_from_slice(b",\"body_truncated\":");
    boolean(out, f.body_truncated);
    out.extend_from_slice(b",\"partial\":");
    boolean(out, f.partial);
    if f.headers_truncated {
        out.extend_from_slice(b",\"headers_truncated\":true");
    }
    if f.body_lossy {
        out.extend_from_slice(b",\"body_lossy\":true");
    }
    out.push(b'}');
}

fn source(out: &mut Vec<u8>, s: &Source) {
    out.extend_from_slice(b"{\"log_group\":");
    string(out, &s.log_group);
    out.extend_from_slice(b",\"log_stream\":");
    string(out, &s.log_stream);
    out.extend_from_slice(b",\"event_id\":");
    string(out, &s.event_id);
    out.extend_from_slice(b",\"format\":\"");
    out.extend_from_slice(s.format.as_str().as_bytes());
    out.extend_from_slice(b"\"}");
}

fn execution(out: &mut Vec<u8>, e: &Execution) {
    out.push(b'{');
    if let Some(id) = &e.extended_request_id {
        out.extend_from_slice(b"\"extended_request_id\":");
        string(out, id);
        out.push(b',');
    }
    if let Some(error) = &e.error {
        out.extend_from_slice(b"\"error\":");
        string(out, error);
        out.push(b',');
    }
    out.extend_from_slice(b"\"authorizer_denied\":");
    boolean(out, e.authorizer_denied);
    out.extend_from_slice(b",\"throttled\":");
    boolean(out, e.throttled);
    out.extend_from_slice(b",\"complete\":");
    boolean(out, e.complete);
    if !e.lines.is_empty() {
        out.extend_from_slice(b",\"lines\":[");
        for (i, l) in e.lines.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"event_id\":");
            string(out, &l.event_id);
            out.extend_from_slice(b",\"timestamp\":");
            integer(out, l.timestamp);
            out.extend_from_slice(b",\"message\":");
            string(out, &l.message);
            out.push(b'}');
        }
        out.push(b']');
    }
    if e.lines_truncated {
        out.extend_from_slice(b",\"lines_truncated\":true");
    }
    out.push(b'}');
}

fn boolean(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

fn integer(out: &mut Vec<u8>, n: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

fn optional(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => string(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

fn optional_integer(out: &mut Vec<u8>, n: Option<i64>) {
    match n {
        Some(n) => integer(out, n),
        None => out.extend_from_slice(b"null"),
    }
}

fn optional_unsigned(out: &mut Vec<u8>, n: Option<u64>) {
    match n {
        Some(n) => out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
        None => out.extend_from_slice(b"null"),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::{ExecutionLine, SourceFormat};
    use super::*;
    use proptest::prelude::*;

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            "[a-z/{}.-]{0,40}",
            // Every byte JSON escapes, quotes and backslashes in runs, and non-ASCII text.
            proptest::collection::vec(
                prop_oneof![
                    (0u32..0x20).prop_map(|c| char::from_u32(c).unwrap_or(' ')),
                    Just('"'),
                    Just('\\'),
                    Just('\u{7f}'),
                    Just('é'),
                    Just('✓'),
                    Just('😀'),
                    proptest::char::range('a', 'z'),
                ],
                0..40,
            )
            .prop_map(|cs| cs.into_iter().collect()),
        ]
    }

    fn optional() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(text())
    }

    fn body() -> impl Strategy<Value = Option<Body>> {
        proptest::option::of((text(), any::<bool>(), any::<bool>()).prop_map(
            |(data, b64, truncated)| Body {
                data,
                encoding: if b64 {
                    BodyEncoding::Base64
                } else {
                    BodyEncoding::Utf8
                },
                truncated,
            },
        ))
    }

    fn headers() -> impl Strategy<Value = Headers> {
        proptest::collection::btree_map(text(), proptest::collection::vec(text(), 0..3), 0..4)
    }

    /// Records of every field kind, strings with every byte JSON escapes (shared with the UAP
    /// writer's tests).
    pub(crate) fn record() -> impl Strategy<Value = Transaction> {
        (
            (
                text(),
                any::<i64>(),
                0usize..4,
                proptest::collection::vec(optional(), 5),
            ),
            (proptest::collection::vec(optional(), 8), headers(), body()),
            (
                proptest::option::of(any::<u16>()),
                proptest::collection::vec(proptest::option::of(any::<u64>()), 3),
                headers(),
                body(),
            ),
            (
                proptest::collection::vec(any::<bool>(), 5),
                proptest::collection::vec(text(), 3),
                0usize..6,
            ),
            proptest::option::of((
                optional(),
                optional(),
                proptest::collection::vec(any::<bool>(), 4),
                proptest::collection::vec((text(), any::<i64>(), text()), 0..3),
            )),
        )
            .prop_map(
                |(
                    (id, time_ms, kind, a),
                    (r, req_headers, req_body),
                    (status, n, res_headers, res_body),
                    (f, s, format),
                    e,
                )| {
                    let kinds = [
                        ApiKind::Rest,
                        ApiKind::Http,
                        ApiKind::Websocket,
                        ApiKind::Unknown,
                    ];
                    let formats = [
                        SourceFormat::AccessJson,
                        SourceFormat::AccessClf,
                        SourceFormat::AccessCsv,
                        SourceFormat::AccessXml,
                        SourceFormat::AccessKv,
                        SourceFormat::Execution,
                    ];
                    let mut t = Transaction::new(
                        id,
                        time_ms,
                        Source {
                            log_group: s[0].clone(),
                            log_stream: s[1].clone(),
                            event_id: s[2].clone(),
                            format: formats[format],
                        },
                    );
                    t.api = Api {
                        kind: kinds[kind],
                        id: a[0].clone(),
                        stage: a[1].clone(),
                        account: a[2].clone(),
                        region: a[3].clone(),
                        domain: a[4].clone(),
                    };
                    t.request = Request {
                        method: r[0].clone(),
                        scheme: r[1].clone(),
                        host: r[2].clone(),
                        path: r[3].clone(),
                        query: r[4].clone(),
                        route: r[5].clone(),
                        protocol: r[6].clone(),
                        client_ip: r[7].clone(),
                        headers: req_headers,
                        body: req_body,
                    };
                    t.response = Response {
                        status,
                        length: n[0],
                        latency_ms: n[1],
                        integration_latency_ms: n[2],
                        headers: res_headers,
                        body: res_body,
                    };
                    t.flags = Flags {
                        discovery_only: f[0],
                        body_truncated: f[1],
                        partial: f[2],
                        headers_truncated: f[3],
                        body_lossy: f[4],
                    };
                    t.execution = e.map(|(extended_request_id, error, b, lines)| Execution {
                        extended_request_id,
                        error,
                        authorizer_denied: b[0],
                        throttled: b[1],
                        complete: b[2],
                        lines: lines
                            .into_iter()
                            .map(|(event_id, timestamp, message)| ExecutionLine {
                                event_id,
                                timestamp,
                                message,
                            })
                            .collect(),
                        lines_truncated: b[3],
                    });
                    t
                },
            )
    }

    proptest! {
        /// Byte for byte what serde_json writes for the derived `Serialize`.
        #[test]
        fn writes_what_serde_json_writes(t in record()) {
            let mut ours = Vec::new();
            t.write_json(&mut ours);
            let theirs = serde_json::to_vec(&t).expect("plain data serializes");
            prop_assert_eq!(String::from_utf8_lossy(&ours), String::from_utf8_lossy(&theirs));
        }
    }

    #[test]
    fn every_byte_is_escaped_as_serde_json_escapes_it() {
        let all: String = (0u32..0x80).filter_map(char::from_u32).collect();
        for from in 0..all.len() {
            let s = &all[from..];
            let mut ours = Vec::new();
            string(&mut ours, s);
            assert_eq!(
                ours,
                serde_json::to_vec(s).expect("a str serializes"),
                "{s:?}"
            );
        }
    }
}

#[cfg(test)]
mod review_fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_string_as_serde(s in proptest::collection::vec(
            prop_oneof![any::<char>(), (0u32..0x80).prop_map(|c| char::from_u32(c).unwrap())], 0..80)) {
            let s: String = s.into_iter().collect();
            let mut ours = Vec::new();
            string(&mut ours, &s);
            prop_assert_eq!(ours, serde_json::to_vec(&s).unwrap());
        }
    }

    #[test]
    fn specials_at_every_offset_and_integers() {
        let specials = [
            "\"",
            "\\",
            "\u{0}",
            "\u{1f}",
            "\n",
            "\u{7f}",
            "é",
            "😀",
            "\u{8}\u{c}\r\t",
        ];
        for pre in 0..48 {
            for a in specials {
                for b in specials {
                    for gap in [0, 1, 15, 16, 17] {
                        let s = format!("{}{a}{}{b}", "x".repeat(pre), "y".repeat(gap));
                        let mut ours = Vec::new();
                        string(&mut ours, &s);
                        assert_eq!(ours, serde_json::to_vec(&s).unwrap(), "{s:?}");
                    }
                }
            }
        }
        for n in [i64::MIN, i64::MAX, -1, 0] {
            let mut ours = Vec::new();
            integer(&mut ours, n);
            assert_eq!(ours, serde_json::to_vec(&n).unwrap());
        }
        for n in [u64::MAX, 0] {
            let mut ours = Vec::new();
            optional_unsigned(&mut ours, Some(n));
            assert_eq!(ours, serde_json::to_vec(&n).unwrap());
        }
    }
}
