//! Per-invocation figures of the release function binaries under the Runtime API harness: init
//! duration (process start → first `/next`), cold and warm invocation durations, and peak RSS
//! (VmHWM), on the largest inputs each function gets. Not a pass/fail test; run it by hand:
//!
//! ```sh
//! cargo test --test lambda_measure -- --ignored --nocapture
//! ```
//!
//! It runs the binaries of `cargo build --release -p apigw-stream-decode -p apigw-stream-shipper`
//! (or those in `APIGW_STREAM_FUNCTIONS_DIR`) and prints a Markdown table.
#![cfg(feature = "cli")]

mod common;
mod e2e_support;
mod lambda_support;

use std::io::Write;
use std::time::Duration;

use apigw_stream::control::generate::{GenerateOptions, Generator, Payload};
use apigw_stream::decode::{decode_bytes, DecodeOptions, DecodeStats};
use apigw_stream::ship::bridge::receiver::Faults;
use apigw_stream::transport::frame;
use base64::Engine;
use lambda_support::triggers::{create_queue, queue_depth};
use lambda_support::{moto, Function, FunctionSpec, Invocation, DECODE, SHIPPER};

const COLD_RUNS: usize = 3;
const WARM_RUNS: usize = 5;

struct Row {
    what: String,
    input: String,
    init_ms: Vec<f64>,
    cold_ms: Vec<f64>,
    warm_ms: Vec<f64>,
    rss_mib: Vec<f64>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::NAN, f64::max)
}

fn check(inv: &Invocation, what: &str) {
    assert!(!inv.outcome.is_error(), "{what}: {:?}", inv.outcome);
}

/// `COLD_RUNS` fresh environments, each invoked once cold and `WARM_RUNS` times warm.
async fn measure(
    spec: FunctionSpec,
    what: &str,
    input: String,
    event: &[u8],
    expect_error: bool,
) -> Row {
    let mut row = Row {
        what: what.to_string(),
        input,
        init_ms: vec![],
        cold_ms: vec![],
        warm_ms: vec![],
        rss_mib: vec![],
    };
    for _ in 0..COLD_RUNS {
        let mut f = Function::new(spec.clone()).await;
        let cold = f.invoke(event).await;
        if !expect_error {
            check(&cold, what);
        }
        row.init_ms.push(ms(cold.init.expect("a cold start")));
        row.cold_ms.push(ms(cold.duration));
        for _ in 0..WARM_RUNS {
            let warm = f.invoke(event).await;
            if !expect_error {
                check(&warm, what);
            }
            row.warm_ms.push(ms(warm.duration));
        }
        row.rss_mib
            .push(f.peak_rss_kib().unwrap_or(0) as f64 / 1024.0);
        f.assert_no_panic();
    }
    row
}

