//! The decode benchmarks, shared by `decode` (mimalloc, as the CLI and the Lambdas run) and
//! `decode_system_alloc` (the system allocator), so one `cargo bench` shows what the allocator is
//! worth. `floor` is what any decoder pays (base64, gunzip, parsing the envelope and each line
//! into nothing): our numbers are best read as ratios against it, measured in the same run.

use std::io::{Read, Write};

use apigw_stream::decode::{decode_bytes, DecodeOptions, DecodeStats};
use apigw_stream::transport::frame::pack;
use base64::Engine;
use criterion::{Criterion, Throughput};

/// One CloudWatch batch: ~1 MB of recommended-format REST lines with varied paths and agents.
pub fn payload() -> (Vec<u8>, usize, usize) {
    let agents = [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        "curl/8.4.0",
        "okhttp/4.12.0",
        "python-requests/2.31.0",
    ];
    let mut events = Vec::new();
    let mut raw = 0;
    let mut i = 0u64;
    while raw < 1_000_000 {
        let msg = format!(
            r#"{{"requestId":"{:08x}-c99d-4cfa-a5a7-{:012x}","extendedRequestId":"Vts2pH6ArPEFc{:03}=","requestTimeEpoch":"{}","httpMethod":"{}","path":"/prod/pets/{}/orders/{}","resourcePath":"/pets/{{petId}}/orders/{{orderId}}","protocol":"HTTP/1.1","status":"{}","responseLength":"{}","responseLatency":"{}","integrationLatency":"{}","ip":"10.{}.{}.{}","userAgent":"{}","domainName":"asad15n3p0.execute-api.us-east-1.amazonaws.com","apiId":"asad15n3p0","stage":"prod","accountId":"123456789012","caller":"-","user":"-","apiKeyId":"-","principalId":"-","errorMessage":"-","wafResponseCode":"-"}}"#,
            i,
            i * 7919,
            i % 1000,
            1_686_411_388_000u64 + i,
            ["GET", "POST", "PUT"][i as usize % 3],
            i % 5000,
            i % 97,
            [200, 201, 404, 500][i as usize % 4],
            40 + i % 2000,
            5 + i % 300,
            3 + i % 250,
            i % 256,
            (i / 7) % 256,
            (i / 13) % 256,
            agents[i as usize % agents.len()]
        );
        raw += msg.len();
        events.push(serde_json::json!({"id": format!("{:056}", i), "timestamp": 1_686_411_388_000u64 + i, "message": msg}));
        i += 1;
    }
    let data = serde_json::json!({"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"/aws/apigateway/petstore-prod",
        "logStream":"e369853df766fa44e1ed0ff613f563bd","subscriptionFilters":["apigw-stream/rest/asad15n3p0/prod"],"logEvents":events});
    let json = data.to_string();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    gz.write_all(json.as_bytes()).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
    let event = serde_json::json!({"awslogs": {"data": b64}})
        .to_string()
        .into_bytes();
    (event, i as usize, json.len())
}

/// What the floors read: the Lambda event's base64, and each log event's message.
#[derive(serde::Deserialize)]
struct Event<'a> {
    #[serde(borrow)]
    awslogs: AwsLogs<'a>,
}
#[derive(serde::Deserialize)]
struct AwsLogs<'a> {
    data: &'a str,
}
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct LogData {
    log_events: Vec<LogEvent>,
}
#[derive(serde::Deserialize)]
struct LogEvent {
    message: String,
}

/// The floor: base64 → gunzip → envelope → each line parsed and thrown away.
fn floor(event: &[u8]) -> usize {
    let e: Event = serde_json::from_slice(event).unwrap();
    let gz = base64::engine::general_purpose::STANDARD
        .decode(e.awslogs.data)
        .unwrap();
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(gz.as_slice())
        .read_to_end(&mut json)
        .unwrap();
    let data: LogData = serde_json::from_slice(&json).unwrap();
    for ev in &data.log_events {
        let _: serde::de::IgnoredAny = serde_json::from_str(&ev.message).unwrap();
    }
    data.log_events.len()
}

/// The floor with the primitives the decoder now uses for those same steps: SIMD base64, a gunzip
/// buffer sized from the gzip trailer, the envelope and lines parsed from `&str` after one UTF-8
/// check. A harder baseline than [`floor`] (kept as the issue defines it, for comparisons across
/// runs).
fn floor_tuned(event: &[u8]) -> usize {
    let e: Event = serde_json::from_str(std::str::from_utf8(event).unwrap()).unwrap();
    let gz = apigw_stream::b64::decode(e.awslogs.data.as_bytes()).unwrap();
    let mut json = Vec::with_capacity(apigw_stream::gzip::output_capacity(&gz, 64 << 20));
    flate2::read::GzDecoder::new(gz.as_slice())
        .read_to_end(&mut json)
        .unwrap();
    let data: LogData = serde_json::from_str(std::str::from_utf8(&json).unwrap()).unwrap();
    for ev in &data.log_events {
        let _: serde::de::IgnoredAny = serde_json::from_str(&ev.message).unwrap();
    }
    data.log_events.len()
}

