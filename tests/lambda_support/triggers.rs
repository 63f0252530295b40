//! What invokes the functions in AWS, emulated over moto's SQS:
//! - the SQS event-source mapping of the shipper: receive a batch, build the `SqsEvent`, invoke,
//!   delete exactly the messages not reported in `batchItemFailures` (by Lambda's rules for a
//!   partial batch response), leave the rest to come back after the visibility timeout and, past
//!   `maxReceiveCount`, to the queue's redrive to its dead-letter queue;
//! - the asynchronous invocation that CloudWatch Logs subscriptions use for decode: the event,
//!   twice more on error, then an on-failure destination record in the decode DLQ.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use aws_lambda_events::encodings::Base64Data;
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage, SqsMessageAttribute};
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, MessageSystemAttributeName, QueueAttributeName,
};

use super::{Function, Invocation, Outcome, MAX_SYNC_PAYLOAD, REGION};

// ---------------------------------------------------------------------------------------------
// SQS event-source mapping

/// Counts of what the mapping did.
#[derive(Debug, Clone, Default)]
pub struct EsmStats {
    pub invocations: u64,
    pub received: u64,
    pub deleted: u64,
    /// Messages named in a valid `batchItemFailures` (left in the queue).
    pub item_failures: u64,
    /// Invocations that failed as a whole (error, crash, timeout, invalid response): their
    /// messages are all left in the queue.
    pub failed_invocations: u64,
    /// Highest `ApproximateReceiveCount` handed to the function.
    pub max_receive_count: u32,
    pub durations: Vec<Duration>,
}

/// The event-source mapping of one queue.
pub struct SqsEventSource {
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
    pub queue_arn: String,
    /// Most messages per invocation (`BatchSize`).
    pub batch_size: usize,
    /// Long-poll wait of the first receive of a batch.
    pub wait_secs: i32,
    pub stats: EsmStats,
}

impl SqsEventSource {
    pub async fn new(sqs: aws_sdk_sqs::Client, queue_url: &str, batch_size: usize) -> Self {
        let queue_arn = queue_attribute(&sqs, queue_url, QueueAttributeName::QueueArn).await;
        SqsEventSource {
            sqs,
            queue_url: queue_url.to_string(),
            queue_arn,
            batch_size,
            wait_secs: 1,
            stats: EsmStats::default(),
        }
    }

    /// Receive one batch and hand it to `function`; returns how many messages were received.
    pub async fn poll_once(&mut self, function: &mut Function) -> usize {
        let mut batch = Vec::new();
        while batch.len() < self.batch_size {
            let want = (self.batch_size - batch.len()).min(10) as i32;
            let out = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(want)
                .wait_time_seconds(if batch.is_empty() { self.wait_secs } else { 0 })
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .message_attribute_names("All")
                .send()
                .await
                .expect("ReceiveMessage");
            let got = out.messages().len();
            batch.extend(out.messages().iter().map(|m| self.record(m)));
            if got < want as usize {
                break;
            }
        }
        let received = batch.len();
        self.stats.received += received as u64;
        // Lambda cuts a batch at the 6 MB invocation payload.
        let mut chunk: Vec<SqsMessage> = Vec::new();
        let mut size = 0;
        for m in batch {
            let s = serde_json::to_vec(&m).map(|v| v.len()).unwrap_or(0) + 1;
            if !chunk.is_empty() && size + s + 16 > MAX_SYNC_PAYLOAD {
                self.invoke(function, std::mem::take(&mut chunk)).await;
                size = 0;
            }
            size += s;
            chunk.push(m);
        }
        if !chunk.is_empty() {
            self.invoke(function, chunk).await;
        }
        received
    }