fn largest(opts: GenerateOptions) -> Payload {
    Generator::new(opts)
        .max_by_key(|p| p.event.len())
        .expect("a payload")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement: run by hand with --ignored --nocapture"]
async fn release_binaries_per_invocation() {
    if std::env::var_os("APIGW_STREAM_FUNCTIONS_DIR").is_none() {
        let exe = std::env::current_exe().unwrap();
        let release = exe.ancestors().nth(3).unwrap().join("release");
        assert!(
            release.join(DECODE).exists() && release.join(SHIPPER).exists(),
            "build them first: cargo build --release -p {DECODE} -p {SHIPPER}"
        );
        std::env::set_var("APIGW_STREAM_FUNCTIONS_DIR", &release);
    }
    let sqs = moto().sqs();
    let queue = create_queue(&sqs, "measure", 60, None).await;
    let mut rows = Vec::new();

    // decode: the largest subscription delivery (1 MB of LogData, CloudWatch Logs' batch limit),
    // frames of 1 MiB as the stacks set MESSAGE_BYTES.
    let decode = FunctionSpec::new(DECODE, "decode")
        .env("QUEUE_URL", &queue)
        .env("AWS_ENDPOINT_URL", &moto().endpoint)
        .env("MESSAGE_BYTES", "1048576")
        .env("LOG_LEVEL", "warn")
        .timeout(Duration::from_secs(60));
    let big = largest(GenerateOptions {
        requests: 30_000,
        seed: 7,
        ..GenerateOptions::default()
    });
    rows.push(
        measure(
            decode.clone(),
            "decode",
            format!(
                "largest subscription event: {} KB event, {} KB LogData, {} lines",
                big.event.len() / 1000,
                big.logdata_bytes / 1000,
                big.events()
            ),
            &big.event,
            false,
        )
        .await,
    );
    // decode, stress: an event near the 1 MB asynchronous-invocation limit (10,000 lines, more
    // LogData than CloudWatch Logs puts in one delivery).
    let stress = largest(GenerateOptions {
        requests: 30_000,
        seed: 8,
        max_batch_bytes: 8_000_000,
        ..GenerateOptions::default()
    });
    rows.push(
        measure(
            decode.clone(),
            "decode",
            format!(
                "stress: {} KB event, {} KB LogData, {} lines",
                stress.event.len() / 1000,
                stress.logdata_bytes / 1000,
                stress.events()
            ),
            &stress.event,
            false,
        )
        .await,
    );
    // decode refusing a gzip bomb at the 64 MiB MAX_PAYLOAD_BYTES default.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..80 {
        gz.write_all(&zeros).unwrap();
    }
    let bomb = gz.finish().unwrap();
    let bomb_event = serde_json::json!({"awslogs": {"data": base64::engine::general_purpose::STANDARD.encode(&bomb)}})
        .to_string();
    rows.push(
        measure(
            decode.clone(),
            "decode",
            format!(
                "gzip bomb refused: {} KB event → 80 MiB (cap 64 MiB)",
                bomb_event.len() / 1000
            ),
            bomb_event.as_bytes(),
            true,
        )
        .await,
    );
    let sent = queue_depth(&sqs, &queue).await;

    // shipper: 10 messages of 1 MiB frames (more than the 6 MB a real batch can carry; the
    // event-source mapping would split it), to the local receiver, UAP, 1 MB windows.
    let mut records = Vec::new();
    let mut stats = DecodeStats::default();
    let mut generator = Generator::new(GenerateOptions {
        requests: 1_000_000,
        seed: 9,
        ..GenerateOptions::default()
    });
    let frames = loop {
        let before = records.len();
        for p in generator.by_ref().take(20) {
            records.extend(decode_bytes(&p.event, &DecodeOptions::default(), &mut stats).unwrap());
        }
        assert!(records.len() > before, "the generator ran out");
        let frames = frame::pack(&records, 1_048_576).unwrap();
        if frames.len() > 10 {
            break frames;
        }
    };
    let frames = &frames[..10];
    let frame_records: usize = frames.iter().map(|f| f.records).sum();
    let event =
        serde_json::json!({"Records": frames.iter().enumerate().map(|(i, f)| serde_json::json!({
        "messageId": format!("m{i}"), "receiptHandle": format!("h{i}"), "body": f.body,
        "attributes": {"ApproximateReceiveCount": "1"}, "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:measure", "awsRegion": "us-east-1",
    })).collect::<Vec<_>>()})
        .to_string();
    let receiver = e2e_support::receiver(Faults::default()).await;
    let shipper = FunctionSpec::new(SHIPPER, "shipper")
        .env("BRIDGE_URL", receiver.transactions_url())
        .env("AUTH_URL", receiver.token_url())
        .env("CLIENT_ID", e2e_support::CLIENT_ID)
        .env("CLIENT_SECRET", e2e_support::CLIENT_SECRET)
        .env("ALLOW_INSECURE_HTTP", "true")
        .env("LOG_LEVEL", "warn")
        .timeout(Duration::from_secs(60));
    rows.push(
        measure(
            shipper,
            "shipper",
            format!(
                "10 × 1 MiB frames: {} KB event, {} records",
                event.len() / 1000,
                frame_records
            ),
            event.as_bytes(),
            false,
        )
        .await,
    );

    let mut out = String::new();
    out.push_str("| function | input | init (cold start) ms | first invocation ms | warm invocation ms (median) | peak RSS MiB |\n|---|---|---|---|---|---|\n");
    for r in &rows {
        out.push_str(&format!(
            "| {} | {} | {:.0} (max {:.0}) | {:.0} (max {:.0}) | {:.0} (max {:.0}) | {:.1} (max {:.1}) |\n",
            r.what,
            r.input,
            median(&r.init_ms),
            max(&r.init_ms),
            median(&r.cold_ms),
            max(&r.cold_ms),
            median(&r.warm_ms),
            max(&r.warm_ms),
            median(&r.rss_mib),
            max(&r.rss_mib),
        ));
    }
    println!("{out}");
    println!(
        "({} messages left in the measurement queue; {} records accepted by the receiver)",
        sent,
        receiver.stats().accepted_records
    );
}
