//! `replay` against moto's server: shipper-DLQ frames back to the queue, decode-DLQ destination
//! records decoded into frames (or re-invoked), nothing lost, nothing duplicated.
#![cfg(feature = "cli")]

mod common;
mod ops_support;

use std::collections::BTreeMap;
use std::time::Duration;

use apigw_stream::control::ops::replay::{self, LambdaInvoker, ReplayOptions, SourceKind};
use apigw_stream::decode::{decode_bytes, DecodeOptions, DecodeStats};
use apigw_stream::transport::frame;
use apigw_stream::transport::queue::{
    send_all, InMessage, OutMessage, Queue, SendPolicy, SqsQueue,
};
use indicatif::ProgressBar;
use ops_support::*;

const N_FRAMES: usize = 23;
const N_RECORDS: usize = 7;
const LINES_PER_RECORD: usize = 5;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// `n` subscription events for API `api`, each with LINES_PER_RECORD lines; request ids are
/// `{tag}-{event}-{line}`.
fn events(api: &str, tag: &str, n: usize) -> Vec<serde_json::Value> {
    let t = now_ms();
    (0..n)
        .map(|e| {
            let lines: Vec<String> = (0..LINES_PER_RECORD)
                .map(|l| rest_line(api, &format!("{tag}-{e}-{l}"), t))
                .collect();
            awslogs_event(
                "/aws/apigateway/apigw-stream/a1b2c3/prod",
                &format!("apigw-stream/rest/{api}/prod"),
                &lines,
                t + e as i64 * 100,
            )
        })
        .collect()
}

struct Fixture {
    _moto: common::Moto,
    conf: aws_config::SdkConfig,
    p: Pipeline,
    queue: SqsQueue,
    shipper_dlq: SqsQueue,
    decode_dlq: SqsQueue,
    /// Bodies put in the shipper DLQ.
    frame_bodies: Vec<String>,
    /// Request ids of the records behind the decode DLQ's messages.
    decode_ids: Vec<String>,
}

async fn fixture() -> Fixture {
    let moto = common::Moto::start();
    let conf = moto.sdk_config();
    let p = deploy_pipeline(&conf).await;
    let sqs = aws_sdk_sqs::Client::new(&conf);
    let queue = SqsQueue::new(sqs.clone(), p.queue_url.clone());
    let shipper_dlq = SqsQueue::new(sqs.clone(), p.shipper_dlq_url.clone());
    let decode_dlq = SqsQueue::new(sqs.clone(), p.decode_dlq_url.clone());

    // Shipper DLQ: frames as the decode function writes them (one per subscription event).
    let mut frame_bodies = Vec::new();
    let mut msgs = Vec::new();
    for (i, ev) in events("a1b2c3", "ship", N_FRAMES).iter().enumerate() {
        let mut stats = DecodeStats::default();
        let recs = decode_bytes(
            ev.to_string().as_bytes(),
            &DecodeOptions::default(),
            &mut stats,
        )
        .expect("decode");
        assert_eq!(recs.len(), LINES_PER_RECORD, "{stats:?}");
        let frames = frame::pack(&recs, frame::DEFAULT_MESSAGE_BYTES).expect("pack");
        assert_eq!(frames.len(), 1);
        frame_bodies.push(frames[0].body.clone());
        msgs.push(frames[0].to_message(format!("f{i}")));
    }
    send_all(&shipper_dlq, msgs, &SendPolicy::default())
        .await
        .expect("fill shipper DLQ");

    // Decode DLQ: Lambda on-failure destination records holding the original events.
    let mut decode_ids = Vec::new();
    let mut msgs = Vec::new();
    for (i, ev) in events("d4e5f6", "dec", N_RECORDS).iter().enumerate() {
        msgs.push(OutMessage {
            id: format!("d{i}"),
            body: destination_record(&p.function_arn, ev),
            attributes: BTreeMap::new(),
        });
        for l in 0..LINES_PER_RECORD {
            decode_ids.push(format!("dec-{i}-{l}"));
        }
    }
    send_all(&decode_dlq, msgs, &SendPolicy::default())
        .await
        .expect("fill decode DLQ");

    Fixture {
        _moto: moto,
        conf,
        p,
        queue,
        shipper_dlq,
        decode_dlq,
        frame_bodies,
        decode_ids,
    }
}

/// Receive and delete everything in a queue.
async fn drain(q: &SqsQueue) -> Vec<InMessage> {
    common::drain_deleting(q, Duration::from_secs(60)).await
}

