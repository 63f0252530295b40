//! The archive against moto's server: the Firehose tee writes (through moto's S3 destination)
//! exactly the records the queue got; a dead stream doesn't stop delivery and is counted;
//! `replay --from-archive` (the release binary) sends exactly one time window's records and
//! reports a corrupt object by key while going on with the rest.

mod common;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use apigw_stream::archive::{ArchivePolicy, Archiver, FirehoseSink};
use apigw_stream::control::generate::{GenerateOptions, Generator};
use apigw_stream::decode::{summary_emf, DecodeOptions};
use apigw_stream::transport::frame::unpack;
use apigw_stream::transport::queue::{SendPolicy, SqsQueue};
use apigw_stream::Transaction;
use aws_sdk_firehose::types::{CompressionFormat, ExtendedS3DestinationConfiguration};
use common::forward_archived;

const BUCKET: &str = "archive-bucket";
const PREFIX: &str = "apigw-stream/v1/";

/// Every record in the queue (frames unpacked), sorted by id.
async fn queued_records(q: &SqsQueue) -> Vec<Transaction> {
    let mut all: Vec<Transaction> = common::drain(q, Duration::from_secs(300))
        .await
        .iter()
        .flat_map(|m| unpack(&m.body).unwrap())
        .collect();
    all.sort_by(|a, b| a.id.cmp(&b.id));
    all
}

fn s3(conf: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let c = aws_sdk_s3::config::Builder::from(conf)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(c)
}

