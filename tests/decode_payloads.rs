//! Payload decoding end to end on real formats: the AWS sample event, a CONTROL_MESSAGE, real
//! REST/HTTP/WebSocket lines, every console template, and the broken forms users meet.

mod common;

use std::io::Write;

use apigw_stream::decode::logs::PayloadError;
use apigw_stream::decode::{decode_bytes, DecodeOptions, DecodeStats};
use apigw_stream::transaction::{ApiKind, SourceFormat};
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine;
use flate2::write::GzEncoder;
use flate2::Compression;
use serde_json::json;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(common::fixtures_dir().join(name)).expect("fixture")
}

fn lines(name: &str) -> Vec<String> {
    fixture(&format!("lines/{name}"))
        .lines()
        .map(str::to_string)
        .collect()
}

fn logdata(group: &str, filter: &str, messages: &[String]) -> serde_json::Value {
    let events: Vec<_> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| json!({"id": format!("3759123456789012345678901234567890123456789012345678{i:04}"), "timestamp": 1_690_373_223_000i64 + i as i64, "message": m}))
        .collect();
    json!({"messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": group,
           "logStream": "2023/07/26/[$LATEST]abc", "subscriptionFilters": [filter], "logEvents": events})
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn lambda_event(data: &serde_json::Value) -> Vec<u8> {
    let b64 = STANDARD.encode(gzip(data.to_string().as_bytes()));
    json!({"awslogs": {"data": b64}}).to_string().into_bytes()
}

fn decode(input: &[u8]) -> (Vec<apigw_stream::Transaction>, DecodeStats) {
    let mut s = DecodeStats::default();
    let r = decode_bytes(input, &DecodeOptions::default(), &mut s).expect("decodes");
    (r, s)
}

#[test]
fn aws_documentation_sample_event() {
    let (recs, s) = decode(fixture("aws-sample-event.json").as_bytes());
    // Its two lines ("[ERROR] First test message") are not access logs: counted, skipped.
    assert!(recs.is_empty());
    assert_eq!(
        (s.payloads, s.log_events, s.lines_not_api, s.records),
        (1, 2, 2, 0)
    );
}

#[test]
fn control_message_yields_nothing_and_no_error() {
    let (recs, s) = decode(fixture("control-message.b64").as_bytes());
    assert!(recs.is_empty());
    assert_eq!((s.payloads, s.control_messages, s.log_events), (1, 1, 0));
}

#[test]
fn every_real_line_and_console_template_gives_a_record() {
    let cases: &[(&str, ApiKind, SourceFormat, &str)] = &[
        (
            "rest-json.log",
            ApiKind::Rest,
            SourceFormat::AccessJson,
            "48752d0f-c99d-4cfa-a5a7-f3c6834d19e5",
        ),
        (
            "rest-recommended.log",
            ApiKind::Rest,
            SourceFormat::AccessJson,
            "48752d0f-c99d-4cfa-a5a7-f3c6834d19e5",
        ),
        (
            "rest-console-json.log",
            ApiKind::Rest,
            SourceFormat::AccessJson,
            "48752d0f-c99d-4cfa-a5a7-f3c6834d19e5",
        ),
        (
            "http-json.log",
            ApiKind::Http,
            SourceFormat::AccessJson,
            "GQIVriFLIAMEMsA=",
        ),
        (
            "websocket-json.log",
            ApiKind::Websocket,
            SourceFormat::AccessJson,
            "Iq9gwFDNoAMFo1A=",
        ),
        (
            "rest-clf.log",
            ApiKind::Rest,
            SourceFormat::AccessClf,
            "48752d0f-c99d-4cfa-a5a7-f3c6834d19e5",
        ),
        (
            "http-clf.log",
            ApiKind::Http,
            SourceFormat::AccessClf,
            "GQIVriFLIAMEMsA=",
        ),
        (
            "rest-csv.log",
            ApiKind::Rest,
            SourceFormat::AccessCsv,
            "48752d0f-c99d-4cfa-a5a7-f3c6834d19e5",
        ),
        (
            "http-csv.log",
            ApiKind::Http,
            SourceFormat::AccessCsv,
            "GQIVriFLIAMEMsA=",
        ),
        (
            "rest-xml.log",
            ApiKind::Rest,
            SourceFormat::AccessXml,
            "48752d0f-c99d-4cfa-a5a7-f3c6834d19e5",
        ),
        (
            "http-xml.log",
            ApiKind::Http,
            SourceFormat::AccessXml,
            "GQIVriFLIAMEMsA=",
        ),
    ];
    for (file, kind, format, first_id) in cases {
        let msgs = lines(file);
        let (recs, s) = decode(&lambda_event(&logdata(
            "/aws/apigateway/access",
            "any-filter",
            &msgs,
        )));
        assert_eq!(s.lines_unparsed, 0, "{file}");
        assert_eq!(recs.len(), msgs.len(), "{file}");
        let r = &recs[0];
        assert_eq!(r.id, *first_id, "{file}");
        assert_eq!(r.api.kind, *kind, "{file}");
        assert_eq!(r.source.format, *format, "{file}");
        assert!(r.response.status.is_some(), "{file}");
        assert!(r.flags.discovery_only, "{file}");
        assert_eq!(r.source.log_group, "/aws/apigateway/access");
    }
}

