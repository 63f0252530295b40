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
use apigw_stream::transaction::{ApiKind, Source, SourceFormat, Transaction};
use apigw_stream::transport::queue::InMessage;
use criterion::{Criterion, Throughput};

const MESSAGES: usize = 10;
const PER_MESSAGE: usize = 1000;

fn txn(i: usize) -> Transaction {
    let mut t = Transaction::new(
        format!("48752d0f-c99d-4cfa-a5a7-{i:012}"),
        1_686_411_388_000 + i as i64,
        Source {
            log_group: "/aws/apigateway/petstore-prod".into(),
            log_stream: "9b3b6a3f3c1e4b6f8e2d7a5c4b3a2f1e".into(),
            event_id: format!("3747628839291740923847561928374650192837465019283{i:05}"),
            format: SourceFormat::AccessJson,
        },
    );
    t.api.kind = ApiKind::Rest;
    t.api.id = Some("asad15n3p0".into());
    t.api.stage = Some("prod".into());
    t.api.account = Some("123456789012".into());
    t.api.region = Some("us-east-1".into());
    t.api.domain = Some("asad15n3p0.execute-api.us-east-1.amazonaws.com".into());
    t.request.method = Some("GET".into());
    t.request.scheme = Some("https".into());
    t.request.host = t.api.domain.clone();
    t.request.path = Some(format!("/pets/{i}"));
    t.request.route = Some("/pets/{petId}".into());
    t.request.protocol = Some("HTTP/1.1".into());
    t.request.client_ip = Some("1.128.0.0".into());
    t.request.headers.insert(
        "user-agent".into(),
        vec!["Mozilla/5.0 (X11; Linux x86_64) curl/8.4.0".into()],
    );
    t.response.status = Some(200);
    t.response.length = Some(48);
    t.response.latency_ms = Some(31);
    t.response.integration_latency_ms = Some(27);
    t
}

// The queue frame encoding, ndjson+gzip+base64 (as decode's frame::pack writes it).
fn frame(records: &[Transaction]) -> String {
    let mut frames = apigw_stream::transport::frame::pack(
        records,
        apigw_stream::transport::queue::MAX_MESSAGE_BYTES,
    )
    .unwrap();
    assert_eq!(
        frames.len(),
        1,
        "these records should fit one queue message"
    );
    frames.remove(0).body
}

fn messages() -> Vec<InMessage> {
    (0..MESSAGES)
        .map(|m| {
            InMessage::new(
                format!("m{m}"),
                frame(
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
