//! Helpers for the end-to-end tests: synthetic payloads with their expected ids, an in-process
//! Bridge receiver with faults, a shipper configured like the Lambda, pipeline options with short
//! timeouts.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use apigw_stream::control::generate::{GenerateOptions, Generator, Payload};
use apigw_stream::control::pipeline::{Input, PipelineOptions};
use apigw_stream::ship::bridge::receiver::{Faults, Receiver, ReceiverConfig};
use apigw_stream::ship::bridge::Secret;
use apigw_stream::ship::{ShipConfig, Shipper};
use tokio::sync::mpsc;

pub const CLIENT_ID: &str = "e2e-client";
pub const CLIENT_SECRET: &str = "e2e-secret-do-not-log";

/// `requests` synthetic requests in payloads of at most `batch_bytes` of LogData.
pub fn payloads(requests: u64, seed: u64, batch_bytes: usize) -> Vec<Payload> {
    Generator::new(GenerateOptions {
        requests,
        seed,
        start_ms: None,
        max_batch_bytes: batch_bytes,
        compression: 1,
        ..GenerateOptions::default()
    })
    .collect()
}

/// What the pipeline must do, from the generator's own account of what it wrote (not from
/// decoding the same bytes): every request is delivered except the static-file requests, which
/// the default filters drop. Generated lines all parse.
pub struct Expected {
    pub delivered: HashSet<String>,
    pub static_files: HashSet<String>,
    pub requests: u64,
}

pub fn expected(payloads: &[Payload]) -> Expected {
    let static_files: HashSet<String> = payloads
        .iter()
        .flat_map(|p| p.static_request_ids.iter().cloned())
        .collect();
    let all: Vec<&String> = payloads.iter().flat_map(|p| &p.request_ids).collect();
    let delivered: HashSet<String> = all
        .iter()
        .filter(|id| !static_files.contains(**id))
        .map(|id| id.to_string())
        .collect();
    assert_eq!(
        delivered.len() + static_files.len(),
        all.len(),
        "generated request ids are unique"
    );
    Expected {
        delivered,
        static_files,
        requests: all.len() as u64,
    }
}

pub fn input(p: &Payload, i: usize) -> Input {
    Input {
        name: format!("payload #{i}"),
        bytes: p.event.clone(),
        logged_ms: Some(p.logged_ms),
    }
}

/// A closed channel holding `payloads` as inputs.
pub fn inputs(payloads: &[Payload]) -> mpsc::Receiver<Input> {
    let (tx, rx) = mpsc::channel(payloads.len().max(1));
    for (i, p) in payloads.iter().enumerate() {
        tx.try_send(input(p, i))
            .expect("channel sized for every payload");
    }
    rx
}

pub async fn receiver(faults: Faults) -> Arc<Receiver> {
    let config = ReceiverConfig {
        client_id: Some(CLIENT_ID.into()),
        client_secret: Some(Secret::new(CLIENT_SECRET)),
        out_dir: None,
        no_auth: false,
        faults,
    };
    Arc::new(
        Receiver::start(([127, 0, 0, 1], 0).into(), config)
            .await
            .expect("start the receiver"),
    )
}

/// A shipper for `receiver`, configured through the same settings the Lambda reads.
pub fn shipper(receiver: &Receiver, extra: &[(&str, &str)]) -> Arc<Shipper> {
    let mut env: HashMap<String, String> = [
        ("BRIDGE_URL", receiver.transactions_url()),
        ("AUTH_URL", receiver.token_url()),
        ("CLIENT_ID", CLIENT_ID.to_string()),
        ("CLIENT_SECRET", CLIENT_SECRET.to_string()),
        ("ALLOW_INSECURE_HTTP", "true".to_string()),
        ("REQUEST_TIMEOUT_MS", "2000".to_string()),
        ("DEADLINE_MARGIN_MS", "200".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for (k, v) in extra {
        env.insert(k.to_string(), v.to_string());
    }
    let config = ShipConfig::from_lookup(|k| env.get(k).cloned()).expect("shipper settings");
    Arc::new(Shipper::from_config(&config, None).expect("build the shipper"))
}

/// Short timeouts and small messages, so a few thousand records make many messages and windows.
pub fn fast_options(visibility: Duration) -> PipelineOptions {
    PipelineOptions {
        message_bytes: 16 * 1024,
        decode_workers: 2,
        shipper_workers: 3,
        receive_wait: Duration::from_millis(100),
        visibility_timeout: visibility,
        ship_timeout: visibility
            .saturating_sub(Duration::from_millis(500))
            .max(Duration::from_millis(500)),
        max_queued_messages: None,
        drain_timeout: Duration::from_secs(60),
        ..PipelineOptions::default()
    }
}

/// Every expected id is among the receiver's accepted ids.
pub fn assert_all_delivered(expected: &HashSet<String>, receiver: &Receiver) {
    let accepted: HashSet<String> = receiver.accepted_ids().into_iter().collect();
    let missing: Vec<&String> = expected
        .iter()
        .filter(|id| !accepted.contains(*id))
        .take(5)
        .collect();
    assert!(
        missing.is_empty(),
        "{} ids never reached the Bridge, e.g. {missing:?}",
        expected.iter().filter(|id| !accepted.contains(*id)).count()
    );
}

/// The receiver saw every expected id, and none of the ids that should have been filtered.
pub fn assert_delivered_exactly(expected: &Expected, receiver: &Receiver) {
    assert_all_delivered(&expected.delivered, receiver);
    let leaked: Vec<String> = receiver
        .accepted_ids()
        .into_iter()
        .filter(|id| expected.static_files.contains(id))
        .take(5)
        .collect();
    assert!(
        leaked.is_empty(),
        "static-file requests reached the Bridge: {leaked:?}"
    );
}