#[test]
fn websocket_line_with_dashes_keeps_kind_from_filter_name() {
    let msgs = lines("websocket-json.log");
    let (recs, _) = decode(&lambda_event(&logdata(
        "g",
        "apigw-stream/websocket/z1ctxygne5/production",
        &msgs[1..],
    )));
    assert_eq!(recs[0].api.kind, ApiKind::Websocket);
    assert_eq!(recs[0].api.id.as_deref(), Some("z1ctxygne5"));
    assert_eq!(recs[0].response.status, Some(403));
}

#[test]
fn unpadded_base64_and_bare_base64() {
    let data = logdata("g", "f", &lines("rest-json.log"));
    let gz = gzip(data.to_string().as_bytes());
    let unpadded = STANDARD_NO_PAD.encode(&gz);
    assert!(!unpadded.ends_with('='));
    let event = json!({"awslogs": {"data": unpadded}}).to_string();
    assert_eq!(decode(event.as_bytes()).0.len(), 2);
    assert_eq!(decode(STANDARD.encode(&gz).as_bytes()).0.len(), 2);
    assert_eq!(
        decode(format!("\"{}\"", STANDARD.encode(&gz)).as_bytes())
            .0
            .len(),
        2
    );
}

#[test]
fn raw_gzip_with_concatenated_members_as_firehose_writes() {
    let first = logdata("g1", "f", &lines("rest-json.log"));
    let control = json!({"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1600110003794i64,"message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}]});
    let second = logdata("g2", "f", &lines("http-json.log"));
    let mut s3_object = gzip(first.to_string().as_bytes());
    s3_object.extend(gzip(control.to_string().as_bytes()));
    s3_object.extend(gzip(second.to_string().as_bytes()));
    let (recs, s) = decode(&s3_object);
    assert_eq!(recs.len(), 4);
    assert_eq!((s.payloads, s.control_messages), (3, 1));
    assert_eq!(recs[0].source.log_group, "g1");
    assert_eq!(recs[3].source.log_group, "g2");
}

#[test]
fn decompressed_logdata_and_one_event_per_line() {
    let a = logdata("a", "f", &lines("rest-json.log"));
    assert_eq!(decode(a.to_string().as_bytes()).0.len(), 2);
    let mut file = lambda_event(&a);
    file.push(b'\n');
    file.extend(lambda_event(&logdata("b", "f", &lines("http-json.log"))));
    file.push(b'\n');
    let (recs, s) = decode(&file);
    assert_eq!((recs.len(), s.payloads), (4, 2));
    assert_eq!(recs[2].source.log_group, "b");
}

#[test]
fn moto_style_numeric_ids_and_account_policy_fields() {
    let data = json!({"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"g","logStream":"s",
        "subscriptionFilters":["f"],"policyLevel":"ACCOUNT_LEVEL_POLICY",
        "logEvents":[{"id":0,"timestamp":1,"message":lines("rest-json.log")[0]}]});
    let (recs, _) = decode(&lambda_event(&data));
    assert_eq!(recs[0].source.event_id, "0");
}

#[test]
fn gzip_bomb_fails_fast_with_a_clear_error() {
    let mut e = GzEncoder::new(Vec::new(), Compression::best());
    let block = vec![b' '; 1 << 20];
    for _ in 0..32 {
        e.write_all(&block).unwrap();
    }
    let bomb = e.finish().unwrap();
    let event = json!({"awslogs": {"data": STANDARD.encode(&bomb)}}).to_string();
    let opts = DecodeOptions {
        max_payload_bytes: 4 << 20,
        ..DecodeOptions::default()
    };
    let err = decode_bytes(event.as_bytes(), &opts, &mut DecodeStats::default()).unwrap_err();
    assert!(
        err.to_string()
            .contains("exceeds the limit of 4194304 bytes"),
        "{err}"
    );
}

