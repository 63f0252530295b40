//! The central pipeline's path: member accounts' subscription payloads arriving through a
//! CloudWatch Logs destination's Kinesis stream, as the Kinesis event source mapping hands them
//! to the decode function (the built binary under the Runtime API harness), then the shipper to
//! the local collector. Truth: the request ids generated here, the member accounts written into
//! the payloads, the frames on moto's queue and the ids the collector accepted.
#![cfg(feature = "cli")]

mod common;
mod e2e_support;
mod lambda_support;

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::time::Duration;

use apigw_stream::ship::bridge::receiver::Faults;
use base64::Engine;
use flate2::write::GzEncoder;
use flate2::Compression;
use lambda_support::triggers::{create_queue, drain_bodies, queue_depth, SqsEventSource};
use lambda_support::{moto, Function, FunctionSpec, Outcome, DECODE, SHIPPER};
use serde_json::{json, Value};

const MEMBER_A: &str = "444455556666";
const MEMBER_B: &str = "777788889999";
const CENTRAL: &str = lambda_support::ACCOUNT;

fn gzip_b64(v: &Value) -> String {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(v.to_string().as_bytes()).expect("gzip");
    base64::engine::general_purpose::STANDARD.encode(gz.finish().expect("gzip"))
}

/// An HTTP API access-log line in the recommended format; `account` is `$context.accountId`
/// (`None`: a format without it, so only the payload's owner tells the account).
fn line(api: &str, request_id: &str, account: Option<&str>, epoch_ms: i64) -> String {
    let mut v = json!({
        "requestId": request_id,
        "requestTimeEpoch": epoch_ms.to_string(),
        "httpMethod": "GET",
        "path": "/pets/42",
        "routeKey": "GET /pets/{id}",
        "protocol": "HTTP/1.1",
        "status": "200",
        "responseLength": "48",
        "responseLatency": "31",
        "integrationLatency": "27",
        "ip": "1.128.0.0",
        "userAgent": "curl/8.4.0",
        "domainName": format!("{api}.execute-api.us-east-1.amazonaws.com"),
        "apiId": api,
        "stage": "$default",
    });
    if let Some(a) = account {
        v["accountId"] = json!(a);
    }
    v.to_string()
}

/// One Kinesis record holding a CloudWatch Logs payload written by `owner`.
fn kinesis_record(seq: usize, data: &Value) -> Value {
    json!({
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": format!("{:032x}", seq),
            "sequenceNumber": format!("4959{:052}", seq),
            "data": gzip_b64(data),
            "approximateArrivalTimestamp": 1_765_000_000.5
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": format!("shardId-000000000000:4959{:052}", seq),
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": format!("arn:aws:iam::{CENTRAL}:role/apigw-stream-decode"),
        "awsRegion": "us-east-1",
        "eventSourceARN": format!("arn:aws:kinesis:us-east-1:{CENTRAL}:stream/apigw-stream-central")
    })
}