fn opts() -> ReplayOptions {
    ReplayOptions {
        wait: Duration::from_millis(200),
        ..Default::default()
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn replays_both_dlqs_without_loss_or_duplicates() {
    let f = fixture().await;
    let bar = ProgressBar::hidden();

    // A dry run reads everything and moves nothing.
    let dry = ReplayOptions {
        dry_run: true,
        ..opts()
    };
    let s = replay::replay(&f.shipper_dlq, &f.queue, None, &dry, &bar).await;
    assert_eq!(
        (s.moved, s.failed, s.skipped),
        (N_FRAMES as u64, 0, 0),
        "{s:?}"
    );
    let s = replay::replay(&f.decode_dlq, &f.queue, None, &dry, &bar).await;
    assert_eq!((s.moved, s.failed), (N_RECORDS as u64, 0), "{s:?}");
    assert_eq!(s.decode.records, (N_RECORDS * LINES_PER_RECORD) as u64);
    assert_eq!(
        f.queue.approximate_len().await.unwrap(),
        0,
        "dry run sent nothing"
    );
    assert_eq!(f.shipper_dlq.approximate_len().await.unwrap(), N_FRAMES);
    assert_eq!(f.decode_dlq.approximate_len().await.unwrap(), N_RECORDS);

    // An age filter that nothing passes: all skipped, all still there.
    let young = ReplayOptions {
        older_than: Some(Duration::from_secs(3600)),
        ..opts()
    };
    let s = replay::replay(&f.shipper_dlq, &f.queue, None, &young, &bar).await;
    assert_eq!((s.moved, s.skipped), (0, N_FRAMES as u64), "{s:?}");

    // Shipper DLQ: --max 5 first, then the rest.
    let five = ReplayOptions {
        max: Some(5),
        kind: SourceKind::Shipper,
        ..opts()
    };
    let s = replay::replay(&f.shipper_dlq, &f.queue, None, &five, &bar).await;
    assert_eq!((s.moved, s.failed), (5, 0), "{s:?}");
    let s = replay::replay(&f.shipper_dlq, &f.queue, None, &opts(), &bar).await;
    assert_eq!((s.moved, s.failed), ((N_FRAMES - 5) as u64, 0), "{s:?}");
    assert!(drain(&f.shipper_dlq).await.is_empty(), "shipper DLQ empty");

    let moved = drain(&f.queue).await;
    assert_eq!(
        sorted(moved.iter().map(|m| m.body.clone()).collect()),
        sorted(f.frame_bodies.clone()),
        "every frame once, bodies unchanged"
    );
    for m in &moved {
        assert_eq!(
            m.attributes.get("encoding").map(String::as_str),
            Some(frame::ENCODING)
        );
        assert_eq!(
            m.attributes.get("records").map(String::as_str),
            Some(LINES_PER_RECORD.to_string().as_str())
        );
    }

    // Decode DLQ: decoded here, frames sent, records exactly the originals.
    let s = replay::replay(&f.decode_dlq, &f.queue, None, &opts(), &bar).await;
    assert_eq!((s.moved, s.failed), (N_RECORDS as u64, 0), "{s:?}");
    assert!(s.frames_sent >= N_RECORDS as u64);
    assert!(drain(&f.decode_dlq).await.is_empty(), "decode DLQ empty");
    let frames = drain(&f.queue).await;
    assert_eq!(frames.len() as u64, s.frames_sent);
    let ids: Vec<String> = frames
        .iter()
        .flat_map(|m| frame::unpack(&m.body).expect("unpack"))
        .map(|t| t.id)
        .collect();
    assert_eq!(
        sorted(ids),
        sorted(f.decode_ids.clone()),
        "no record lost or duplicated"
    );
}

/// Records replayed from the decode DLQ get the deployed function's settings (here: REST off).
#[tokio::test(flavor = "multi_thread")]
async fn decode_replay_applies_the_function_settings() {
    let f = fixture().await;
    let lambda = aws_sdk_lambda::Client::new(&f.conf);
    lambda
        .update_function_configuration()
        .function_name(&f.p.function_arn)
        .environment(
            aws_sdk_lambda::types::Environment::builder()
                .variables("REST_API_ENABLED", "false")
                .variables("MESSAGE_BYTES", "1048576")
                .build(),
        )
        .send()
        .await
        .expect("set function environment");
    let (decode, message_bytes) =
        replay::function_decode_settings(&lambda, &f.p.function_arn, Some(REGION))
            .await
            .expect("function settings");
    assert!(!decode.filter.rest_api_enabled);
    assert_eq!(decode.region.as_deref(), Some(REGION));
    assert_eq!(message_bytes, 1_048_576);

    let o = ReplayOptions {
        decode,
        message_bytes,
        ..opts()
    };
    let s = replay::replay(&f.decode_dlq, &f.queue, None, &o, &ProgressBar::hidden()).await;
    // Every record was a REST one: filtered on purpose and counted, nothing to send, DLQ done.
    assert_eq!(
        (s.moved, s.failed, s.frames_sent),
        (N_RECORDS as u64, 0, 0),
        "{s:?}"
    );
    assert_eq!(
        s.decode.filtered,
        (N_RECORDS * LINES_PER_RECORD) as u64,
        "{:?}",
        s.decode
    );
    assert_eq!(s.decode.records, 0);
    assert!(drain(&f.decode_dlq).await.is_empty());
    assert!(drain(&f.queue).await.is_empty());

    let missing = replay::function_decode_settings(
        &lambda,
        "arn:aws:lambda:us-east-1:123456789012:function:nope",
        None,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        missing.contains("GetFunctionConfiguration") && missing.contains("nope"),
        "{missing}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn undecodable_records_stay_and_invoke_mode_hands_events_back() {
    let f = fixture().await;
    let bar = ProgressBar::hidden();
    // A destination record whose event is not a subscription payload.
    let bad = destination_record(
        &f.p.function_arn,
        &serde_json::json!({"awslogs": {"data": "bm90IGd6aXA="}}),
    );
    send_all(
        &f.decode_dlq,
        vec![OutMessage {
            id: "bad".into(),
            body: bad.clone(),
            attributes: BTreeMap::new(),
        }],
        &SendPolicy::default(),
    )
    .await
    .unwrap();
    // A shipper frame in the decode DLQ is refused when the kind is forced.
    let s = replay::replay(
        &f.shipper_dlq,
        &f.queue,
        None,
        &ReplayOptions {
            kind: SourceKind::Decode,
            max: Some(1),
            ..opts()
        },
        &bar,
    )
    .await;
    assert_eq!((s.moved, s.failed), (0, 1), "{s:?}");
    assert!(
        s.errors[0].contains("not a Lambda destination record"),
        "{:?}",
        s.errors
    );

    let s = replay::replay(&f.decode_dlq, &f.queue, None, &opts(), &bar).await;
    assert_eq!((s.moved, s.failed), (N_RECORDS as u64, 1), "{s:?}");
    assert!(s.errors[0].contains("does not decode"), "{:?}", s.errors);
    let left = drain(&f.decode_dlq).await;
    assert_eq!(left.len(), 1, "the bad record stays in the DLQ");
    assert_eq!(left[0].body, bad);

    // --invoke: each event goes back to the decode function (moto accepts async invokes).
    drain(&f.queue).await;
    let mut msgs = Vec::new();
    for (i, ev) in events("d4e5f6", "inv", 4).iter().enumerate() {
        msgs.push(OutMessage {
            id: format!("i{i}"),
            body: destination_record(&f.p.function_arn, ev),
            attributes: BTreeMap::new(),
        });
    }
    send_all(&f.decode_dlq, msgs, &SendPolicy::default())
        .await
        .unwrap();
    let invoker = LambdaInvoker {
        client: aws_sdk_lambda::Client::new(&f.conf),
        function: f.p.function_arn.clone(),
    };
    let s = replay::replay(&f.decode_dlq, &f.queue, Some(&invoker), &opts(), &bar).await;
    assert_eq!((s.moved, s.invoked, s.failed), (4, 4, 0), "{s:?}");
    assert!(drain(&f.decode_dlq).await.is_empty());
    assert!(
        drain(&f.queue).await.is_empty(),
        "invoke mode sends nothing itself"
    );
}

/// The binary: queue URLs from the stack, the message-move task tried and (moto has none) the
/// receive → send → delete fallback, JSON summary.
#[tokio::test(flavor = "multi_thread")]
async fn cli_replays_both_dlqs_from_the_stack() {
    let f = fixture().await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_apigw-stream"))
        .args([
            "replay",
            "--json",
            "--endpoint-url",
            &f._moto.endpoint,
            "--region",
            REGION,
        ])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("run apigw-stream replay");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("replay --json");
    let reports = v.as_array().unwrap();
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[0]["kind"], "shipper");
    assert_eq!(reports[0]["method"], "receive-send-delete");
    assert_eq!(reports[0]["moved"], N_FRAMES as u64);
    assert_eq!(reports[1]["kind"], "decode");
    assert_eq!(reports[1]["moved"], N_RECORDS as u64);
    assert!(drain(&f.shipper_dlq).await.is_empty());
    assert!(drain(&f.decode_dlq).await.is_empty());
    let in_queue = drain(&f.queue).await;
    let records: usize = in_queue
        .iter()
        .map(|m| frame::unpack(&m.body).expect("unpack").len())
        .sum();
    assert_eq!(records, (N_FRAMES + N_RECORDS) * LINES_PER_RECORD);
}
