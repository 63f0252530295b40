//! REST execution logs → one record per request: the public real-world payloads (read from
//! ../shared/realworld when present) and generated payloads checked against the generator's truth.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use apigw_stream::control::generate::{Expected, GenerateOptions, Generator, LogKind, Scenario};
use apigw_stream::decode::{decode_bytes, DecodeOptions, DecodeStats};
use apigw_stream::transaction::{SourceFormat, Transaction};

fn realworld(name: &str) -> Option<Vec<u8>> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/realworld/payloads")
        .join(name);
    match std::fs::read(&p) {
        Ok(b) => Some(b),
        Err(_) => {
            eprintln!("skipping: {} not present", p.display());
            None
        }
    }
}

fn decode_with(input: &[u8], opts: &DecodeOptions) -> (Vec<Transaction>, DecodeStats) {
    let mut s = DecodeStats::default();
    let r = decode_bytes(input, opts, &mut s).expect("decodes");
    (r, s)
}

fn decode(input: &[u8]) -> (Vec<Transaction>, DecodeStats) {
    decode_with(input, &DecodeOptions::default())
}

/// Request ids that have a completion line, read from the raw payload with serde_json only.
fn completed_ids(raw: &[u8]) -> BTreeSet<String> {
    let v: serde_json::Value = serde_json::from_slice(raw).unwrap();
    v["logEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| {
            let m = e["message"].as_str()?;
            let (id, text) = m.strip_prefix('(')?.split_once(") ")?;
            text.starts_with("Method completed with status")
                .then(|| id.to_string())
        })
        .collect()
}

const REAL: &[&str] = &[
    "ericallam_parse.test_1.json",
    "ericallam_timeout.test_1.json",
    "ericallam_throttle.test_1.json",
    "ericallam_multipleRequests.test_1.json",
    "ericallam_truncated.test_1.json",
    "tmobile-jazz_apigateway-execution.json",
    "datadog_integration_cloudwatch_log_apigateway.json",
];

#[test]
fn real_payloads_one_record_per_completed_request() {
    for name in REAL {
        let Some(raw) = realworld(name) else { return };
        let (recs, s) = decode(&raw);
        let complete: BTreeSet<String> = recs
            .iter()
            .filter(|r| r.execution.as_ref().is_some_and(|e| e.complete))
            .map(|r| r.id.clone())
            .collect();
        assert_eq!(complete, completed_ids(&raw), "{name}");
        assert_eq!(
            recs.len() as u64 - s.requests_incomplete,
            complete.len() as u64,
            "{name}"
        );
        assert_eq!(s.lines_unparsed, 0, "{name}");
        assert_eq!(s.execution_lines, s.log_events, "{name}");
        for r in &recs {
            assert_eq!(r.source.format, SourceFormat::Execution, "{name}");
            assert_eq!(r.api.kind.as_str(), "rest", "{name}");
        }
    }
}