#[test]
fn truncated_and_non_utf8_inputs_are_errors_not_panics() {
    let event = lambda_event(&logdata("g", "f", &lines("rest-json.log")));
    let cut = &event[..event.len() / 2];
    let mut s = DecodeStats::default();
    assert!(decode_bytes(cut, &DecodeOptions::default(), &mut s).is_err());
    // Cut inside the gzip stream (valid base64, truncated gzip).
    let gz = gzip(
        logdata("g", "f", &lines("rest-json.log"))
            .to_string()
            .as_bytes(),
    );
    let cut_gz = json!({"awslogs": {"data": STANDARD.encode(&gz[..gz.len() - 20])}}).to_string();
    let err = decode_bytes(cut_gz.as_bytes(), &DecodeOptions::default(), &mut s).unwrap_err();
    assert!(err.to_string().contains("gzip"), "{err}");
    // Invalid UTF-8 outside any message (in the log group name) still fails the payload.
    let mut bad = logdata("gX", "f", &["x".into()]).to_string().into_bytes();
    let at = bad.iter().position(|b| *b == b'X').unwrap();
    bad[at] = 0xff;
    let err = decode_bytes(&gzip(&bad), &DecodeOptions::default(), &mut s).unwrap_err();
    assert!(
        matches!(
            err,
            apigw_stream::decode::DecodeError::Malformed(PayloadError::Json(_))
        ),
        "{err}"
    );
    // Binary garbage.
    let err =
        decode_bytes(&[0xfe, 0x00, 0x12, 0x80], &DecodeOptions::default(), &mut s).unwrap_err();
    assert!(
        err.to_string().contains("not a CloudWatch Logs payload"),
        "{err}"
    );
    assert_eq!(s.payload_errors, 4);
}

#[test]
fn invalid_utf8_in_one_event_costs_only_that_event_its_exactness() {
    let msgs = lines("rest-json.log");
    let mut raw = logdata("/aws/apigateway/access", "f", &msgs)
        .to_string()
        .into_bytes();
    // Corrupt one byte of the first line's `ip` value ("1.128.0.0" → "1.1\xff8.0.0").
    let at = raw
        .windows(9)
        .position(|w| w == b"1.128.0.0")
        .expect("the first line has ip 1.128.0.0")
        + 3;
    raw[at] = 0xff;
    let (recs, s) = decode(&gzip(&raw));
    assert_eq!((s.records, s.lines_unparsed, s.payload_errors), (2, 0, 0));
    assert!(recs[0].flags.partial);
    assert_eq!(
        recs[0].request.client_ip.as_deref(),
        Some("1.1\u{fffd}8.0.0")
    );
    assert_eq!(recs[0].id, "48752d0f-c99d-4cfa-a5a7-f3c6834d19e5");
    assert!(!recs[1].flags.partial);
}

#[test]
fn one_bad_line_is_counted_and_the_batch_goes_on() {
    let mut msgs = lines("rest-json.log");
    msgs.insert(1, "}}} not a log line {{{".into());
    // An access-log line cut short: broken, not foreign.
    msgs.insert(2, r#"{"requestId":"cut-1","ip":"1.2.3.4","status":"#.into());
    msgs.push(r#"{"requestId":"q-1","ip":"1.2.3.4","userAgent":"Mozilla/5.0 "quoted" agent","httpMethod":"GET","status":"200","resourcePath":"/x"}"#.into());
    let (recs, s) = decode(&lambda_event(&logdata("g", "f", &msgs)));
    assert_eq!(
        (
            s.log_events,
            s.records,
            s.lines_unparsed,
            s.lines_not_api,
            s.lines_recovered
        ),
        (5, 3, 1, 1, 1)
    );
    let recovered = recs.iter().find(|r| r.id == "q-1").unwrap();
    assert!(recovered.flags.partial);
    assert_eq!(
        recovered.request.headers["user-agent"],
        vec![r#"Mozilla/5.0 "quoted" agent"#]
    );
}

#[test]
fn static_files_are_filtered_and_counted() {
    let msgs = vec![
        r#"{"requestId":"a","httpMethod":"GET","path":"/static/App.JS","status":"200"}"#
            .to_string(),
        r#"{"requestId":"b","httpMethod":"GET","path":"/logo.png?v=2","status":"200"}"#.to_string(),
        r#"{"requestId":"c","httpMethod":"GET","path":"/pets/1","status":"200"}"#.to_string(),
    ];
    let (recs, s) = decode(&lambda_event(&logdata("g", "f", &msgs)));
    assert_eq!(recs.len(), 1);
    assert_eq!((s.filtered, s.filtered_static_file), (2, 2));
}