    fn record(&mut self, m: &aws_sdk_sqs::types::Message) -> SqsMessage {
        let mut r = SqsMessage::default();
        r.message_id = m.message_id().map(str::to_string);
        r.receipt_handle = m.receipt_handle().map(str::to_string);
        r.body = m.body().map(str::to_string);
        r.md5_of_body = m.md5_of_body().map(str::to_string);
        r.md5_of_message_attributes = m.md5_of_message_attributes().map(str::to_string);
        r.attributes = m
            .attributes()
            .map(|a| {
                a.iter()
                    .map(|(k, v)| (k.as_str().to_string(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(n) = r
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|v| v.parse::<u32>().ok())
        {
            self.stats.max_receive_count = self.stats.max_receive_count.max(n);
        }
        r.message_attributes = m
            .message_attributes()
            .map(|a| {
                a.iter()
                    .map(|(k, v)| {
                        let mut attr = SqsMessageAttribute::default();
                        attr.string_value = v.string_value().map(str::to_string);
                        attr.binary_value = v.binary_value().map(|b| {
                            let mut data = Base64Data::default();
                            data.extend_from_slice(b.as_ref());
                            data
                        });
                        attr.data_type = Some(v.data_type().to_string());
                        (k.clone(), attr)
                    })
                    .collect()
            })
            .unwrap_or_default();
        r.event_source = Some("aws:sqs".to_string());
        r.event_source_arn = Some(self.queue_arn.clone());
        r.aws_region = Some(REGION.to_string());
        r
    }

    async fn invoke(&mut self, function: &mut Function, records: Vec<SqsMessage>) {
        let ids: Vec<String> = records
            .iter()
            .map(|r| r.message_id.clone().unwrap_or_default())
            .collect();
        let handles: Vec<(String, String)> = records
            .iter()
            .map(|r| {
                (
                    r.message_id.clone().unwrap_or_default(),
                    r.receipt_handle.clone().unwrap_or_default(),
                )
            })
            .collect();
        let mut event = SqsEvent::default();
        event.records = records;
        let payload = serde_json::to_vec(&event).expect("serialize the SQS event");
        let inv = function.invoke(&payload).await;
        self.stats.invocations += 1;
        self.stats.durations.push(inv.duration);
        let failed = match failed_items(&inv.outcome, &ids) {
            Ok(f) => {
                self.stats.item_failures += f.len() as u64;
                f
            }
            Err(why) => {
                eprintln!("shipper invocation failed as a whole ({why}); the batch stays queued");
                self.stats.failed_invocations += 1;
                return;
            }
        };
        let done: Vec<&(String, String)> = handles
            .iter()
            .filter(|(id, _)| !failed.contains(id))
            .collect();
        for (n, chunk) in done.chunks(10).enumerate() {
            let entries: Vec<DeleteMessageBatchRequestEntry> = chunk
                .iter()
                .enumerate()
                .map(|(i, (_, h))| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(format!("d{n}-{i}"))
                        .receipt_handle(h)
                        .build()
                        .expect("delete entry")
                })
                .collect();
            let out = self
                .sqs
                .delete_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .expect("DeleteMessageBatch");
            assert!(out.failed().is_empty(), "delete failed: {:?}", out.failed());
            self.stats.deleted += chunk.len() as u64;
        }
    }

    /// Poll until the queue holds nothing, visible or in flight; panics after `timeout`.
    pub async fn drain(&mut self, function: &mut Function, timeout: Duration) -> &EsmStats {
        let limit = Instant::now() + timeout;
        loop {
            let n = self.poll_once(function).await;
            if n == 0 && self.queued().await == 0 {
                return &self.stats;
            }
            assert!(
                Instant::now() < limit,
                "the queue did not drain in {timeout:?}: {:?}\n{}",
                self.stats,
                super::tail(&function.output(), 3000)
            );
        }
    }

    /// Messages visible or in flight.
    pub async fn queued(&self) -> u64 {
        queue_depth(&self.sqs, &self.queue_url).await
    }
}

/// The message ids a response reports failed, by Lambda's rules for `ReportBatchItemFailures`:
/// an empty or null response, or a null or empty list, is complete success; an invalid response
/// or an item identifier that is empty, null or not in the batch fails the whole batch, as does
/// any function error.
pub fn failed_items(outcome: &Outcome, ids: &[String]) -> Result<HashSet<String>, String> {
    let value = outcome.json()?;
    let items = match &value {
        serde_json::Value::Null => return Ok(HashSet::new()),
        serde_json::Value::Object(o) => match o.get("batchItemFailures") {
            None | Some(serde_json::Value::Null) => return Ok(HashSet::new()),
            Some(serde_json::Value::Array(a)) => a,
            Some(other) => return Err(format!("batchItemFailures is {other}")),
        },
        other => return Err(format!("response {other} is not an object")),
    };
    let mut failed = HashSet::new();
    for item in items {
        match item.get("itemIdentifier").and_then(|v| v.as_str()) {
            Some(id) if !id.is_empty() && ids.iter().any(|i| i == id) => {
                failed.insert(id.to_string());
            }
            _ => return Err(format!("invalid batch item failure {item}")),
        }
    }
    Ok(failed)
}

// ---------------------------------------------------------------------------------------------
// Asynchronous invocation (CloudWatch Logs → decode)

/// Lambda's asynchronous invocation of one function: retries and an on-failure destination.
pub struct AsyncInvoker {
    pub sqs: aws_sdk_sqs::Client,
    /// The on-failure destination queue (the decode DLQ).
    pub on_failure: Option<String>,
    /// `MaximumRetryAttempts` (the stacks keep Lambda's default, 2).
    pub max_retries: u32,
    /// Pause before a retry (Lambda waits about 1 and 2 minutes; tests need not).
    pub retry_delay: Duration,
}

#[derive(Debug)]
pub struct AsyncResult {
    pub attempts: Vec<Invocation>,
    /// The message id of the destination record, when the retries were exhausted.
    pub dead_lettered: Option<String>,
}

impl AsyncResult {
    pub fn succeeded(&self) -> bool {
        self.attempts.last().is_some_and(|i| !i.outcome.is_error())
    }
}

impl AsyncInvoker {
    pub fn new(sqs: aws_sdk_sqs::Client, on_failure: Option<String>) -> Self {
        AsyncInvoker {
            sqs,
            on_failure,
            max_retries: 2,
            retry_delay: Duration::from_millis(100),
        }
    }

    /// Invoke `function` with `event` (a JSON document) as Lambda does for an `Event` invocation.
    pub async fn invoke(&self, function: &mut Function, event: &[u8]) -> AsyncResult {
        let request_id = uuid::Uuid::new_v4().to_string();
        let mut attempts = Vec::new();
        for attempt in 0..=self.max_retries {
            if attempt > 0 {
                tokio::time::sleep(self.retry_delay).await;
            }
            let inv = function.invoke_as(&request_id, event).await;
            let ok = !inv.outcome.is_error();
            attempts.push(inv);
            if ok {
                return AsyncResult {
                    attempts,
                    dead_lettered: None,
                };
            }
        }
        let dead_lettered = match &self.on_failure {
            Some(url) => {
                let last = attempts.last().map(|i| &i.outcome);
                let record = destination_record(
                    &function.spec.arn(),
                    &request_id,
                    event,
                    attempts.len(),
                    last,
                );
                let out = self
                    .sqs
                    .send_message()
                    .queue_url(url)
                    .message_body(record)
                    .send()
                    .await
                    .expect("send the on-failure destination record");
                out.message_id().map(str::to_string)
            }
            None => None,
        };
        AsyncResult {
            attempts,
            dead_lettered,
        }
    }
}

/// Lambda's on-failure destination record for an asynchronous invocation whose retries ran out.
pub fn destination_record(
    function_arn: &str,
    request_id: &str,
    event: &[u8],
    invoke_count: usize,
    last: Option<&Outcome>,
) -> String {
    let request_payload: serde_json::Value =
        serde_json::from_slice(event).expect("asynchronous events are JSON documents");
    let response_payload = match last {
        Some(Outcome::Error { body, .. }) | Some(Outcome::InitError(body)) => body.clone(),
        Some(Outcome::Crashed(why)) => {
            serde_json::json!({"errorType": "Runtime.ExitError", "errorMessage": why})
        }
        Some(Outcome::TimedOut) => {
            serde_json::json!({"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out"})
        }
        _ => serde_json::Value::Null,
    };
    serde_json::json!({
        "version": "1.0",
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "requestContext": {
            "requestId": request_id,
            "functionArn": format!("{function_arn}:$LATEST"),
            "condition": "RetriesExhausted",
            "approximateInvokeCount": invoke_count,
        },
        "requestPayload": request_payload,
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "responsePayload": response_payload,
    })
    .to_string()
}

// ---------------------------------------------------------------------------------------------
// Queues

/// Create a queue (1 MiB messages); with `redrive_to`, its DLQ's ARN and `maxReceiveCount`.
pub async fn create_queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    visibility_secs: u32,
    redrive_to: Option<(&str, u32)>,
) -> String {
    let opts = crate::common::QueueOptions {
        visibility_secs: Some(visibility_secs),
        max_message_bytes: Some(1_048_576),
        fifo: false,
        redrive_to,
    };
    crate::common::create_queue(sqs, name, opts).await
}

pub async fn queue_attribute(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    name: QueueAttributeName,
) -> String {
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(name.clone())
        .send()
        .await
        .expect("GetQueueAttributes");
    out.attributes()
        .and_then(|a| a.get(&name))
        .cloned()
        .unwrap_or_default()
}

/// Messages visible or in flight.
pub async fn queue_depth(sqs: &aws_sdk_sqs::Client, url: &str) -> u64 {
    let visible = queue_attribute(sqs, url, QueueAttributeName::ApproximateNumberOfMessages).await;
    let hidden = queue_attribute(
        sqs,
        url,
        QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
    )
    .await;
    visible.parse::<u64>().unwrap_or(0) + hidden.parse::<u64>().unwrap_or(0)
}

/// Receive and delete everything visible in a queue.
pub async fn drain_bodies(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        let got = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(0)
            .send()
            .await
            .expect("ReceiveMessage");
        if got.messages().is_empty() {
            return out;
        }
        for m in got.messages() {
            out.push(m.body().unwrap_or_default().to_string());
            sqs.delete_message()
                .queue_url(url)
                .receipt_handle(m.receipt_handle().unwrap_or_default())
                .send()
                .await
                .expect("DeleteMessage");
        }
    }
}
