//! The 1 MB execution-log delivery in the shape we create it with (output format json, the record
//! fields of `execution::delivery::RECORD_FIELDS`): events with and without the `(id)` prefix in
//! `payload`, a body of 1 MB cut by API Gateway, the API context from the record's fields (not the
//! log group's name), a `plain` delivery, and JSON events that name no request. Truth is in each
//! test: the ids, bodies and fields written into the events.

use apigw_stream::decode::execution::delivery::RECORD_FIELDS;
use apigw_stream::decode::{decode_bytes, DecodeOptions, DecodeStats};
use apigw_stream::transaction::Transaction;
use serde_json::json;

const API: &str = "k3x9q7v2ab";
const STAGE: &str = "live-orders";
const T0: u64 = 1_717_200_000_000;

/// One record as a `json` delivery writes it.
fn record(line: &str, ms: u64, with_time_as: &str) -> String {
    let ts = match with_time_as {
        "iso" => json!(chrono::DateTime::from_timestamp_millis(ms as i64)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        "string" => json!(ms.to_string()),
        _ => json!(ms),
    };
    let r = json!({
        "resource_arn": format!("arn:aws:apigateway:eu-west-1::/restapis/{API}/stages/{STAGE}"),
        "event_timestamp": ts,
        "api_id": API,
        "stage": STAGE,
        "resource_path": "/orders/{orderId}",
        "http_method": "POST",
        "payload": line,
    });
    let text = r.to_string();
    // Every field we create the delivery with is there, and nothing else.
    let keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys.len(), RECORD_FIELDS.len());
    assert!(RECORD_FIELDS.iter().all(|f| keys.contains(f)));
    text
}

/// A LogData payload of `messages`, in a log group whose name says nothing of the API.
fn payload(log_group: &str, messages: &[String]) -> Vec<u8> {
    let events: Vec<_> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| json!({"id": format!("{:056}", i), "timestamp": T0 + i as u64, "message": m}))
        .collect();
    serde_json::to_vec(&json!({
        "messageType": "DATA_MESSAGE",
        "owner": "111122223333",
        "logGroup": log_group,
        "logStream": "delivery",
        "subscriptionFilters": ["apigw-stream/rest"],
        "logEvents": events,
    }))
    .unwrap()
}

/// The lines of one whole POST request, `body` as its request body.
fn request_lines(id: &str, body: &str, cut: bool) -> Vec<String> {
    let mark = if cut { " [TRUNCATED]" } else { "" };
    vec![
        format!("({id}) Extended Request Id: {id}-ext"),
        format!("({id}) Verifying Usage Plan for request: {id}. API Key:  API Stage: {API}/{STAGE}"),
        format!("({id}) Starting execution for request: {id}"),
        format!("({id}) HTTP Method: POST, Resource Path: /orders/42"),
        format!("({id}) Method request path: {{orderId=42}}"),
        format!("({id}) Method request query string: {{}}"),
        format!("({id}) Method request headers: {{Host=shop.example.com, Content-Type=application/json, X-Forwarded-For=203.0.113.9, 198.51.100.1}}"),
        format!("({id}) Method request body before transformations: {body}{mark}"),
        format!("({id}) Method response body after transformations: {{\"ok\":true}}"),
        format!("({id}) Method response headers: {{Content-Type=application/json}}"),
        format!("({id}) Successfully completed execution"),
        format!("({id}) Method completed with status: 201"),
    ]
}

fn decode(input: &[u8], opts: &DecodeOptions) -> (Vec<Transaction>, DecodeStats) {
    let mut stats = DecodeStats::default();
    let records = decode_bytes(input, opts, &mut stats).expect("the payload decodes");
    (records, stats)
}

fn by_id<'a>(records: &'a [Transaction], id: &str) -> &'a Transaction {
    records.iter().find(|r| r.id == id).unwrap_or_else(|| {
        panic!(
            "{id} not decoded: {:?}",
            records.iter().map(|r| &r.id).collect::<Vec<_>>()
        )
    })
}

