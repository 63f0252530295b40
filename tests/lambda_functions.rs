//! The two Lambda binaries run as Lambda runs them: each built binary under a Runtime API, the
//! decode function invoked asynchronously with real subscription events (retries, then the decode
//! DLQ), the shipper driven by an SQS event-source mapping over moto's queues (partial batch
//! responses, redrive to the shipper DLQ), the collector being the local Bridge receiver with
//! faults. Truth comes from the generator's ids, the receiver's accepted ids and moto's queues.
#![cfg(feature = "cli")]

mod common;
mod e2e_support;
mod lambda_support;
mod stitch_support;

use std::collections::HashSet;
use std::io::Write;
use std::time::Duration;

use apigw_stream::decode::{decode_bytes, DecodeOptions, DecodeStats};
use apigw_stream::ship::bridge::receiver::{Faults, Receiver};
use apigw_stream::transport::frame;
use aws_sdk_sqs::types::QueueAttributeName;
use base64::Engine;
use lambda_support::triggers::{
    create_queue, drain_bodies, queue_attribute, queue_depth, AsyncInvoker, SqsEventSource,
};
use lambda_support::{moto, Function, FunctionSpec, Outcome, ACCOUNT, DECODE, SHIPPER};

fn decode_spec(queue_url: &str) -> FunctionSpec {
    FunctionSpec::new(DECODE, "apigw-stream-decode")
        .env("QUEUE_URL", queue_url)
        .env("AWS_ENDPOINT_URL", &moto().endpoint)
        .env("MESSAGE_BYTES", "16384")
        // The generator also writes to the vendor integration's group name, which a deployment
        // allows with ExtraLogGroupPattern (the default allows API Gateway's groups only).
        .env(
            "ALLOWED_LOG_GROUPS",
            "/aws/apigateway/*,API-Gateway-Execution-Logs_*,API-Gateway-Access-Logs_*,/apigw-stream/*,/aws/vendedlogs/apigw-stream/*,cequence-http-api-access-logs",
        )
        .timeout(Duration::from_secs(30))
}

fn shipper_spec(receiver: &Receiver) -> FunctionSpec {
    FunctionSpec::new(SHIPPER, "apigw-stream-shipper")
        .env("BRIDGE_URL", receiver.transactions_url())
        .env("AUTH_URL", receiver.token_url())
        .env("CLIENT_ID", e2e_support::CLIENT_ID)
        .env("CLIENT_SECRET", e2e_support::CLIENT_SECRET)
        .env("ALLOW_INSECURE_HTTP", "true")
        .env("REQUEST_TIMEOUT_MS", "2000")
        // Room after the last retry for the settler's SQS calls (visibility backoff for each
        // failed message) inside the 4 s timeout, on a loaded CI machine too.
        .env("DEADLINE_MARGIN_MS", "1000")
        .env("WINDOW_BYTES", "65536")
        // The settler's SQS calls (visibility backoff, redrive) go to moto too.
        .env("AWS_ENDPOINT_URL", &moto().endpoint)
        .timeout(Duration::from_secs(4))
}

/// The decode function's FIFO stitch queue (visibility 30 s); returns its URL.
async fn stitch_queue(sqs: &aws_sdk_sqs::Client, name: &str) -> String {
    let opts = common::QueueOptions {
        visibility_secs: Some(30),
        fifo: true,
        ..Default::default()
    };
    common::create_queue(sqs, name, opts).await
}

/// A queue and its dead-letter queue; returns (queue URL, DLQ URL).
async fn queue_pair(name: &str, visibility_secs: u32, max_receive: u32) -> (String, String) {
    let sqs = moto().sqs();
    let dlq = create_queue(&sqs, &format!("{name}-dlq"), 60, None).await;
    let dlq_arn = queue_attribute(&sqs, &dlq, QueueAttributeName::QueueArn).await;
    let queue = create_queue(&sqs, name, visibility_secs, Some((&dlq_arn, max_receive))).await;
    (queue, dlq)
}

