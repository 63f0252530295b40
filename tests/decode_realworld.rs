//! Real subscription payloads from public repositories (`../shared/realworld/payloads`, see its
//! MANIFEST.md), read at run time: every one decodes without a payload error, the API Gateway
//! access lines among them become records with the right fields, and nothing else does. Skipped
//! when the folder is absent.

use std::path::PathBuf;

use apigw_stream::decode::{decode_bytes, DecodeOptions, DecodeStats};
use apigw_stream::transaction::{ApiKind, SourceFormat, Transaction};

fn payloads_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/realworld/payloads");
    dir.is_dir().then_some(dir)
}

fn decode(name: &str) -> Option<(Vec<Transaction>, DecodeStats)> {
    let Some(dir) = payloads_dir() else {
        eprintln!("skipped: ../shared/realworld/payloads is absent");
        return None;
    };
    let path = dir.join(name);
    if !path.exists() {
        eprintln!("skipped: {} is absent", path.display());
        return None;
    }
    let bytes = std::fs::read(&path).unwrap();
    let mut stats = DecodeStats::default();
    let records = decode_bytes(&bytes, &DecodeOptions::default(), &mut stats)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    Some((records, stats))
}

#[test]
fn every_real_payload_decodes_without_a_payload_error() {
    let Some(dir) = payloads_dir() else {
        eprintln!("skipped: ../shared/realworld/payloads is absent");
        return;
    };
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(!names.is_empty());
    for name in &names {
        let (records, s) = decode(name).unwrap();
        let access = records
            .iter()
            .filter(|r| r.source.format != SourceFormat::Execution)
            .count() as u64;
        // Every event is accounted for: an access-log line is a record, unparsed, not API traffic
        // or filtered; an execution-log line joins its request (no real file mixes the two, so
        // `filtered` counts access lines where there are no execution lines).
        let filtered_access = if s.execution_lines == 0 {
            s.filtered
        } else {
            0
        };
        assert_eq!(
            s.log_events,
            access + s.lines_unparsed + s.lines_not_api + filtered_access + s.execution_lines,
            "{name}: {s:?}"
        );
        // Only the two files with access-log lines give access-log records (execution logs are
        // another parser's business).
        let expected = match name.as_str() {
            "mozilla-foxsec_fxa-prod_two-events.json" => 2,
            "ksmin23_firehose-data-message.json" => 1,
            _ => 0,
        };
        assert_eq!(access, expected, "{name}: {records:?}");
    }
}

#[test]
fn foxsec_custom_key_value_format() {
    let Some((recs, s)) = decode("mozilla-foxsec_fxa-prod_two-events.json") else {
        return;
    };
    assert_eq!((s.records, s.lines_unparsed, s.lines_not_api), (2, 0, 0));
    let r = &recs[0];
    assert_eq!(r.id, "c2c284c1-af50-457c-a0f8-5116dc789211");
    assert_eq!(r.source.format, SourceFormat::AccessKv);
    assert_eq!(r.source.log_group, "/aws/api-gateway/fxa-prod");
    assert_eq!(r.api.kind, ApiKind::Rest);
    assert_eq!(r.api.account.as_deref(), Some("903937621340"));
    assert_eq!(r.request.client_ip.as_deref(), Some("54.68.203.164"));
    assert_eq!(r.time_ms, 1_574_863_350_000);
    assert_eq!(r.request.method.as_deref(), Some("DELETE"));
    assert_eq!(r.request.route.as_deref(), Some("/sub/{proxy+}"));
    assert_eq!(r.response.status, Some(404));
    assert_eq!(r.request.protocol.as_deref(), Some("HTTP/1.1"));
    assert_eq!(r.response.length, Some(43));
    assert_eq!(recs[1].id, "d2d284c1-af50-457c-a0f8-5116dc789211");
}

#[test]
fn firehose_delivered_rest_line_with_numeric_values() {
    let Some((recs, _)) = decode("ksmin23_firehose-data-message.json") else {
        return;
    };
    let r = &recs[0];
    assert_eq!(r.id, "65401bed-607a-4b27-a33f-f1f5c811b1d2");
    assert_eq!(r.time_ms, 1_670_321_993_001);
    assert_eq!(r.request.method.as_deref(), Some("GET"));
    assert_eq!(r.request.route.as_deref(), Some("/random/strings"));
    assert_eq!(r.response.status, Some(200));
    assert_eq!(r.response.length, Some(11));
    assert_eq!(r.request.client_ip.as_deref(), Some("124.17.254.27"));
}

#[test]
fn other_services_payloads_are_counted_as_not_api() {
    for (name, events) in [
        ("datadog_tests-events_cloudwatch_logs_2.json", 1),
        ("datadog_tests-events_cloudwatch_logs_ddtags.json", 1),
        ("aws-lambda-go_cloudwatch-logs-event.json", 2),
        ("otel_multiple_json_objects.json", 2),
    ] {
        let Some((recs, s)) = decode(name) else {
            continue;
        };
        assert!(recs.is_empty(), "{name}");
        assert_eq!((s.log_events, s.lines_not_api), (events, events), "{name}");
    }
}

#[test]
fn lenient_envelopes() {
    if let Some((_, s)) = decode("dynatrace_control-message-string-timestamp.json") {
        assert_eq!((s.payloads, s.control_messages), (1, 1));
    }
    if let Some((_, s)) = decode("dynatrace_apigw-group-string-timestamp.json") {
        assert_eq!((s.payloads, s.log_events, s.lines_not_api), (1, 1, 1));
    }
    if let Some((_, s)) = decode("esf_awslogs-empty-data.json") {
        assert_eq!((s.payloads, s.log_events), (0, 0));
    }
    if let Some((_, s)) = decode("datadog_integration_cloudwatch_log_apigateway.json") {
        assert_eq!((s.payloads, s.log_events), (1, 3));
    }
}