fn logdata(owner: &str, group: &str, lines: &[String], first_ms: i64) -> Value {
    json!({
        "messageType": "DATA_MESSAGE",
        "owner": owner,
        "logGroup": group,
        "logStream": "7c5e0b5a1f3c4f0a9e8f6d3a2b1c0d9e",
        "subscriptionFilters": ["apigw-stream/http/-/-"],
        "logEvents": lines.iter().enumerate().map(|(i, l)| json!({
            "id": format!("3719{:052}", first_ms as usize + i),
            "timestamp": first_ms + i as i64,
            "message": l,
        })).collect::<Vec<_>>(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_accounts_reach_the_collector_through_the_central_stream() {
    let sqs = moto().sqs();
    let frames_queue = create_queue(&sqs, "central-frames", 30, None).await;
    let queue = create_queue(&sqs, "central-queue", 30, None).await;
    let now_ms = 1_765_000_000_000_i64;

    // What CloudWatch Logs puts in the stream: a control message when a member subscribes, then
    // payloads. Member A's format logs its account; member B's does not (the owner says it).
    let mut records = vec![kinesis_record(
        0,
        &json!({
            "messageType": "CONTROL_MESSAGE",
            "owner": "CloudwatchLogs",
            "logGroup": "",
            "logStream": "",
            "subscriptionFilters": [],
            "logEvents": [{"id": "", "timestamp": now_ms, "message": "CWL CONTROL MESSAGE: Checking health of destination Kinesis stream."}]
        }),
    )];
    let mut expected: BTreeMap<String, &str> = BTreeMap::new();
    for (p, (owner, api, in_line)) in [
        (MEMBER_A, "a1b2c3d4e5", true),
        (MEMBER_B, "f6g7h8i9j0", false),
        (MEMBER_A, "a1b2c3d4e5", true),
        (MEMBER_B, "f6g7h8i9j0", false),
    ]
    .into_iter()
    .enumerate()
    {
        let lines: Vec<String> = (0..25)
            .map(|i| {
                let id = format!("{:08x}-0000-4000-8000-{:012x}", p, i);
                expected.insert(id.clone(), owner);
                line(api, &id, in_line.then_some(owner), now_ms + i)
            })
            .collect();
        let group = format!("/aws/apigateway/apigw-stream/{api}/$default").replace('$', "_");
        records.push(kinesis_record(
            p + 1,
            &logdata(owner, &group, &lines, now_ms),
        ));
    }
    // The mapping's batches: two invocations.
    let second = records.split_off(3);
    let batches = [records, second];

    let mut decode = Function::new(
        FunctionSpec::new(DECODE, "apigw-stream-decode")
            .env("QUEUE_URL", &frames_queue)
            .env("AWS_ENDPOINT_URL", &moto().endpoint)
            .env("MESSAGE_BYTES", "16384")
            .timeout(Duration::from_secs(30)),
    )
    .await;
    for batch in &batches {
        let event = json!({ "Records": batch }).to_string();
        let inv = decode.invoke(event.as_bytes()).await;
        assert!(
            matches!(inv.outcome, Outcome::Response(_)),
            "decode failed on a Kinesis batch: {:?}\n{}",
            inv.outcome,
            lambda_support::tail(&decode.output(), 3000)
        );
    }
    let summaries = decode.log_lines("decode summary");
    assert_eq!(summaries.len(), 2);

    // Every record on the queue carries its member account.
    let bodies = drain_bodies(&sqs, &frames_queue).await;
    let mut seen = HashSet::new();
    for body in &bodies {
        for t in apigw_stream::transport::frame::unpack(body).expect("a frame") {
            let v = serde_json::to_value(&t).expect("record json");
            let id = v
                .pointer("/id")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| panic!("no request id in {v}"));
            let want = expected
                .get(&id)
                .unwrap_or_else(|| panic!("unexpected record {id}"));
            assert_eq!(
                v.pointer("/api/account").and_then(Value::as_str),
                Some(*want),
                "{v}"
            );
            seen.insert(id);
        }
        sqs.send_message()
            .queue_url(&queue)
            .message_body(body)
            .send()
            .await
            .expect("forward the frame");
    }
    assert_eq!(seen.len(), expected.len());

    // The shipper takes them on to the collector.
    let receiver = e2e_support::receiver(Faults::default()).await;
    let mut shipper = Function::new(
        FunctionSpec::new(SHIPPER, "apigw-stream-shipper")
            .env("BRIDGE_URL", receiver.transactions_url())
            .env("AUTH_URL", receiver.token_url())
            .env("CLIENT_ID", e2e_support::CLIENT_ID)
            .env("CLIENT_SECRET", e2e_support::CLIENT_SECRET)
            .env("ALLOW_INSECURE_HTTP", "true")
            .env("AWS_ENDPOINT_URL", &moto().endpoint)
            .timeout(Duration::from_secs(10)),
    )
    .await;
    let mut esm = SqsEventSource::new(sqs.clone(), &queue, 10).await;
    esm.drain(&mut shipper, Duration::from_secs(60)).await;
    let got: HashSet<String> = receiver.accepted_ids().into_iter().collect();
    let want: HashSet<String> = expected.keys().cloned().collect();
    assert_eq!(got, want);
    assert_eq!(queue_depth(&sqs, &queue).await, 0);
    decode.assert_no_panic();
    shipper.assert_no_panic();
}