/// The function's output holds no secret and no panic.
fn assert_clean(f: &Function) {
    f.assert_no_panic();
    assert!(
        !f.output().contains(e2e_support::CLIENT_SECRET),
        "{} logged the client secret",
        f.spec.name
    );
}

/// Sum of the decode function's logged summaries: (records, filtered, lines_unparsed).
fn decode_summaries(f: &Function) -> (u64, u64, u64) {
    let mut t = (0, 0, 0);
    for line in f.log_lines("decode summary") {
        let s: serde_json::Value = line
            .pointer("/fields/summary")
            .and_then(|s| s.as_str())
            .and_then(|s| serde_json::from_str(s).ok())
            .expect("a decode summary holds its counts as JSON");
        let n = |k: &str| s.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
        t.0 += n("records");
        t.1 += n("filtered");
        t.2 += n("lines_unparsed");
    }
    t
}

fn accepted(receiver: &Receiver) -> HashSet<String> {
    receiver.accepted_ids().into_iter().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_events_reach_the_collector_through_both_functions() {
    let sqs = moto().sqs();
    let (queue, shipper_dlq) = queue_pair("lf-e2e", 2, 10).await;
    let decode_dlq = create_queue(&sqs, "lf-e2e-decode-dlq", 60, None).await;

    let payloads = e2e_support::payloads(2_000, 41, 64 * 1024);
    let generated: HashSet<String> = payloads
        .iter()
        .flat_map(|p| p.request_ids.iter().cloned())
        .collect();
    let static_requests: usize = payloads.iter().map(|p| p.static_request_ids.len()).sum();

    // 503/429 with Retry-After are retried inside the invocation until its 4 s run out; windows
    // still failing then must come back through batchItemFailures (a 400 no longer fails a
    // window: it is bisected down to the rejected record). Tokens expire between invocations.
    let receiver = e2e_support::receiver(Faults {
        fail_rate: 0.1,
        fail_status: 503,
        // An outage at the start, longer than one invocation's retries can wait out.
        statuses: std::iter::repeat_n(503, 30).chain([429]).collect(),
        retry_after_secs: Some(1),
        token_ttl_secs: 2,
        ..Faults::default()
    })
    .await;

    let mut decode = Function::new(decode_spec(&queue)).await;
    let invoker = AsyncInvoker::new(sqs.clone(), Some(decode_dlq.clone()));
    for p in &payloads {
        let r = invoker.invoke(&mut decode, &p.event).await;
        assert!(
            r.succeeded() && r.attempts.len() == 1,
            "decode failed: {:?}\n{}",
            r.attempts.last().map(|a| &a.outcome),
            lambda_support::tail(&decode.output(), 3000)
        );
    }
    assert_eq!(decode.starts, 1, "one warm environment for every event");
    let (records, filtered, unparsed) = decode_summaries(&decode);
    assert_eq!(unparsed, 0);
    assert_eq!(records + filtered, generated.len() as u64);
    // Only requests for static files are filtered (and not all of them: some extensions are
    // not on the default list).
    assert!(filtered > 0 && filtered <= static_requests as u64);

    let mut shipper = Function::new(shipper_spec(&receiver)).await;
    let mut esm = SqsEventSource::new(sqs.clone(), &queue, 10).await;
    let stats = esm
        .drain(&mut shipper, Duration::from_secs(180))
        .await
        .clone();

    let got = accepted(&receiver);
    let missing: Vec<&String> = generated.difference(&got).collect();
    assert_eq!(
        missing.len() as u64,
        filtered,
        "ids never delivered beyond the filtered ones, e.g. {:?}; {stats:?}",
        missing.iter().take(5).collect::<Vec<_>>()
    );
    assert!(
        got.is_subset(&generated),
        "the receiver got ids nobody generated"
    );
    assert!(
        stats.item_failures > 0 && stats.max_receive_count > 1,
        "failed windows must come back through batchItemFailures: {stats:?}"
    );
    assert!(receiver.stats().faults_injected > 0);
    assert_eq!(queue_depth(&sqs, &queue).await, 0);
    assert_eq!(queue_depth(&sqs, &shipper_dlq).await, 0);
    assert_eq!(queue_depth(&sqs, &decode_dlq).await, 0);
    assert_eq!(shipper.starts, 1, "the shipper never crashed: {stats:?}");
    assert_clean(&decode);
    assert_clean(&shipper);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_frame_ends_in_the_shipper_dlq() {
    let sqs = moto().sqs();
    let (queue, dlq) = queue_pair("lf-poison", 1, 2).await;
    let payloads = e2e_support::payloads(300, 9, 64 * 1024);
    let mut stats = DecodeStats::default();
    let records: Vec<_> = payloads
        .iter()
        .flat_map(|p| decode_bytes(&p.event, &DecodeOptions::default(), &mut stats).unwrap())
        .collect();
    let ids: HashSet<String> = records.iter().map(|r| r.id.clone()).collect();
    let frames = frame::pack(&records, 16 * 1024).unwrap();
    assert!(frames.len() > 3);
    let good = frame::pack(&records[..10], 16 * 1024).unwrap();
    let poison = format!("{}!!", &good[0].body[..good[0].body.len() / 2]);
    for (i, f) in frames.iter().enumerate() {
        let m = f.to_message(i.to_string());
        let mut req = sqs.send_message().queue_url(&queue).message_body(&m.body);
        for (k, v) in &m.attributes {
            req = req.message_attributes(
                k,
                aws_sdk_sqs::types::MessageAttributeValue::builder()
                    .data_type(v.data_type())
                    .string_value(v.value())
                    .build()
                    .unwrap(),
            );
        }
        req.send().await.unwrap();
        if i == 1 {
            sqs.send_message()
                .queue_url(&queue)
                .message_body(&poison)
                .send()
                .await
                .unwrap();
        }
    }

    let receiver = e2e_support::receiver(Faults::default()).await;
    let mut shipper = Function::new(shipper_spec(&receiver)).await;
    let mut esm = SqsEventSource::new(sqs.clone(), &queue, 10).await;
    let stats = esm
        .drain(&mut shipper, Duration::from_secs(60))
        .await
        .clone();

    assert_eq!(accepted(&receiver), ids, "{stats:?}");
    assert_eq!(drain_bodies(&sqs, &dlq).await, vec![poison], "{stats:?}");
    assert_eq!(
        stats.item_failures, 2,
        "reported failed on both receives: {stats:?}"
    );
    assert_eq!(stats.failed_invocations, 0, "{stats:?}");
    assert_eq!(
        shipper
            .log_lines("cannot unpack a queue message; reporting it failed")
            .len(),
        2
    );
    assert_clean(&shipper);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payload_failing_three_times_goes_to_the_decode_dlq_and_replay_brings_it_back() {
    let sqs = moto().sqs();
    let decode_dlq = create_queue(&sqs, "lf-replay-decode-dlq", 60, None).await;
    // The queue does not exist yet: every send fails, as in an outage or a misconfiguration.
    let queue_name = "lf-replay";
    let queue_url = format!("{}/{ACCOUNT}/{queue_name}", moto().endpoint);
    let payload = e2e_support::payloads(200, 13, 1_000_000).remove(0);
    let generated: HashSet<String> = payload.request_ids.iter().cloned().collect();

    let mut decode = Function::new(decode_spec(&queue_url)).await;
    let invoker = AsyncInvoker::new(sqs.clone(), Some(decode_dlq.clone()));
    let result = invoker.invoke(&mut decode, &payload.event).await;
    assert_eq!(result.attempts.len(), 3, "{:?}", result.attempts);
    for a in &result.attempts {
        match &a.outcome {
            Outcome::Error { .. } => {
                let msg = a.outcome.error_message().unwrap_or_default();
                assert!(msg.contains(queue_name) || msg.contains("exist"), "{msg}");
                assert!(!a.outcome.is_panic(), "{msg}");
            }
            other => panic!("decode must fail with an error, not {other:?}"),
        }
    }
    assert_eq!(decode.starts, 1, "an error return keeps the environment");
    assert!(result.dead_lettered.is_some());

    // The destination record holds the original event.
    let body = sqs
        .receive_message()
        .queue_url(&decode_dlq)
        .visibility_timeout(0)
        .send()
        .await
        .unwrap()
        .messages()[0]
        .body()
        .unwrap()
        .to_string();
    let record: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(record["requestContext"]["approximateInvokeCount"], 3);
    let original: serde_json::Value = serde_json::from_slice(&payload.event).unwrap();
    assert_eq!(record["requestPayload"], original);

    // The queue comes back; the operator replays the decode DLQ.
    let (queue, shipper_dlq) = queue_pair(queue_name, 2, 5).await;
    assert_eq!(queue, queue_url);
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_apigw-stream"))
        .args(["replay", "--kind", "decode", "--json", "--no-move-task"])
        .args(["--from", &decode_dlq, "--to", &queue])
        .args(["--endpoint-url", &moto().endpoint, "--region", "us-east-1"])
        .args(["--message-bytes", "16384"])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "replay failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report[0]["moved"], 1, "{stdout}");
    assert_eq!(queue_depth(&sqs, &decode_dlq).await, 0);
    let filtered = report[0]["decode"]["filtered"].as_u64().unwrap();

    let receiver = e2e_support::receiver(Faults::default()).await;
    let mut shipper = Function::new(shipper_spec(&receiver)).await;
    let mut esm = SqsEventSource::new(sqs.clone(), &queue, 10).await;
    esm.drain(&mut shipper, Duration::from_secs(60)).await;
    let got = accepted(&receiver);
    assert!(got.is_subset(&generated));
    assert_eq!(got.len() as u64, generated.len() as u64 - filtered);
    assert!(filtered <= payload.static_request_ids.len() as u64);
    assert_eq!(queue_depth(&sqs, &shipper_dlq).await, 0);
    assert_clean(&decode);
    assert_clean(&shipper);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_setting_fails_init_naming_the_variable() {
    let queue = format!("{}/{ACCOUNT}/lf-init", moto().endpoint);
    let receiver = e2e_support::receiver(Faults::default()).await;
    let cases: Vec<(FunctionSpec, &str)> = vec![
        (FunctionSpec::new(DECODE, "decode-no-queue"), "QUEUE_URL"),
        (
            decode_spec(&queue).env("MESSAGE_BYTES", "lots"),
            "MESSAGE_BYTES",
        ),
        (
            decode_spec(&queue).env("REST_API_ENABLED", "maybe"),
            "REST_API_ENABLED",
        ),
        (shipper_spec(&receiver).env("BRIDGE_URL", ""), "BRIDGE_URL"),
        (
            shipper_spec(&receiver).env("WINDOW_BYTES", "12"),
            "WINDOW_BYTES",
        ),
        (
            shipper_spec(&receiver).env("CLIENT_SECRET", ""),
            "CLIENT_SECRET",
        ),
    ];
    for (spec, var) in cases {
        let mut f = Function::new(spec).await;
        let inv = f.invoke(br#"{"awslogs":{"data":""}}"#).await;
        let Outcome::InitError(body) = &inv.outcome else {
            panic!("{var}: expected an init error, got {:?}", inv.outcome);
        };
        let msg = body["errorMessage"].as_str().unwrap_or_default();
        assert!(msg.contains(var), "{var}: {body}");
        assert!(f.output().contains(var), "{var}: not in the log");
        assert_clean(&f);
    }
    // A good configuration starts and reaches /next.
    let mut ok = Function::new(decode_spec(&queue)).await;
    ok.start().await.expect("a good configuration starts");
}

/// A gzip stream of `n` zero bytes.
fn gzip_zeros(n: usize) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..n / chunk.len() {
        gz.write_all(&chunk).unwrap();
    }
    gz.finish().unwrap()
}

fn awslogs(data: &str) -> Vec<u8> {
    serde_json::json!({"awslogs": {"data": data}})
        .to_string()
        .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_fails_cleanly_and_never_panics() {
    let sqs = moto().sqs();
    let queue = create_queue(&sqs, "lf-hostile", 30, None).await;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let mut gz_json = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz_json
        .write_all(b"{\"logEvents\": [ this is not json")
        .unwrap();
    let gz_json = gz_json.finish().unwrap();

    let hostile: Vec<(&str, Vec<u8>)> = vec![
        // 80 MiB of zeros in ~80 KB: over the 64 MiB MAX_PAYLOAD_BYTES default.
        ("gzip bomb", awslogs(&b64(&gzip_zeros(80 << 20)))),
        ("garbage base64", awslogs("%%% not base64 at all %%%")),
        ("base64 of no gzip", awslogs(&b64(b"hello world, not gzip"))),
        (
            "truncated gzip",
            awslogs(&b64(&gz_json[..gz_json.len() / 2])),
        ),
        ("gzip of broken JSON", awslogs(&b64(&gz_json))),
        (
            "data of the wrong type",
            br#"{"awslogs":{"data":12345}}"#.to_vec(),
        ),
        ("not an object", b"[1,2,3]".to_vec()),
    ];
    let mut decode = Function::new(decode_spec(&queue)).await;
    for (what, event) in &hostile {
        let inv = decode.invoke(event).await;
        let Outcome::Error { .. } = &inv.outcome else {
            panic!("{what}: expected an error, got {:?}", inv.outcome);
        };
        let msg = inv.outcome.error_message().unwrap_or_default();
        assert!(!inv.outcome.is_panic() && !msg.is_empty(), "{what}: {msg}");
    }
    assert!(
        decode.output().contains("refusing a possible gzip bomb"),
        "the bomb's cause is logged"
    );
    // An empty `data` holds nothing: a success with nothing queued, not a retry into the DLQ.
    let inv = decode.invoke(&awslogs("")).await;
    assert!(!inv.outcome.is_error(), "empty data: {:?}", inv.outcome);
    // The environment survived all of it and still works.
    let good = e2e_support::payloads(50, 3, 64 * 1024).remove(0);
    let inv = decode.invoke(&good.event).await;
    assert!(!inv.outcome.is_error(), "{:?}", inv.outcome);
    assert_eq!(decode.starts, 1);
    assert_clean(&decode);

    // The shipper: an event that is no SQS event, bodies that are no frames, and a collector
    // answering 429 with a Retry-After of ~300 years.
    let receiver = e2e_support::receiver(Faults {
        fail_rate: 1.0,
        fail_status: 429,
        retry_after_secs: Some(10_000_000_000),
        ..Faults::default()
    })
    .await;
    let mut shipper = Function::new(shipper_spec(&receiver)).await;
    let inv = shipper.invoke(br#"{"Records":"nope"}"#).await;
    assert!(
        matches!(inv.outcome, Outcome::Error { .. }),
        "{:?}",
        inv.outcome
    );
    assert!(!inv.outcome.is_panic());

    let mut stats = DecodeStats::default();
    let records = decode_bytes(&good.event, &DecodeOptions::default(), &mut stats).unwrap();
    let frames = frame::pack(&records, 16 * 1024).unwrap();
    let event = serde_json::json!({"Records": [
        {"messageId": "m-garbage", "receiptHandle": "h1", "body": "not a frame", "attributes": {"ApproximateReceiveCount": "1"}, "eventSource": "aws:sqs"},
        {"messageId": "m-frame", "receiptHandle": "h2", "body": frames[0].body, "attributes": {"ApproximateReceiveCount": "1"}, "eventSource": "aws:sqs"},
    ]});
    let inv = shipper.invoke(event.to_string().as_bytes()).await;
    let response = inv.outcome.json().expect("a partial batch response");
    let mut failed: Vec<&str> = response["batchItemFailures"]
        .as_array()
        .expect("batchItemFailures")
        .iter()
        .filter_map(|f| f["itemIdentifier"].as_str())
        .collect();
    failed.sort();
    assert_eq!(failed, ["m-frame", "m-garbage"]);
    assert!(
        inv.duration < shipper.spec.timeout,
        "answered within the deadline despite Retry-After: {:?}",
        inv.duration
    );
    assert!(receiver.stats().faults_injected > 0);
    assert_eq!(shipper.starts, 1);
    assert_clean(&shipper);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_requests_are_stitched_by_the_decode_function_from_its_fifo_queue() {
    let sqs = moto().sqs();
    let (queue, _dlq) = queue_pair("lf-stitch", 2, 10).await;
    let stitch_queue = stitch_queue(&sqs, "lf-stitch.fifo").await;

    let mut payloads = stitch_support::split_payloads(200, 23, 0.3);
    let truth = stitch_support::Truth::of(&payloads);
    stitch_support::shuffle(&mut payloads, 8);

    let mut decode = Function::new(
        decode_spec(&queue)
            .env("STITCH_QUEUE_URL", &stitch_queue)
            .env("STITCH_HOLD_SECS", "120"),
    )
    .await;
    let invoker = AsyncInvoker::new(sqs.clone(), None);
    for p in &payloads {
        let r = invoker.invoke(&mut decode, &p.event).await;
        assert!(
            r.succeeded(),
            "{}",
            lambda_support::tail(&decode.output(), 3000)
        );
    }
    assert!(
        queue_depth(&sqs, &stitch_queue).await > 0,
        "parts wait in the stitch queue"
    );
    // The stitch queue's event-source mapping invokes the same function with SQS events.
    let mut stitch_esm = SqsEventSource::new(sqs.clone(), &stitch_queue, 10).await;
    stitch_esm
        .drain(&mut decode, Duration::from_secs(120))
        .await;

    let receiver = e2e_support::receiver(Faults::default()).await;
    let mut shipper = Function::new(shipper_spec(&receiver)).await;
    let mut esm = SqsEventSource::new(sqs.clone(), &queue, 10).await;
    esm.drain(&mut shipper, Duration::from_secs(120)).await;

    stitch_support::assert_exactly_once(&truth, &stitch_support::counts(receiver.accepted_ids()));
    let stitched: u64 = decode
        .log_lines("stitch summary")
        .iter()
        .filter_map(|l| l.pointer("/fields/stats").and_then(|s| s.as_str()))
        .filter_map(|s| serde_json::from_str::<serde_json::Value>(s).ok())
        .filter_map(|s| s.get("stitched").and_then(|v| v.as_u64()))
        .sum();
    assert!(
        stitched > 0,
        "{}",
        lambda_support::tail(&decode.output(), 3000)
    );
    assert_clean(&decode);
    assert_clean(&shipper);
}

/// Joined mode through the real decode binary: a REST stage's execution logs (20% of requests cut
/// across two payloads) and its access log for the same requests. The execution payloads come
/// first and the stitch queue's event-source mapping runs while the access payloads are still
/// arriving (the joined parts last), so parts wait in the queue and meet their other part within
/// the hold. Every request reaches the collector exactly once, with the caller, latency and length
/// from the access log and the exchange from the execution log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joined_mode_through_the_decode_function_gives_one_transaction_per_request() {
    let sqs = moto().sqs();
    let (queue, _dlq) = queue_pair("lf-join", 2, 10).await;
    let stitch_queue = stitch_queue(&sqs, "lf-join.fifo").await;

    let exec = stitch_support::split_payloads(160, 29, 0.2);
    let truth = stitch_support::Truth::of(&exec);
    let mut exec_events: Vec<Vec<u8>> = exec.iter().map(|p| p.event.clone()).collect();
    stitch_support::shuffle(&mut exec_events, 4);
    let mut access_events: Vec<Vec<u8>> = exec
        .iter()
        .enumerate()
        .filter(|(_, p)| !p.expected.is_empty())
        .map(|(n, p)| stitch_support::access_payload(p, n))
        .collect();
    stitch_support::shuffle(&mut access_events, 6);

    let mut decode = Function::new(
        decode_spec(&queue)
            .env("STITCH_QUEUE_URL", &stitch_queue)
            .env("STITCH_HOLD_SECS", "120")
            .env(
                "JOIN_STAGES",
                stitch_support::joined_stages(&exec).join(","),
            ),
    )
    .await;
    let invoker = AsyncInvoker::new(sqs.clone(), None);
    let mut stitch_esm = SqsEventSource::new(sqs.clone(), &stitch_queue, 10).await;
    for p in &exec_events {
        let r = invoker.invoke(&mut decode, p).await;
        assert!(
            r.succeeded(),
            "{}",
            lambda_support::tail(&decode.output(), 3000)
        );
    }
    // The mapping works on what is there: every part waits for its access record.
    for _ in 0..3 {
        stitch_esm.poll_once(&mut decode).await;
    }
    for (i, p) in access_events.iter().enumerate() {
        let r = invoker.invoke(&mut decode, p).await;
        assert!(
            r.succeeded(),
            "{}",
            lambda_support::tail(&decode.output(), 3000)
        );
        if i % 4 == 0 {
            stitch_esm.poll_once(&mut decode).await;
        }
    }
    stitch_esm
        .drain(&mut decode, Duration::from_secs(150))
        .await;
    assert_eq!(
        queue_depth(&sqs, &stitch_queue).await,
        0,
        "every part settled"
    );

    let out = tempfile::tempdir().expect("a temporary directory");
    let receiver = stitch_support::receiver(out.path()).await;
    let mut shipper = Function::new(shipper_spec(&receiver).env("BRIDGE_FORMAT", "ndjson")).await;
    let mut esm = SqsEventSource::new(sqs.clone(), &queue, 10).await;
    esm.drain(&mut shipper, Duration::from_secs(120)).await;

    // The access path fills the path of a throttled request, so every static file is filtered.
    let want: HashSet<String> = truth
        .expected
        .keys()
        .filter(|id| !truth.static_files.contains(*id))
        .cloned()
        .collect();
    let accepted = stitch_support::counts(receiver.accepted_ids());
    let twice: Vec<_> = accepted.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "delivered twice: {twice:?}");
    let got: HashSet<String> = accepted.keys().cloned().collect();
    let missing: Vec<_> = want.difference(&got).collect();
    assert!(missing.is_empty(), "never delivered: {missing:?}");
    let extra: Vec<_> = got.difference(&want).collect();
    assert!(extra.is_empty(), "not expected: {extra:?}");
    for r in stitch_support::received_records(out.path()) {
        let e = &truth.expected[&r.id];
        let ip = r.request.client_ip.as_deref().unwrap_or_default();
        assert!(ip.starts_with("198.51.100."), "{}: ip {ip}", r.id);
        assert_eq!(r.response.latency_ms, Some(1234), "{}", r.id);
        assert_eq!(r.response.status, Some(e.status), "{}", r.id);
        assert_eq!(
            r.response.body.is_some(),
            e.response_body.is_some(),
            "{}",
            r.id
        );
        assert_eq!(r.flags.partial, e.request_headers_cut, "{}", r.id);
    }
    let alone: u64 = decode
        .log_lines("stitch summary")
        .iter()
        .filter_map(|l| l.pointer("/fields/stats").and_then(|s| s.as_str()))
        .filter_map(|s| serde_json::from_str::<serde_json::Value>(s).ok())
        .filter_map(|s| s.get("delivered_alone").and_then(|v| v.as_u64()))
        .sum();
    assert_eq!(alone, 0, "{}", lambda_support::tail(&decode.output(), 3000));
    assert_clean(&decode);
    assert_clean(&shipper);
}
