//! Helpers shared by the shipper and bridge tests (with `mod common;`): canonical records, SQS
//! frames, a shipper pointed at an in-process receiver.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use apigw_stream::ship::bridge::auth::{Auth, AuthMethod, TokenSource};
use apigw_stream::ship::bridge::client::{http_client, BridgeClient, ClientConfig};
use apigw_stream::ship::bridge::receiver::{Receiver, ReceiverConfig};
use apigw_stream::ship::bridge::{Format, Secret, SecretSource};
use apigw_stream::ship::Shipper;
use apigw_stream::transaction::Transaction;
use apigw_stream::transport::queue::InMessage;

pub use crate::common::fixtures::{frame, txn};

pub const CLIENT_ID: &str = "apigw-stream-test";
pub const CLIENT_SECRET: &str = "s3cr3t-Zq8vW2-never-log-me";

/// `counts[m]` records in message `m`; record ids are unique across the batch.
pub fn batch(counts: &[usize]) -> (Vec<InMessage>, Vec<Vec<String>>) {
    let mut next = 0;
    let mut messages = Vec::new();
    let mut ids = Vec::new();
    for (m, &n) in counts.iter().enumerate() {
        let records: Vec<Transaction> = (next..next + n).map(txn).collect();
        next += n;
        ids.push(records.iter().map(|r| r.id.clone()).collect());
        messages.push(InMessage::new(format!("msg-{m:04}"), frame(&records)));
    }
    (messages, ids)
}

pub async fn receiver(config: ReceiverConfig) -> Receiver {
    let config = ReceiverConfig {
        client_id: Some(CLIENT_ID.into()),
        client_secret: Some(Secret::new(CLIENT_SECRET)),
        ..config
    };
    Receiver::start("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap()
}

pub struct Opts {
    pub format: Format,
    pub window_bytes: usize,
    pub concurrency: usize,
    pub gzip: bool,
    pub request_timeout: Duration,
    pub margin: Duration,
    pub secret: &'static str,
    pub method: AuthMethod,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            format: Format::Uap,
            window_bytes: 1_000_000,
            concurrency: 4,
            gzip: false,
            request_timeout: Duration::from_secs(5),
            margin: Duration::from_millis(300),
            secret: CLIENT_SECRET,
            method: AuthMethod::Body,
        }
    }
}

/// A shipper for `rx` with OAuth2 against its token endpoint; short backoffs keep tests quick.
pub fn shipper(rx: &Receiver, o: Opts) -> Shipper {
    let config = ClientConfig {
        request_timeout: o.request_timeout,
        deadline_margin: o.margin,
        base_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
        max_retry_after: Duration::from_secs(2),
        gzip: o.gzip,
        allow_insecure_http: true,
    };
    let http = http_client(&config).unwrap();
    let tokens = TokenSource::new(
        http.clone(),
        rx.token_url(),
        CLIENT_ID,
        SecretSource::Static(Secret::new(o.secret)),
        o.method,
        o.request_timeout,
    );
    let client = BridgeClient::new(
        http,
        &rx.transactions_url(),
        Arc::new(Auth::OAuth(Box::new(tokens))),
        o.format,
        config,
    )
    .unwrap();
    Shipper::new(client, o.window_bytes, o.concurrency)
}

pub fn deadline(secs: u64) -> Instant {
    Instant::now() + Duration::from_secs(secs)
}

/// Sorted copy, for comparing id sets.
pub fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}
