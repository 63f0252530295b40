//! Helpers for the stitching tests: execution-log payloads with requests cut across two
//! payloads (the generator's truth says which), a shuffle, a Bridge receiver that keeps what it
//! accepted, and the records it got.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use apigw_stream::bridge::receiver::{Receiver, ReceiverConfig};
use apigw_stream::bridge::Secret;
use apigw_stream::generate::{Expected, GenerateOptions, Generator, LogKind, Payload, Scenario};
use apigw_stream::transaction::Transaction;

pub const CLIENT_ID: &str = "e2e-client";
pub const CLIENT_SECRET: &str = "e2e-secret-do-not-log";

/// Execution-log payloads where `fraction` of the requests are cut across two payloads.
pub fn split_payloads(requests: u64, seed: u64, fraction: f64) -> Vec<Payload> {
    Generator::new(GenerateOptions {
        requests,
        seed,
        start_ms: None,
        max_batch_bytes: 32 * 1024,
        compression: 1,
        logs: LogKind::Execution,
        split_fraction: fraction,
        ..GenerateOptions::default()
    })
    .collect()
}

/// A deterministic shuffle (Fisher-Yates over a small LCG).
pub fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut x = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    for i in (1..items.len()).rev() {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let j = ((x >> 33) % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

/// The generator's account of what it wrote.
pub struct Truth {
    /// Every request id, with what it should decode to.
    pub expected: HashMap<String, Expected>,
    /// Requests for static files (the default filter drops them).
    pub static_files: HashSet<String>,
    /// Requests cut across two payloads.
    pub split: HashSet<String>,
}

impl Truth {
    pub fn of(payloads: &[Payload]) -> Truth {
        let expected: HashMap<String, Expected> = payloads
            .iter()
            .flat_map(|p| p.expected.iter().cloned())
            .map(|e| (e.request_id.clone(), e))
            .collect();
        let ids = payloads.iter().map(|p| p.request_ids.len()).sum::<usize>();
        assert_eq!(expected.len(), ids, "each request id listed once");
        Truth {
            expected,
            static_files: payloads
                .iter()
                .flat_map(|p| p.static_request_ids.iter().cloned())
                .collect(),
            split: payloads
                .iter()
                .flat_map(|p| p.split_request_ids.iter().cloned())
                .collect(),
        }
    }

    /// Ids the Bridge must get: all but the static files (a throttled request never logs its
    /// path, so the static-file filter cannot see it).
    pub fn deliverable(&self) -> HashSet<String> {
        self.expected
            .values()
            .filter(|e| {
                !self.static_files.contains(&e.request_id) || e.scenario == Scenario::Throttled
            })
            .map(|e| e.request_id.clone())
            .collect()
    }
}

/// A receiver writing accepted windows to `out`.
pub async fn receiver(out: &Path) -> Arc<Receiver> {
    let config = ReceiverConfig {
        client_id: Some(CLIENT_ID.into()),
        client_secret: Some(Secret::new(CLIENT_SECRET)),
        out_dir: Some(out.to_path_buf()),
        ..ReceiverConfig::default()
    };
    Arc::new(
        Receiver::start(([127, 0, 0, 1], 0).into(), config)
            .await
            .expect("start the receiver"),
    )
}

/// The canonical records in the ndjson windows the receiver wrote.
pub fn received_records(out: &Path) -> Vec<Transaction> {
    let mut out_records = Vec::new();
    for entry in std::fs::read_dir(out).expect("read the receiver's directory") {
        let path = entry.expect("dir entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("ndjson") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read a window");
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            out_records.push(serde_json::from_str(line).expect("a canonical record"));
        }
    }
    out_records
}

/// Each id the receiver accepted, with how many times.
pub fn counts(ids: impl IntoIterator<Item = String>) -> HashMap<String, usize> {
    let mut c = HashMap::new();
    for id in ids {
        *c.entry(id).or_insert(0) += 1;
    }
    c
}

/// Every deliverable id exactly once, nothing else.
pub fn assert_exactly_once(truth: &Truth, accepted: &HashMap<String, usize>) {
    let want = truth.deliverable();
    let missing: Vec<&String> = want
        .iter()
        .filter(|id| !accepted.contains_key(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} ids never reached the Bridge (e.g. {:?}; {} of them split)",
        missing.len(),
        missing.iter().take(3).collect::<Vec<_>>(),
        missing
            .iter()
            .filter(|id| truth.split.contains(**id))
            .count()
    );
    let twice: Vec<(&String, &usize)> = accepted.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "ids delivered more than once: {twice:?}");
    let extra: Vec<(&String, String, bool)> = accepted
        .keys()
        .filter(|id| !want.contains(*id))
        .map(|id| {
            let e = truth.expected.get(id);
            (
                id,
                e.map(|e| format!("{} {:?}", e.path, e.scenario))
                    .unwrap_or_default(),
                truth.split.contains(id),
            )
        })
        .collect();
    assert!(extra.is_empty(), "ids that should not be there: {extra:?}");
}

/// The record is the whole request: status, request headers and response body together.
pub fn assert_whole(r: &Transaction, e: &Expected) {
    let id = &e.request_id;
    assert_eq!(r.response.status, Some(e.status), "{id}: status");
    let ex = r.execution.as_ref().expect("an execution record");
    assert!(ex.complete && ex.lines.is_empty(), "{id}: complete");
    assert_eq!(r.flags.partial, e.request_headers_cut, "{id}: partial");
    if matches!(e.scenario, Scenario::Throttled | Scenario::AuthorizerDenied) {
        return;
    }
    assert_eq!(r.request.method.as_deref(), Some(e.method.as_str()), "{id}");
    assert_eq!(r.request.path.as_deref(), Some(e.path.as_str()), "{id}");
    assert!(!r.request.headers.is_empty(), "{id}: request headers");
    assert_eq!(
        r.response.body.is_some(),
        e.response_body.is_some(),
        "{id}: response body"
    );
    if let (Some(got), Some(want)) = (&r.response.body, &e.response_body) {
        if !got.truncated {
            assert_eq!(&got.data, want, "{id}: response body");
        }
    }
}