#[test]
fn real_payload_fields() {
    let Some(raw) = realworld("ericallam_parse.test_1.json") else {
        return;
    };
    let (recs, _) = decode(&raw);
    assert_eq!(recs.len(), 1);
    let r = &recs[0];
    assert_eq!(r.id, "515f1e99-39db-11e9-9e96-01e5c04505b9");
    assert_eq!(r.time_ms, 1_551_194_973_732);
    assert_eq!(r.request.method.as_deref(), Some("POST"));
    assert_eq!(r.request.path.as_deref(), Some("/verifyReceipt"));
    assert_eq!(r.request.route.as_deref(), Some("/verifyReceipt"));
    assert_eq!(r.request.query, None);
    assert_eq!(r.response.status, Some(200));
    assert_eq!(r.request.client_ip.as_deref(), Some("18.130.162.42"));
    assert_eq!(
        r.request.headers["accept"],
        vec!["application/json, text/plain, */*"]
    );
    assert_eq!(
        r.request.headers["content-type"],
        vec!["application/json;charset=utf-8"]
    );
    assert_eq!(
        r.request.host.as_deref(),
        Some("h733q2j6gb.execute-api.eu-west-2.amazonaws.com")
    );
    assert_eq!(
        (r.api.id.as_deref(), r.api.stage.as_deref()),
        (Some("h733q2j6gb"), Some("Prod"))
    );
    assert_eq!(r.api.region.as_deref(), Some("eu-west-2"));
    assert_eq!(
        r.request.body.as_ref().unwrap().data,
        r#"{"receiptData":"82ca4c4f-26dd-4554-a11e-c3feb5324345"}"#
    );
    assert!(r.response.body.is_some());
    assert_eq!(r.response.integration_latency_ms, Some(40));
    assert!(!r.flags.discovery_only);
    assert_eq!(
        r.execution.as_ref().unwrap().extended_request_id.as_deref(),
        Some("Vts2pH6ArPEFcuQ=")
    );

    let Some(raw) = realworld("ericallam_throttle.test_1.json") else {
        return;
    };
    let (recs, _) = decode(&raw);
    let r = &recs[0];
    assert_eq!(r.response.status, Some(429));
    assert!(r.execution.as_ref().unwrap().throttled);
    assert!(
        r.flags.discovery_only,
        "a throttled request carries no headers or body"
    );

    let Some(raw) = realworld("ericallam_multipleRequests.test_1.json") else {
        return;
    };
    let (recs, _) = decode(&raw);
    let statuses: Vec<_> = recs.iter().map(|r| r.response.status).collect();
    assert_eq!(statuses, vec![Some(502), Some(200), Some(200), Some(200)]);
    let first = &recs[0];
    assert_eq!(
        first.execution.as_ref().unwrap().error.as_deref(),
        Some("Execution failed due to configuration error: Malformed Lambda proxy response")
    );
    // `X-Forwarded-For=62.254.81.74, 54.239.166.85`: one value, the client first.
    assert_eq!(first.request.client_ip.as_deref(), Some("62.254.81.74"));
    assert_eq!(
        first.request.headers["accept-encoding"],
        vec!["gzip, deflate"]
    );
    // No method response on failure: the integration's response headers stand in.
    assert_eq!(
        first.response.headers["date"],
        vec!["Tue, 26 Feb 2019 16:48:37 GMT"]
    );
    assert_eq!(recs[2].request.route.as_deref(), Some("/echo"));

    let Some(raw) = realworld("ericallam_truncated.test_1.json") else {
        return;
    };
    let (recs, _) = decode(&raw);
    let r = &recs[0];
    assert!(r.flags.partial, "the request header map was cut");
    assert!(r.flags.body_truncated, "the response body line was cut");
    assert!(r.response.body.as_ref().unwrap().truncated);
    assert!(!r.request.body.as_ref().unwrap().truncated);

    let Some(raw) = realworld("tmobile-jazz_apigateway-execution.json") else {
        return;
    };
    let (recs, _) = decode(&raw);
    assert_eq!(recs.len(), 2);
    for r in &recs {
        assert_eq!(r.request.path.as_deref(), Some("/api/jazz/apilinter"));
        assert_eq!(r.request.route.as_deref(), Some("/jazz/apilinter"));
        assert_eq!(r.response.status, Some(200));
        assert!(r.flags.discovery_only);
    }
    assert_eq!(recs[0].response.latency_ms, Some(209));
}

#[test]
fn a_request_cut_off_by_its_payload_is_kept_as_partial() {
    let Some(raw) = realworld("datadog_integration_cloudwatch_log_apigateway.json") else {
        return;
    };
    let (recs, s) = decode(&raw);
    assert_eq!(recs.len(), 1);
    assert_eq!(s.requests_incomplete, 1);
    let r = &recs[0];
    assert!(r.flags.partial);
    let e = r.execution.as_ref().unwrap();
    assert!(!e.complete);
    assert_eq!(e.lines.len(), 3, "the fragment's lines travel with it");
    assert!(e.lines[2].message.contains("API Key  authorized"));
    assert_eq!(r.request.route.as_deref(), Some("/event"));
}

fn generated(
    logs: LogKind,
    requests: u64,
    seed: u64,
) -> Vec<apigw_stream::control::generate::Payload> {
    Generator::new(GenerateOptions {
        requests,
        seed,
        logs,
        ..GenerateOptions::default()
    })
    .collect()
}

/// Check a decoded record against the generator's truth.
fn check(r: &Transaction, e: &Expected, max_body: usize) {
    let id = &e.request_id;
    assert_eq!(r.request.method.as_deref(), Some(e.method.as_str()), "{id}");
    assert_eq!(r.response.status, Some(e.status), "{id}");
    let ex = r.execution.as_ref().unwrap();
    assert!(ex.complete, "{id}");
    assert_eq!(ex.throttled, e.scenario == Scenario::Throttled, "{id}");
    assert_eq!(
        ex.authorizer_denied,
        e.scenario == Scenario::AuthorizerDenied,
        "{id}"
    );
    assert_eq!(
        ex.error.is_some(),
        matches!(
            e.scenario,
            Scenario::Throttled
                | Scenario::MalformedProxy
                | Scenario::LambdaTimeout
                | Scenario::IntegrationTimeout
        ),
        "{id}"
    );
    if e.scenario == Scenario::Throttled {
        // Rejected before the method request is logged: the throttle line names the method only.
        return;
    }
    assert_eq!(r.request.path.as_deref(), Some(e.path.as_str()), "{id}");
    if e.scenario == Scenario::AuthorizerDenied {
        // The authorizer's `methodArn` gave method and path; no headers or body were logged.
        return;
    }
    assert!(!r.flags.discovery_only, "{id}");
    assert_eq!(r.request.route.as_deref(), Some(e.route.as_str()), "{id}");
    assert_eq!(r.request.query, e.query, "{id}");
    assert_eq!(
        r.request.client_ip.as_deref(),
        Some(e.client_ip.as_str()),
        "{id}"
    );
    if !e.request_headers_cut {
        let mut want: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in &e.request_headers {
            let v = match k.to_ascii_lowercase().as_str() {
                "authorization" | "cookie" | "x-api-key" => "[REDACTED]".to_string(),
                _ => v.clone(),
            };
            want.entry(k.to_ascii_lowercase()).or_default().push(v);
        }
        assert_eq!(r.request.headers, want, "{id}");
        assert!(!r.flags.partial, "{id}");
    } else {
        assert!(r.flags.partial, "{id}");
        // What survived the cut is a prefix of the headers, in order; the first ones are whole.
        assert_eq!(
            r.request.headers["accept"],
            vec![e.request_headers[0].1.clone()],
            "{id}"
        );
    }
    check_body(
        r.request.body.as_ref(),
        e.request_body.as_deref(),
        e.request_body_cut,
        max_body,
        id,
    );
    check_body(
        r.response.body.as_ref(),
        e.response_body.as_deref(),
        e.response_body_cut,
        max_body,
        id,
    );
    let any_cut = [&r.request.body, &r.response.body]
        .into_iter()
        .flatten()
        .any(|b| b.truncated);
    assert_eq!(r.flags.body_truncated, any_cut, "{id}");
}