/// What moto's S3 holds under the prefix, parsed here (plain or gzip NDJSON), sorted by id.
async fn archived_records(conf: &aws_config::SdkConfig) -> Vec<Transaction> {
    let s3 = s3(conf);
    let list = s3
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix(PREFIX)
        .send()
        .await
        .unwrap();
    let mut out = Vec::new();
    for o in list.contents() {
        let body = s3
            .get_object()
            .bucket(BUCKET)
            .key(o.key().unwrap())
            .send()
            .await
            .unwrap()
            .body
            .collect()
            .await
            .unwrap()
            .into_bytes();
        let text = String::from_utf8(body.to_vec()).unwrap();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            out.push(serde_json::from_str::<Transaction>(line).unwrap());
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

async fn firehose_to_s3(conf: &aws_config::SdkConfig, name: &str) {
    s3(conf)
        .create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    let dest = ExtendedS3DestinationConfiguration::builder()
        .bucket_arn(format!("arn:aws:s3:::{BUCKET}"))
        .role_arn("arn:aws:iam::123456789012:role/firehose")
        .prefix(PREFIX)
        .compression_format(CompressionFormat::Gzip)
        .build()
        .unwrap();
    aws_sdk_firehose::Client::new(conf)
        .create_delivery_stream()
        .delivery_stream_name(name)
        .extended_s3_destination_configuration(dest)
        .send()
        .await
        .unwrap();
}

fn payloads(requests: u64) -> Vec<Vec<u8>> {
    Generator::new(GenerateOptions {
        requests,
        seed: 13,
        ..GenerateOptions::default()
    })
    .map(|p| p.event)
    .collect()
}

fn archiver(conf: &aws_config::SdkConfig, stream: &str, record_bytes: usize) -> Archiver {
    let sink = FirehoseSink::new(aws_sdk_firehose::Client::new(conf), stream);
    Archiver::new(
        Arc::new(sink),
        ArchivePolicy {
            initial_backoff: Duration::from_millis(5),
            record_bytes,
            ..ArchivePolicy::default()
        },
    )
}

/// Decode the payloads like the decode Lambda with the tee on; returns (archived, not archived).
async fn decode_all(q: &SqsQueue, archive: &Archiver, inputs: &[Vec<u8>]) -> (u64, u64, u64) {
    let (mut records, mut archived, mut failed) = (0, 0, 0);
    for (i, p) in inputs.iter().enumerate() {
        let s = forward_archived(
            p,
            &format!("payload {i}"),
            &DecodeOptions::default(),
            262_144,
            q,
            &SendPolicy::default(),
            Some(archive),
        )
        .await
        .unwrap();
        records += s.records;
        archived += s.archived_records;
        failed += s.archive_failed_records;
        let emf = summary_emf(&s, 0);
        assert_eq!(emf["ArchiveFailedRecords"], s.archive_failed_records as f64);
    }
    (records, archived, failed)
}

fn replay(moto: &common::Moto, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_apigw-stream"))
        .arg("replay")
        .args(args)
        .args(["--region", "us-east-1", "--endpoint-url", &moto.endpoint])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap()
}

#[tokio::test]
async fn the_archive_holds_what_the_queue_got_and_a_backfill_resends_one_window() {
    let moto = common::Moto::start();
    let conf = moto.sdk_config();
    firehose_to_s3(&conf, "archive").await;
    let q = common::sqs_queue(&conf, "records", Default::default()).await;
    // A small Firehose record bound so the payloads need several chunks and calls.
    let (records, archived, failed) =
        decode_all(&q, &archiver(&conf, "archive", 64 * 1024), &payloads(2_000)).await;
    assert!(records > 1_000, "{records}");
    assert_eq!((archived, failed), (records, 0));

    let sent = queued_records(&q).await;
    let stored = archived_records(&conf).await;
    assert_eq!(stored.len() as u64, records);
    assert_eq!(
        stored, sent,
        "the archive must hold exactly the queued records"
    );

    // A corrupt object among the good ones.
    let bad_key = format!("{PREFIX}2026/11/29/12/corrupt-object");
    s3(&conf)
        .put_object()
        .bucket(BUCKET)
        .key(&bad_key)
        .body(vec![0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9].into())
        .send()
        .await
        .unwrap();

    // The middle third of the timeline, by the archived records' own times.
    let mut times: Vec<i64> = stored.iter().map(|t| t.time_ms).collect();
    times.sort();
    let (since, until) = (times[times.len() / 3], times[2 * times.len() / 3]);
    let mut want: Vec<String> = stored
        .iter()
        .filter(|t| t.time_ms >= since && t.time_ms < until)
        .map(|t| t.id.clone())
        .collect();
    want.sort();
    assert!(!want.is_empty() && want.len() < stored.len());

    let target = common::sqs_queue(&conf, "backfill", Default::default()).await;
    let out = replay(
        &moto,
        &[
            "--from-archive",
            &format!("s3://{BUCKET}/{PREFIX}"),
            "--since",
            &since.to_string(),
            "--until",
            &until.to_string(),
            "--to",
            target.url(),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a corrupt object must fail the run\n{stdout}\n{stderr}"
    );
    assert!(
        stderr.contains(&bad_key),
        "the corrupt object is named: {stderr}"
    );
    assert!(
        stdout.contains(&format!("matched {}", want.len()))
            && stdout.contains(&format!("sent {}", want.len())),
        "{stdout}"
    );
    let got: Vec<String> = queued_records(&target)
        .await
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(got, want, "the backfill sends exactly the window's records");
}

#[tokio::test]
async fn a_dead_firehose_stream_does_not_stop_delivery_and_is_counted() {
    let moto = common::Moto::start();
    let conf = moto.sdk_config();
    let q = common::sqs_queue(&conf, "records", Default::default()).await;
    let (records, archived, failed) = decode_all(
        &q,
        &archiver(&conf, "no-such-stream", 1000 * 1024),
        &payloads(300),
    )
    .await;
    assert!(records > 0);
    assert_eq!((archived, failed), (0, records));
    assert_eq!(queued_records(&q).await.len() as u64, records);
}

#[tokio::test]
async fn local_archive_dir_replays_in_dry_run() {
    // `local --archive-dir` writes the same objects as the S3 archive; a dry-run backfill over the
    // directory counts every delivered record and sends nothing.
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    let out = Command::new(env!("CARGO_BIN_EXE_apigw-stream"))
        .args(["local", "--generate", "500", "--quiet", "--archive-dir"])
        .arg(&archive)
        .arg("--out")
        .arg(dir.path().join("out"))
        .arg("--summary-json")
        .arg(dir.path().join("summary.json"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("summary.json")).unwrap()).unwrap();
    let delivered = summary["records_delivered"].as_u64().unwrap();
    assert_eq!(summary["archived_records"].as_u64(), Some(delivered));
    assert!(archive.join("apigw-stream/v1").is_dir());

    let out = Command::new(env!("CARGO_BIN_EXE_apigw-stream"))
        .args(["replay", "--dry-run", "--json", "--from-archive"])
        .arg(&archive)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["read"].as_u64(), Some(delivered));
    assert_eq!(s["matched"].as_u64(), Some(delivered));
    assert_eq!(s["sent"].as_u64(), Some(0));
}

/// How a backfill test names the collector to `replay --from-archive`.
enum CollectorGiven {
    /// `--bridge-url` with the rest in the shipper's environment variables.
    Environment,
    /// The flags `local` takes: `--bridge-url --auth-url --client-id --client-secret
    /// --allow-insecure-http`.
    Flags,
    /// The vendor's `.env` file (`--env-file`), as `local` takes it.
    EnvFile,
}

/// Archive 600 requests into a directory, run `replay --from-archive DIR --api ID` against a
/// local receiver named as `given` says, and check exactly that API's records arrived and the
/// secret was never printed.
async fn backfill_one_api_to_a_bridge(given: CollectorGiven) {
    use apigw_stream::archive::DirSink;
    use apigw_stream::decode::{decode_bytes, DecodeStats};
    use apigw_stream::ship::bridge::receiver::{Receiver, ReceiverConfig};
    use apigw_stream::ship::bridge::Secret;

    let dir = tempfile::tempdir().unwrap();
    let mut records = Vec::new();
    for p in payloads(600) {
        let mut stats = DecodeStats::default();
        records.extend(decode_bytes(&p, &DecodeOptions::default(), &mut stats).unwrap());
    }
    let archive = Archiver::new(Arc::new(DirSink::new(dir.path())), ArchivePolicy::default());
    let report = archive.archive(&records).await;
    assert_eq!(report.records, records.len() as u64);

    let api = records[0].api.id.clone().unwrap();
    let mut want: Vec<String> = records
        .iter()
        .filter(|t| t.api.id.as_deref() == Some(api.as_str()))
        .map(|t| t.id.clone())
        .collect();
    want.sort();
    assert!(
        !want.is_empty() && want.len() < records.len(),
        "the generator spreads traffic over several APIs"
    );

    let rx = Receiver::start(
        ([127, 0, 0, 1], 0).into(),
        ReceiverConfig {
            client_id: Some("backfill".into()),
            client_secret: Some(Secret::new("s3cret-for-test".to_string())),
            ..ReceiverConfig::default()
        },
    )
    .await
    .unwrap();
    let (url, token) = (rx.transactions_url(), rx.token_url());
    let path = dir.path().to_path_buf();
    let env_dir = tempfile::tempdir().unwrap();
    let env_file = env_dir.path().join(".env");
    let out = tokio::task::spawn_blocking(move || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_apigw-stream"));
        cmd.args(["replay", "--from-archive"])
            .arg(path)
            .args(["--api", &api]);
        for name in ["BRIDGE_URL", "AUTH_URL", "CLIENT_ID", "CLIENT_SECRET"] {
            cmd.env_remove(name);
        }
        match given {
            CollectorGiven::Environment => {
                cmd.args(["--bridge-url", &url])
                    .env("AUTH_URL", token)
                    .env("CLIENT_ID", "backfill")
                    .env("CLIENT_SECRET", "s3cret-for-test")
                    .env("ALLOW_INSECURE_HTTP", "true");
            }
            CollectorGiven::Flags => {
                cmd.args(["--bridge-url", &url, "--auth-url", &token])
                    .args(["--client-id", "backfill"])
                    .args(["--client-secret", "s3cret-for-test"])
                    .arg("--allow-insecure-http")
                    .env_remove("ALLOW_INSECURE_HTTP");
            }
            CollectorGiven::EnvFile => {
                std::fs::write(
                    &env_file,
                    format!(
                        "cequence_client_id=backfill\n\
                         cequence_client_secret='s3cret-for-test'\n\
                         cequence_auth_endpoint={token}\n\
                         cequence_edge_endpoint={url}\n"
                    ),
                )
                .unwrap();
                cmd.arg("--env-file")
                    .arg(&env_file)
                    .env("ALLOW_INSECURE_HTTP", "true");
            }
        }
        cmd.output().unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        !stdout.contains("s3cret") && !stderr.contains("s3cret"),
        "no secret in the output"
    );
    let mut got = rx.accepted_ids();
    got.sort();
    assert_eq!(got, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_for_one_api_ships_straight_to_a_bridge() {
    backfill_one_api_to_a_bridge(CollectorGiven::Environment).await;
}

/// What `local` was run with runs `replay --from-archive` unchanged: the same collector flags.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_takes_the_collector_flags_of_local() {
    backfill_one_api_to_a_bridge(CollectorGiven::Flags).await;
}

/// ... and the same vendor `.env` file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_takes_the_env_file_of_local() {
    backfill_one_api_to_a_bridge(CollectorGiven::EnvFile).await;
}

/// The clap definitions: `local` and `replay` parse the same collector flags to the same values.
#[test]
fn local_and_replay_parse_the_same_collector_flags() {
    use apigw_stream::control::cli::{Cli, Command as Sub};
    use clap::Parser;
    let flags = [
        "--bridge-url",
        "https://edge.example.com/api-transactions",
        "--auth-url",
        "https://auth.example.com/token",
        "--client-id",
        "me",
        "--client-secret",
        "s3cret-for-test",
        "--env-file",
        "vendor.env",
        "--allow-insecure-http",
    ];
    let local = Cli::try_parse_from(["apigw-stream", "local"].iter().chain(&flags)).unwrap();
    let replay = Cli::try_parse_from(
        ["apigw-stream", "replay", "--from-archive", "dir"]
            .iter()
            .chain(&flags),
    )
    .unwrap();
    let (Sub::Local(local), Sub::Replay(replay)) = (local.command, replay.command) else {
        panic!("parsed as other commands");
    };
    let (a, b) = (&local.collector, &replay.archive.collector);
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
    assert_eq!(a.client_secret.as_deref(), Some("s3cret-for-test"));
    assert_eq!(b.client_secret.as_deref(), Some("s3cret-for-test"));
    assert!(
        !format!("{b:?}").contains("s3cret"),
        "Debug redacts the secret"
    );
    assert_eq!(
        b.env_file.as_deref(),
        Some(std::path::Path::new("vendor.env"))
    );
}
