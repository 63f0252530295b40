//! The shipper benchmarks, shared by `ship` (mimalloc, as the Lambdas run) and `ship_system_alloc`:
//! `ship`: unpack → encode → window for a batch of 10 SQS messages of 1,000 records each (no
//! network), in both formats; and `ship_loopback`: the same batch POSTed to the in-process
//! receiver over 127.0.0.1 (records/s to a local collector).

use std::sync::Arc;
use std::time::{Duration, Instant};

use apigw_stream::ship::bridge::auth::{Auth, AuthMethod, TokenSource};
use apigw_stream::ship::bridge::client::{http_client, BridgeClient, ClientConfig};
use apigw_stream::ship::bridge::receiver::{Receiver, ReceiverConfig};
use apigw_stream::ship::bridge::window::{plan_windows, window_body};
use apigw_stream::ship::bridge::{Format, Secret, SecretSource};
use apigw_stream::ship::{ShipStats, Shipper, DEFAULT_WINDOW_BYTES};
use apigw_stream::transaction::Transaction;
use apigw_stream::transport::queue::InMessage;
use criterion::{Criterion, Throughput};

#[path = "../../tests/common/fixtures.rs"]
mod fixtures;

const MESSAGES: usize = 10;
const PER_MESSAGE: usize = 1000;

/// The test fixture's record, with a browser's longer `user-agent`.
fn txn(i: usize) -> Transaction {
    fixtures::txn_with_agent(i, "Mozilla/5.0 (X11; Linux x86_64) curl/8.4.0")
}

fn messages() -> Vec<InMessage> {
    (0..MESSAGES)
        .map(|m| {
            InMessage::new(
                format!("m{m}"),
                fixtures::frame(
                    &(m * PER_MESSAGE..(m + 1) * PER_MESSAGE)
                        .map(txn)
                        .collect::<Vec<_>>(),
                ),
            )
        })
        .collect()
}

fn shipper(bridge: &str, token_url: &str, format: Format) -> Shipper {
    let config = ClientConfig {
        allow_insecure_http: true,
        ..ClientConfig::default()
    };
    let http = http_client(&config).unwrap();
    let tokens = TokenSource::new(
        http.clone(),
        token_url,
        "bench",
        SecretSource::Static(Secret::new("bench")),
        AuthMethod::Body,
        Duration::from_secs(5),
    );
    let client = BridgeClient::new(
        http,
        bridge,
        Arc::new(Auth::OAuth(Box::new(tokens))),
        format,
        config,
    )
    .unwrap();
    Shipper::new(client, DEFAULT_WINDOW_BYTES, 4)
}

pub fn bench_ship(c: &mut Criterion, allocator: &str) {
    let batch = messages();
    let mut group = c.benchmark_group(format!("ship/{allocator}"));
    group.throughput(Throughput::Elements((MESSAGES * PER_MESSAGE) as u64));
    for format in [Format::Uap, Format::Ndjson] {
        let s = shipper(
            "https://edge.invalid/api-transactions",
            "https://auth.invalid/token",
            format,
        );
        group.bench_function(format!("unpack_encode_window/{format}"), |b| {
            b.iter(|| {
                let mut stats = ShipStats::default();
                let (records, _) = s.encode_batch(&batch, &mut stats);
                let mut bytes = 0;
                for w in plan_windows(&records, format, DEFAULT_WINDOW_BYTES) {
                    bytes += window_body(&records[w], format).len();
                }
                bytes
            })
        });
    }
    group.finish();
}

pub fn bench_loopback(c: &mut Criterion, allocator: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let rx = rt
        .block_on(Receiver::start(
            "127.0.0.1:0".parse().unwrap(),
            ReceiverConfig::default(),
        ))
        .unwrap();
    let batch = messages();
    let mut group = c.benchmark_group(format!("ship_loopback/{allocator}"));
    group.throughput(Throughput::Elements((MESSAGES * PER_MESSAGE) as u64));
    group.sample_size(20);
    for format in [Format::Uap, Format::Ndjson] {
        let s = shipper(&rx.transactions_url(), &rx.token_url(), format);
        group.bench_function(format!("to_receiver/{format}"), |b| {
            b.iter(|| {
                let report = rt.block_on(s.ship(&batch, Instant::now() + Duration::from_secs(60)));
                assert!(report.failed.is_empty());
                report.stats.records_delivered
            })
        });
    }
    group.finish();
}