pub fn bench(c: &mut Criterion, allocator: &str) {
    let (event, n, json_len) = payload();
    let opts = DecodeOptions::default();
    let mut g = c.benchmark_group(format!("decode/{allocator}"));
    g.throughput(Throughput::Elements(n as u64));
    g.sample_size(20);
    g.bench_function(format!("floor/{n}_lines_{json_len}_bytes"), |b| {
        b.iter(|| assert_eq!(floor(&event), n))
    });
    g.bench_function(format!("floor_tuned/{n}_lines_{json_len}_bytes"), |b| {
        b.iter(|| assert_eq!(floor_tuned(&event), n))
    });
    g.bench_function(format!("payload_to_records/{n}_lines"), |b| {
        b.iter(|| {
            let mut s = DecodeStats::default();
            let r = decode_bytes(&event, &opts, &mut s).unwrap();
            assert_eq!(r.len(), n);
            r
        })
    });
    g.bench_function(format!("payload_to_frames_256k/{n}_lines"), |b| {
        b.iter(|| {
            let mut s = DecodeStats::default();
            let r = decode_bytes(&event, &opts, &mut s).unwrap();
            pack(&r, 262_144).unwrap()
        })
    });
    g.bench_function(format!("payload_to_frames_1m/{n}_lines"), |b| {
        b.iter(|| {
            let mut s = DecodeStats::default();
            let r = decode_bytes(&event, &opts, &mut s).unwrap();
            pack(&r, 1_048_576).unwrap()
        })
    });
    // The decode Lambda with ARCHIVE_STREAM set: the same frames plus the Firehose NDJSON chunks.
    g.bench_function(
        format!("payload_to_frames_1m_and_archive_chunks/{n}_lines"),
        |b| {
            b.iter(|| {
                let mut s = DecodeStats::default();
                let r = decode_bytes(&event, &opts, &mut s).unwrap();
                let frames = pack(&r, 1_048_576).unwrap();
                let chunks = apigw_stream::archive::chunk::pack(
                    &r,
                    apigw_stream::archive::chunk::MAX_RECORD_BYTES,
                );
                (frames, chunks)
            })
        },
    );
    g.finish();
    bench_codec(c, &event, n);
    bench_execution(c, allocator);
}

/// `codec`: the JSON work of the record paths in serde_json and in sonic-rs,
/// on the same data in the same run: serializing the payload's records (the frames' and the CLI's
/// NDJSON), and parsing its access-log lines into nothing.
fn bench_codec(c: &mut Criterion, event: &[u8], n: usize) {
    let records = decode_bytes(
        event,
        &DecodeOptions::default(),
        &mut DecodeStats::default(),
    )
    .unwrap();
    let lines: Vec<Vec<u8>> = records
        .iter()
        .map(|r| serde_json::to_vec(r).unwrap())
        .collect();
    let mut g = c.benchmark_group("codec");
    g.throughput(Throughput::Elements(n as u64));
    g.sample_size(20);
    let mut out = Vec::with_capacity(4 << 20);
    g.bench_function("serialize_records/serde_json", |b| {
        b.iter(|| {
            out.clear();
            for r in &records {
                serde_json::to_writer(&mut out, r).unwrap();
            }
            out.len()
        })
    });
    g.bench_function("serialize_records/sonic_rs", |b| {
        b.iter(|| {
            out.clear();
            for r in &records {
                sonic_rs::to_writer(&mut out, r).unwrap();
            }
            out.len()
        })
    });
    g.bench_function("parse_records/serde_json", |b| {
        b.iter(|| {
            for l in &lines {
                let _: serde::de::IgnoredAny = serde_json::from_slice(l).unwrap();
            }
        })
    });
    g.bench_function("parse_records/sonic_rs", |b| {
        b.iter(|| {
            for l in &lines {
                let _: serde::de::IgnoredAny = sonic_rs::from_slice(l).unwrap();
            }
        })
    });
    g.finish();
}

/// `decode/execution`: the biggest of a few generated ~1 MB payloads of standard REST execution
/// logs (every line kind, 1 KB cuts) → one record per request. Throughput in LogData bytes; the
/// request count is printed so requests/s follows from the time.
fn bench_execution(c: &mut Criterion, allocator: &str) {
    use apigw_stream::control::generate::{GenerateOptions, Generator, LogKind};
    let Some(p) = Generator::new(GenerateOptions {
        requests: 2_000,
        seed: 7,
        logs: LogKind::Execution,
        ..GenerateOptions::default()
    })
    .max_by_key(|p| p.logdata_bytes) else {
        return;
    };
    let opts = DecodeOptions::default();
    let requests = p.events() - p.static_request_ids.len();
    eprintln!(
        "decode/execution: {} requests, {} log events, {} LogData bytes per payload",
        p.events(),
        p.log_events,
        p.logdata_bytes
    );
    let mut g = c.benchmark_group(format!("decode/{allocator}"));
    g.throughput(Throughput::Bytes(p.logdata_bytes as u64));
    g.sample_size(20);
    g.bench_function("execution", |b| {
        b.iter(|| {
            let mut s = DecodeStats::default();
            let r = decode_bytes(&p.event, &opts, &mut s).unwrap();
            assert_eq!(r.len(), requests);
            r
        })
    });
    g.finish();
}
