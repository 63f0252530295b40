//! Records and queue frames for tests and benchmarks (`benches/suite/ship.rs` includes this file
//! by path): nothing here may need moto or any other test harness.
#![allow(dead_code)]

use apigw_stream::transaction::{ApiKind, Source, SourceFormat, Transaction};

/// A record as decode makes it from the recommended REST access-log format (DESIGN.md example).
pub fn txn(i: usize) -> Transaction {
    txn_with_agent(i, "curl/8.4.0")
}

/// [`txn`] with another `user-agent`.
pub fn txn_with_agent(i: usize, user_agent: &str) -> Transaction {
    let mut t = Transaction::new(
        format!("48752d0f-c99d-4cfa-a5a7-{i:012}"),
        1_686_411_388_000 + i as i64,
        Source {
            log_group: "/aws/apigateway/petstore-prod".into(),
            log_stream: "9b3b6a3f3c1e4b6f8e2d7a5c4b3a2f1e".into(),
            event_id: format!("3747628839291740923847561928374650192837465019283{i:05}"),
            format: SourceFormat::AccessJson,
        },
    );
    t.api.kind = ApiKind::Rest;
    t.api.id = Some("asad15n3p0".into());
    t.api.stage = Some("prod".into());
    t.api.account = Some("123456789012".into());
    t.api.region = Some("us-east-1".into());
    t.api.domain = Some("asad15n3p0.execute-api.us-east-1.amazonaws.com".into());
    t.request.method = Some("GET".into());
    t.request.scheme = Some("https".into());
    t.request.host = t.api.domain.clone();
    t.request.path = Some(format!("/pets/{i}"));
    t.request.route = Some("/pets/{petId}".into());
    t.request.protocol = Some("HTTP/1.1".into());
    t.request.client_ip = Some("1.128.0.0".into());
    t.request
        .headers
        .insert("user-agent".into(), vec![user_agent.into()]);
    t.response.status = Some(200);
    t.response.length = Some(48);
    t.response.latency_ms = Some(31);
    t.response.integration_latency_ms = Some(27);
    t
}

/// A queue message body: base64(gzip(NDJSON)), the `ndjson+gzip+base64` frame encoding.
pub fn frame(records: &[Transaction]) -> String {
    let mut frames = apigw_stream::transport::frame::pack(
        records,
        apigw_stream::transport::queue::MAX_MESSAGE_BYTES,
    )
    .unwrap();
    assert_eq!(
        frames.len(),
        1,
        "these records should fit one queue message"
    );
    frames.remove(0).body
}