#[test]
fn records_with_and_without_the_prefix_decode_to_one_full_transaction_each() {
    let a = "6f1c2d3e-0000-4000-8000-00000000000a";
    let b = "6f1c2d3e-0000-4000-8000-00000000000b";
    let mut messages: Vec<String> = request_lines(a, r#"{"sku":"A-1","qty":2}"#, false)
        .iter()
        .enumerate()
        .map(|(i, l)| record(l, T0 + i as u64, ["ms", "iso", "string"][i % 3]))
        .collect();
    // b: the prefix only on the lines that open it; the rest are the bare line text.
    for (i, l) in request_lines(b, r#"{"sku":"B-2"}"#, false)
        .iter()
        .enumerate()
    {
        let text = if i < 3 {
            l.clone()
        } else {
            l.split_once(") ").unwrap().1.to_string()
        };
        messages.push(record(&text, T0 + 100 + i as u64, "ms"));
    }
    let (records, stats) = decode(
        &payload("/custom/large-bodies/group", &messages),
        &DecodeOptions::default(),
    );
    assert_eq!(records.len(), 2, "{stats:?}");
    for (id, body) in [(a, r#"{"sku":"A-1","qty":2}"#), (b, r#"{"sku":"B-2"}"#)] {
        let r = by_id(&records, id);
        assert_eq!(
            r.api.id.as_deref(),
            Some(API),
            "{id}: api id from the record"
        );
        assert_eq!(
            r.api.stage.as_deref(),
            Some(STAGE),
            "{id}: stage from the record"
        );
        assert_eq!(r.request.method.as_deref(), Some("POST"));
        assert_eq!(r.request.path.as_deref(), Some("/orders/42"));
        assert_eq!(r.response.status, Some(201));
        assert_eq!(r.request.body.as_ref().unwrap().data, body);
        assert_eq!(
            r.response.body.as_ref().unwrap().data,
            r#"{"ok":true}"#,
            "{id}"
        );
        assert_eq!(r.request.headers["host"], vec!["shop.example.com"]);
        assert!(!r.flags.partial && !r.flags.body_truncated, "{id}");
        assert!(r.execution.as_ref().unwrap().complete);
    }
    // The time is the record's event_timestamp (ms, ISO 8601 or a digit string alike).
    assert_eq!(by_id(&records, a).time_ms, T0 as i64);
    assert_eq!(by_id(&records, b).time_ms, T0 as i64 + 100);
}

#[test]
fn a_one_megabyte_body_cut_by_api_gateway_is_kept_to_the_cap_and_flagged() {
    let id = "0a1b2c3d-0000-4000-8000-0000000000c1";
    // Incompressible-looking text, as a base64 upload would be: 1 MB, cut by API Gateway.
    let body: String = (0..1_040_000u32)
        .map(|i| {
            char::from(
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
                    [(i.wrapping_mul(2_654_435_761) >> 26) as usize],
            )
        })
        .collect();
    let messages: Vec<String> = request_lines(id, &body, true)
        .iter()
        .enumerate()
        .map(|(i, l)| record(l, T0 + i as u64, "ms"))
        .collect();
    assert!(messages.iter().any(|m| m.len() > 1_000_000));
    for max in [
        apigw_stream::decode::execution::DEFAULT_MAX_BODY_BYTES,
        1_048_576,
    ] {
        let opts = DecodeOptions {
            max_body_bytes: max,
            ..DecodeOptions::default()
        };
        let (records, _) = decode(&payload("/custom/large-bodies/group", &messages), &opts);
        let r = by_id(&records, id);
        let got = r.request.body.as_ref().unwrap();
        assert!(got.truncated, "cut by API Gateway: flagged");
        assert!(r.flags.body_truncated);
        assert_eq!(
            got.data.len(),
            body.len().min(max),
            "as long as MAX_BODY_BYTES allows"
        );
        assert!(body.starts_with(&got.data));
        assert_eq!(r.response.status, Some(201));
        assert!(!r.flags.partial);
    }
}

#[test]
fn a_plain_delivery_decodes_as_the_standard_format() {
    let id = "9f8e7d6c-0000-4000-8000-0000000000d1";
    let messages = request_lines(id, r#"{"plain":true}"#, false);
    let group = format!("/aws/vendedlogs/apigw-stream/execution/{API}/{STAGE}");
    let (records, _) = decode(&payload(&group, &messages), &DecodeOptions::default());
    let r = by_id(&records, id);
    assert_eq!(r.request.body.as_ref().unwrap().data, r#"{"plain":true}"#);
    assert_eq!(r.response.status, Some(201));
    assert_eq!(r.api.id.as_deref(), Some(API));
}

#[test]
fn json_events_that_name_no_request_are_orphans_not_lines_of_the_request_before() {
    let b = "5e5e5e5e-0000-4000-8000-0000000000b2";
    let mut messages: Vec<String> = request_lines(b, r#"{"real":1}"#, false)
        .into_iter()
        .map(|l| {
            let (_, text) = l.split_once(") ").unwrap();
            json!({"requestId": b, "message": text}).to_string()
        })
        .collect();
    // After b's lines: events with no usable request id (absent, empty, a number).
    for id in [json!(null), json!(""), json!(42)] {
        let mut e = json!({"message": "Method request headers: {Host=evil.example, X-Forwarded-For=6.6.6.6}"});
        if !id.is_null() {
            e["requestId"] = id;
        }
        messages.push(e.to_string());
        messages.push(
            json!({"message": "Method request body before transformations: injected"}).to_string(),
        );
    }
    let group = format!("/aws/vendedlogs/apigw-stream/execution/{API}/{STAGE}");
    let (records, stats) = decode(&payload(&group, &messages), &DecodeOptions::default());
    assert_eq!(records.len(), 1, "{records:#?}");
    let r = by_id(&records, b);
    assert_eq!(r.request.headers["host"], vec!["shop.example.com"]);
    assert_eq!(r.request.client_ip.as_deref(), Some("203.0.113.9"));
    assert_eq!(r.request.body.as_ref().unwrap().data, r#"{"real":1}"#);
    assert!(
        stats.lines_unparsed >= 6,
        "the six events are counted: {stats:?}"
    );
}
