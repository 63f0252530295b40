//! Helpers for the stitching tests: execution-log payloads with requests cut across two
//! payloads (the generator's truth says which), a shuffle, a Bridge receiver that keeps what it
//! accepted, and the records it got.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use apigw_stream::control::generate::{
    Expected, GenerateOptions, Generator, LogKind, Payload, Scenario,
};
use apigw_stream::ship::bridge::receiver::{Receiver, ReceiverConfig};
use apigw_stream::ship::bridge::Secret;
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

/// A FIFO queue on moto's server made faithful to SQS's FIFO rules where moto 5.2 is not:
/// - group exclusivity across concurrent receives: moto computes the groups in flight once per
///   long poll, so two concurrent polls can hand out a group already in flight. Receives here are
///   one at a time (SQS serves a receive atomically), so every poll sees the groups in flight.
/// - a group's visible messages together: moto fills a batch message by message and may stop in
///   the middle of a group. When a batch is full, the messages of its last group go back
///   (visibility 0) unless that group fills the batch by itself, so a group is never served cut
///   while room remains in a later batch.
///
/// Everything else (visibility, deduplication, redrive, attributes) is moto's.
pub struct FaithfulFifo {
    pub inner: apigw_stream::transport::queue::SqsQueue,
    receiving: tokio::sync::Mutex<()>,
}

impl FaithfulFifo {
    pub fn new(inner: apigw_stream::transport::queue::SqsQueue) -> Self {
        FaithfulFifo {
            inner,
            receiving: tokio::sync::Mutex::new(()),
        }
    }
}

#[async_trait::async_trait]
impl apigw_stream::transport::queue::Queue for FaithfulFifo {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn send_batch(
        &self,
        entries: &[apigw_stream::transport::queue::OutMessage],
    ) -> Result<
        Vec<apigw_stream::transport::queue::EntryFailure>,
        apigw_stream::transport::queue::QueueError,
    > {
        self.inner.send_batch(entries).await
    }

    async fn send_fifo_batch(
        &self,
        entries: &[apigw_stream::transport::queue::FifoMessage],
    ) -> Result<
        Vec<apigw_stream::transport::queue::EntryFailure>,
        apigw_stream::transport::queue::QueueError,
    > {
        self.inner.send_fifo_batch(entries).await
    }

    async fn receive(
        &self,
        max: usize,
        wait: std::time::Duration,
        visibility: std::time::Duration,
    ) -> Result<
        Vec<apigw_stream::transport::queue::InMessage>,
        apigw_stream::transport::queue::QueueError,
    > {
        let _one_at_a_time = self.receiving.lock().await;
        let mut got = self.inner.receive(max, wait, visibility).await?;
        if got.len() >= max {
            let last = got.last().and_then(|m| m.group_id.clone());
            let whole_batch = got.iter().all(|m| m.group_id == last);
            if last.is_some() && !whole_batch {
                let (keep, back): (Vec<_>, Vec<_>) =
                    got.into_iter().partition(|m| m.group_id != last);
                for m in &back {
                    self.inner
                        .change_visibility(&m.receipt_handle, std::time::Duration::ZERO)
                        .await?;
                }
                got = keep;
            }
        }
        Ok(got)
    }

    async fn delete(
        &self,
        receipt_handles: &[String],
    ) -> Result<(), apigw_stream::transport::queue::QueueError> {
        self.inner.delete(receipt_handles).await
    }

    async fn change_visibility(
        &self,
        receipt_handle: &str,
        timeout: std::time::Duration,
    ) -> Result<(), apigw_stream::transport::queue::QueueError> {
        self.inner.change_visibility(receipt_handle, timeout).await
    }

    async fn approximate_len(&self) -> Result<usize, apigw_stream::transport::queue::QueueError> {
        self.inner.approximate_len().await
    }
}

/// An access-log payload (the recommended JSON format) for the requests of an execution-log
/// payload: the same request ids, another client address and a total latency of its own.
pub fn access_payload(p: &apigw_stream::control::generate::Payload, n: usize) -> Vec<u8> {
    let (api, stage) = p
        .log_group
        .strip_prefix("API-Gateway-Execution-Logs_")
        .and_then(|s| s.split_once('/'))
        .expect("an execution log group");
    let events: Vec<serde_json::Value> = p
        .expected
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let line = serde_json::json!({
                "requestId": e.request_id,
                "requestTimeEpoch": (1_717_200_000_000u64 + i as u64).to_string(),
                "httpMethod": e.method,
                "path": e.path,
                "resourcePath": e.route,
                "protocol": "HTTP/1.1",
                "status": e.status.to_string(),
                "responseLength": "321",
                "responseLatency": "1234",
                "ip": format!("198.51.100.{}", i % 250),
                "userAgent": "curl/8.4.0",
                "apiId": api,
                "stage": stage,
            });
            serde_json::json!({
                "id": format!("{n}{i:08}"),
                "timestamp": 1_717_200_000_000u64 + i as u64,
                "message": line.to_string(),
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": format!("/aws/apigateway/{api}-{stage}-access"),
        "logStream": "access",
        "subscriptionFilters": [format!("apigw-stream/rest/{api}/{stage}")],
        "logEvents": events,
    }))
    .unwrap()
}

/// The `{api-id}/{stage}` of every stage of the generated execution logs (`JOIN_STAGES`).
pub fn joined_stages(exec: &[apigw_stream::control::generate::Payload]) -> Vec<String> {
    let stages: std::collections::BTreeSet<String> = exec
        .iter()
        .filter_map(|p| {
            let (api, stage) = p
                .log_group
                .strip_prefix("API-Gateway-Execution-Logs_")
                .and_then(|s| s.split_once('/'))?;
            Some(format!("{api}/{stage}"))
        })
        .collect();
    stages.into_iter().collect()
}
