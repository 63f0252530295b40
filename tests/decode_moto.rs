//! The decode stage against moto's server: our decoder on payloads moto's CloudWatch Logs
//! produced (an encoder nobody here wrote), and the decode Lambda's SQS path.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use apigw_stream::decode::{decode_bytes, DecodeOptions, DecodeStats};
use apigw_stream::transport::frame::unpack;
use apigw_stream::transport::queue::{
    EntryFailure, InMessage, OutMessage, Queue, QueueError, SendPolicy, SqsQueue,
};
use async_trait::async_trait;
use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use aws_sdk_kinesis::types::ShardIteratorType;
use common::forward;

fn real_lines() -> Vec<String> {
    let dir = common::fixtures_dir().join("lines");
    let mut out = Vec::new();
    for f in [
        "rest-json.log",
        "http-json.log",
        "rest-clf.log",
        "rest-xml.log",
        "http-csv.log",
    ] {
        let text = std::fs::read_to_string(dir.join(f)).unwrap();
        out.extend(text.lines().map(str::to_string));
    }
    out
}

#[tokio::test]
async fn decodes_what_motos_subscription_filter_sends_to_kinesis() {
    let moto = common::Moto::start();
    let conf = moto.sdk_config();
    let logs = aws_sdk_cloudwatchlogs::Client::new(&conf);
    let kinesis = aws_sdk_kinesis::Client::new(&conf);

    kinesis
        .create_stream()
        .stream_name("apigw-logs")
        .shard_count(1)
        .send()
        .await
        .unwrap();
    let desc = kinesis
        .describe_stream()
        .stream_name("apigw-logs")
        .send()
        .await
        .unwrap();
    let stream = desc.stream_description.unwrap();
    let group = "/aws/apigateway/petstore-prod";
    logs.create_log_group()
        .log_group_name(group)
        .send()
        .await
        .unwrap();
    logs.create_log_stream()
        .log_group_name(group)
        .log_stream_name("s1")
        .send()
        .await
        .unwrap();
    logs.put_subscription_filter()
        .log_group_name(group)
        .filter_name("apigw-stream/rest/asad15n3p0/prod")
        .filter_pattern("")
        .destination_arn(stream.stream_arn)
        .role_arn("arn:aws:iam::123456789012:role/cwl-to-kinesis")
        .send()
        .await
        .unwrap();

    let lines = real_lines();
    let now = chrono::Utc::now().timestamp_millis();
    let mut put = logs
        .put_log_events()
        .log_group_name(group)
        .log_stream_name("s1");
    for (i, l) in lines.iter().enumerate() {
        put = put.log_events(
            InputLogEvent::builder()
                .timestamp(now + i as i64)
                .message(l)
                .build()
                .unwrap(),
        );
    }
    put.send().await.unwrap();

    let shard = stream.shards[0].shard_id.clone();
    let it = kinesis
        .get_shard_iterator()
        .stream_name("apigw-logs")
        .shard_id(shard)
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap()
        .shard_iterator
        .unwrap();
    let got = kinesis
        .get_records()
        .shard_iterator(it)
        .send()
        .await
        .unwrap();
    assert!(
        !got.records.is_empty(),
        "moto delivered no record to the stream"
    );

    let mut records = Vec::new();
    let mut stats = DecodeStats::default();
    for rec in &got.records {
        records.extend(
            decode_bytes(rec.data.as_ref(), &DecodeOptions::default(), &mut stats).unwrap(),
        );
    }
    assert_eq!(stats.lines_unparsed, 0);
    assert_eq!(records.len(), lines.len());
    for r in &records {
        assert_eq!(r.source.log_group, group);
        assert_eq!(r.source.log_stream, "s1");
        // The kind, id and stage come from the filter name where the line lacks them.
        assert!(r.api.stage.is_some());
    }
    let clf = records
        .iter()
        .find(|r| r.source.format == apigw_stream::transaction::SourceFormat::AccessClf)
        .unwrap();
    assert_eq!(clf.api.id.as_deref(), Some("asad15n3p0"));
    assert_eq!(clf.api.stage.as_deref(), Some("prod"));
    assert_eq!(clf.api.account.as_deref(), Some("123456789012"));
}

async fn create_queue(conf: &aws_config::SdkConfig, name: &str, max_size: u32) -> SqsQueue {
    let opts = common::QueueOptions {
        max_message_bytes: Some(max_size),
        ..Default::default()
    };
    common::sqs_queue(conf, name, opts).await
}