fn check_body(
    got: Option<&apigw_stream::transaction::Body>,
    want: Option<&str>,
    cut: bool,
    max: usize,
    id: &str,
) {
    match (got, want) {
        (None, None) => {}
        (Some(g), Some(w)) => {
            let expect_cut = cut || w.len() > max;
            assert_eq!(g.truncated, expect_cut, "{id}: truncation flag");
            if expect_cut {
                assert!(w.starts_with(&g.data) && g.data.len() < w.len(), "{id}");
                assert!(!g.data.is_empty(), "{id}: a cut body keeps what was logged");
            } else {
                assert_eq!(g.data, w, "{id}");
            }
        }
        (g, w) => panic!("{id}: body {g:?} expected {w:?}"),
    }
}

fn check_payloads(logs: LogKind, requests: u64, seed: u64, opts: &DecodeOptions) -> DecodeStats {
    let payloads = generated(logs, requests, seed);
    let mut total = DecodeStats::default();
    let mut seen = 0;
    for p in &payloads {
        let (recs, s) = decode_with(&p.event, opts);
        total.add(&s);
        assert_eq!(s.requests_incomplete, 0);
        assert_eq!(s.lines_unparsed, 0);
        assert_eq!(s.execution_lines as usize, p.log_events);
        let by_id: BTreeMap<&str, &Transaction> = recs.iter().map(|r| (r.id.as_str(), r)).collect();
        assert_eq!(by_id.len(), recs.len(), "one record per request id");
        // A throttled request never logs its path, so the static-file filter cannot see it,
        // unless the 1 MB delivery names its resource path beside the lines.
        let kept: Vec<&Expected> = p
            .expected
            .iter()
            .filter(|e| {
                !e.is_static || (e.scenario == Scenario::Throttled && logs != LogKind::Delivery)
            })
            .collect();
        assert_eq!(recs.len(), kept.len());
        assert_eq!(
            s.filtered_static_file as usize,
            p.expected.len() - kept.len()
        );
        for e in kept {
            let r = by_id
                .get(e.request_id.as_str())
                .unwrap_or_else(|| panic!("no record for {}", e.request_id));
            check(r, e, opts.max_body_bytes);
            seen += 1;
        }
    }
    assert_eq!(
        payloads.iter().map(|p| p.events()).sum::<usize>() as u64,
        requests
    );
    assert!(seen > 0);
    total
}

#[test]
fn generated_standard_execution_logs_decode_to_the_truth() {
    let s = check_payloads(LogKind::Execution, 1_500, 5, &DecodeOptions::default());
    assert!(
        s.execution_lines_other > 0,
        "authorizer lines of kinds the parser does not name"
    );
}

#[test]
fn generated_delivery_events_decode_to_the_truth_with_bodies_capped() {
    let opts = DecodeOptions {
        max_body_bytes: 64 * 1024,
        ..DecodeOptions::default()
    };
    check_payloads(LogKind::Delivery, 400, 9, &opts);
}

#[test]
fn generated_mix_covers_every_scenario_and_line_kind() {
    let payloads = generated(LogKind::Execution, 2_000, 3);
    let scenarios: BTreeSet<String> = payloads
        .iter()
        .flat_map(|p| &p.expected)
        .map(|e| format!("{:?}", e.scenario))
        .collect();
    assert_eq!(scenarios.len(), 7, "{scenarios:?}");
    let cut = payloads
        .iter()
        .flat_map(|p| &p.expected)
        .filter(|e| e.request_body_cut || e.response_body_cut)
        .count();
    assert!(cut > 10);
}
