//! Golden tests of the collector encoders: `tests/golden/bridge/records.ndjson` (canonical
//! records) → `uap.ndjson` / `ndjson.ndjson`, byte for byte. `UPDATE_GOLDEN=1` rewrites the
//! expected files (review the diff before committing).

use std::path::PathBuf;

use apigw_stream::ship::bridge::receiver::{validate_ndjson, validate_uap};
use apigw_stream::ship::bridge::window::{encode_record, plan_windows, window_body};
use apigw_stream::ship::bridge::Format;
use apigw_stream::transaction::Transaction;
use base64::Engine as _;

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/bridge")
}

fn records() -> Vec<Transaction> {
    let text = std::fs::read_to_string(golden_dir().join("records.ndjson")).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn check(format: Format, file: &str) {
    let mut out = Vec::new();
    for r in records() {
        let mut line = format.encode(&r);
        if line.last() != Some(&b'\n') {
            line.push(b'\n');
        }
        out.extend(line);
    }
    // The crate version goes into `source_info.version`; keep the golden file stable across releases.
    let version = format!("\"version\":\"{}\"", env!("CARGO_PKG_VERSION"));
    let out = String::from_utf8(out)
        .unwrap()
        .replace(&version, "\"version\":\"{CRATE_VERSION}\"");
    let path = golden_dir().join(file);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &out).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap();
    assert_eq!(out, expected, "{file} differs (UPDATE_GOLDEN=1 to rewrite)");
}

#[test]
fn uap_golden() {
    check(Format::Uap, "uap.ndjson");
}

#[test]
fn ndjson_golden() {
    check(Format::Ndjson, "ndjson.ndjson");
}

#[test]
fn ndjson_round_trips_the_canonical_record() {
    for r in records() {
        let line = Format::Ndjson.encode(&r);
        let back: Transaction = serde_json::from_slice(&line).unwrap();
        assert_eq!(back, r);
    }
}

#[test]
fn uap_fields_carry_the_record() {
    let recs = records();
    let v: serde_json::Value = serde_json::from_slice(&Format::Uap.encode(&recs[1])).unwrap();
    assert_eq!(v["timestamp"], "1700000000.123");
    assert_eq!(v["version"], "1.0");
    assert_eq!(v["transaction-id"], "Kp3JhG1aIAMEbXw=");
    assert_eq!(v["request"]["http-method"], "POST");
    assert_eq!(v["request"]["http-version"], "2.0");
    assert_eq!(
        v["request"]["uri-query-fragment"],
        "/orders?dry_run=true&x=%20"
    );
    assert_eq!(v["response"]["status-code"], "201");
    let b64 = base64::engine::general_purpose::STANDARD;
    // Multi-valued header: one entry per value, value base64.
    let accept: Vec<String> = v["request"]["headers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h.as_str()?.strip_prefix("accept:").map(str::to_string))
        .map(|b| String::from_utf8(b64.decode(b).unwrap()).unwrap())
        .collect();
    assert_eq!(accept, ["application/json", "text/plain"]);
    // utf8 body: length counts bytes (é is two).
    let body = &v["request"]["body"];
    assert_eq!(body["length"], 23);
    assert_eq!(
        b64.decode(body["data"].as_str().unwrap()).unwrap(),
        "{\"sku\":\"é-42\",\"qty\":2}".as_bytes()
    );
    // base64 body is passed through, length is of the raw bytes.
    assert_eq!(
        v["response"]["body"],
        serde_json::json!({"length": 4, "data": "3q2+7w=="})
    );
    assert_eq!(
        v["txn-meta-data"]["source_info"]["instance_id"],
        "a1b2c3d4e5/$default"
    );

    // Discovery-only and truncated markers.
    let a: serde_json::Value = serde_json::from_slice(&Format::Uap.encode(&recs[0])).unwrap();
    assert!(a["request"]["headers"]
        .as_array()
        .unwrap()
        .contains(&"cq-discovery-only:dHJ1ZQ==".into()));
    let c: serde_json::Value = serde_json::from_slice(&Format::Uap.encode(&recs[2])).unwrap();
    assert!(c["response"]["headers"]
        .as_array()
        .unwrap()
        .contains(&"cq-body-truncated:dHJ1ZQ==".into()));
    assert_eq!(
        b64.decode(c["response"]["body"]["data"].as_str().unwrap())
            .unwrap(),
        br#"{"cq_body_truncated":"true"}"#
    );
}

#[test]
fn windows_of_both_formats_pass_the_receivers_validation() {
    let recs = records();
    for format in [Format::Uap, Format::Ndjson] {
        let encoded: Vec<_> = recs
            .iter()
            .enumerate()
            .map(|(i, r)| encode_record(format, r, i, 1_000_000))
            .collect();
        let windows = plan_windows(&encoded, format, 1_000_000);
        assert_eq!(windows, vec![0..3]);
        let body = window_body(&encoded, format);
        let ids = match format {
            Format::Uap => validate_uap(&body),
            Format::Ndjson => validate_ndjson(&body),
        }
        .unwrap();
        let want: Vec<String> = recs.iter().map(|r| r.id.clone()).collect();
        assert_eq!(ids, want);
    }
}