fn many_lines_event(n: usize) -> Vec<u8> {
    use base64::Engine;
    use std::io::Write;
    let events: Vec<_> = (0..n)
        .map(|i| serde_json::json!({"id": i.to_string(), "timestamp": 1_690_000_000_000i64 + i as i64,
            "message": format!(r#"{{"requestId":"req-{i:06}","httpMethod":"POST","path":"/prod/orders/{i}","resourcePath":"/orders/{{id}}","status":"201","ip":"10.0.{}.{}","userAgent":"agent/{i}","stage":"prod","apiId":"abc123"}}"#, i / 256 % 256, i % 256)}))
        .collect();
    let data = serde_json::json!({"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"g","logStream":"s","subscriptionFilters":["f"],"logEvents":events});
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(data.to_string().as_bytes()).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
    serde_json::json!({"awslogs":{"data": b64}})
        .to_string()
        .into_bytes()
}

#[tokio::test]
async fn decode_lambda_path_sends_bounded_frames_that_unpack_to_the_same_records() {
    let moto = common::Moto::start();
    let conf = moto.sdk_config();
    let q = create_queue(&conf, "records", 1_048_576).await;
    let input = many_lines_event(3000);
    let opts = DecodeOptions::default();
    let limit = 16_384;
    let summary = forward(&input, "test", &opts, limit, &q, &SendPolicy::default())
        .await
        .unwrap();
    assert_eq!(summary.records, 3000);
    assert!(
        summary.messages_sent > 1,
        "3000 records should need several 16 KiB frames"
    );

    let expected = decode_bytes(&input, &opts, &mut DecodeStats::default()).unwrap();
    let msgs = common::drain(&q, Duration::from_secs(60)).await;
    assert_eq!(msgs.len() as u64, summary.messages_sent);
    let mut got = Vec::new();
    for m in &msgs {
        let attrs: usize = m
            .attributes
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum::<usize>()
            + "StringStringNumber".len();
        assert!(
            m.body.len() + attrs <= limit,
            "message of {} bytes",
            m.body.len() + attrs
        );
        assert_eq!(m.attributes["encoding"], "ndjson+gzip+base64");
        assert_eq!(m.attributes["schema"], "apigw-stream/v1");
        let recs = unpack(&m.body).unwrap();
        assert_eq!(m.attributes["records"], recs.len().to_string());
        got.extend(recs);
    }
    // SQS does not keep order across messages; compare as sets of whole records.
    got.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(got, expected);
}

/// Fault injection on our side of the trait: the first attempt of every other entry is reported
/// failed (as SQS does under throttling); the rest goes to moto's real SQS.
struct FlakyFirstAttempt {
    inner: SqsQueue,
    calls: AtomicUsize,
}

#[async_trait]
impl Queue for FlakyFirstAttempt {
    fn name(&self) -> &str {
        self.inner.name()
    }
    async fn send_batch(&self, entries: &[OutMessage]) -> Result<Vec<EntryFailure>, QueueError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            let (fail, pass): (Vec<_>, Vec<_>) = entries
                .iter()
                .cloned()
                .enumerate()
                .partition(|(i, _)| i % 2 == 0);
            let pass: Vec<_> = pass.into_iter().map(|(_, m)| m).collect();
            let mut failures = self.inner.send_batch(&pass).await?;
            failures.extend(fail.into_iter().map(|(_, m)| EntryFailure {
                id: m.id,
                code: "RequestThrottled".into(),
                message: "injected".into(),
                sender_fault: false,
            }));
            return Ok(failures);
        }
        self.inner.send_batch(entries).await
    }
    async fn receive(
        &self,
        max: usize,
        wait: Duration,
        vis: Duration,
    ) -> Result<Vec<InMessage>, QueueError> {
        self.inner.receive(max, wait, vis).await
    }
    async fn delete(&self, h: &[String]) -> Result<(), QueueError> {
        self.inner.delete(h).await
    }
    async fn change_visibility(&self, h: &str, t: Duration) -> Result<(), QueueError> {
        self.inner.change_visibility(h, t).await
    }
    async fn approximate_len(&self) -> Result<usize, QueueError> {
        self.inner.approximate_len().await
    }
}

#[tokio::test]
async fn failed_entries_are_retried_until_sent() {
    let moto = common::Moto::start();
    let conf = moto.sdk_config();
    let q = FlakyFirstAttempt {
        inner: create_queue(&conf, "flaky", 1_048_576).await,
        calls: AtomicUsize::new(0),
    };
    let input = many_lines_event(400);
    let policy = SendPolicy {
        concurrency: 1,
        initial_backoff: Duration::from_millis(5),
        ..SendPolicy::default()
    };
    let summary = forward(&input, "test", &DecodeOptions::default(), 4096, &q, &policy)
        .await
        .unwrap();
    assert!(summary.send_retried > 0);
    let msgs = common::drain(&q.inner, Duration::from_secs(60)).await;
    assert_eq!(msgs.len() as u64, summary.messages_sent);
    let ids: HashSet<String> = msgs
        .iter()
        .flat_map(|m| unpack(&m.body).unwrap())
        .map(|r| r.id)
        .collect();
    assert_eq!(ids.len(), 400);
}

#[tokio::test]
async fn entries_that_keep_failing_fail_the_invocation() {
    let moto = common::Moto::start();
    let conf = moto.sdk_config();
    // A queue whose MaximumMessageSize is below our frames: SQS rejects every send.
    let q = create_queue(&conf, "tiny", 1024).await;
    let policy = SendPolicy {
        attempts: 3,
        initial_backoff: Duration::from_millis(5),
        ..SendPolicy::default()
    };
    let err = forward(
        &many_lines_event(200),
        "test",
        &DecodeOptions::default(),
        8192,
        &q,
        &policy,
    )
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("tiny") && text.contains("3 attempts"),
        "{text}"
    );
}
