//! `cargo bench --bench stitch`: what stitching costs per fragment (CPU), with mimalloc as the
//! CLI and the Lambdas use it.
//!
//! - `stitch/decode_split`: a payload of generated execution logs with every request cut in two,
//!   decoded into fragments and packed into stitch-queue messages (the decode side's extra work:
//!   JSON, gzip, base64, SHA-256 per fragment);
//! - `stitch/plan_batch`: one stitch-consumer batch of 10 fragment messages (5 requests, each
//!   head and tail) → 5 whole records (unpack, merge, assemble, filter);
//! - `stitch/plan_held`: the same batch with only the heads: what a held batch costs.

use apigw_stream::control::generate::{GenerateOptions, Generator, LogKind};
use apigw_stream::decode::{decode_split, DecodeOptions, DecodeStats, Split};
use apigw_stream::decode::{Fragment, JoinRule};
use apigw_stream::stitch::{self, StitchOptions};
use apigw_stream::transport::queue::InMessage;
use criterion::{Criterion, Throughput};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Payloads of execution logs where every request is cut across two payloads.
fn payloads() -> Vec<Vec<u8>> {
    Generator::new(GenerateOptions {
        requests: 400,
        seed: 3,
        logs: LogKind::Execution,
        split_fraction: 1.0,
        ..GenerateOptions::default()
    })
    .map(|p| p.event)
    .collect()
}

fn fragments(payloads: &[Vec<u8>]) -> Vec<Fragment> {
    let opts = DecodeOptions::default();
    let join = JoinRule::default();
    let mut stats = DecodeStats::default();
    let mut out = Vec::new();
    for p in payloads {
        let mut split = Split {
            fragments: &mut out,
            join: &join,
        };
        let _ = decode_split(p, &opts, &mut stats, &mut split);
    }
    out
}

fn message(i: usize, f: &Fragment) -> InMessage {
    let m = f
        .clone()
        .into_messages(1 << 20)
        .expect("a fragment fits a message")
        .remove(0);
    InMessage {
        message_id: i.to_string(),
        receipt_handle: i.to_string(),
        body: m.message.body,
        attributes: Default::default(),
        receive_count: 1,
        sent_timestamp_ms: Some(1_000),
        group_id: None,
    }
}

fn bench(c: &mut Criterion) {
    let payloads = payloads();
    let all = fragments(&payloads);
    let mut g = c.benchmark_group("stitch");

    g.throughput(Throughput::Elements(all.len() as u64));
    g.bench_function("decode_split", |b| {
        b.iter(|| {
            let f = fragments(&payloads);
            apigw_stream::decode::fragment::to_messages(f, 1 << 20).expect("fits")
        })
    });

    // Pair each request's parts: 5 requests (10 fragments) per batch.
    let mut by_id: std::collections::BTreeMap<&str, Vec<&Fragment>> = Default::default();
    for f in &all {
        by_id.entry(f.request_id.as_str()).or_default().push(f);
    }
    let pairs: Vec<Vec<&Fragment>> = by_id.into_values().filter(|v| v.len() == 2).collect();
    let batch: Vec<InMessage> = pairs
        .iter()
        .take(5)
        .flatten()
        .enumerate()
        .map(|(i, f)| message(i, f))
        .collect();
    let heads: Vec<InMessage> = pairs
        .iter()
        .take(10)
        .map(|v| v[0])
        .enumerate()
        .map(|(i, f)| message(i, f))
        .collect();
    let opts = StitchOptions::default();
    let decode = DecodeOptions::default();
    g.throughput(Throughput::Elements(batch.len() as u64));
    g.bench_function("plan_batch", |b| {
        b.iter(|| stitch::plan(&batch, &opts, &decode, 2_000))
    });
    g.throughput(Throughput::Elements(heads.len() as u64));
    g.bench_function("plan_held", |b| {
        b.iter(|| stitch::plan(&heads, &opts, &decode, 2_000))
    });
    g.finish();
}

criterion::criterion_group!(benches, bench);
criterion::criterion_main!(benches);
