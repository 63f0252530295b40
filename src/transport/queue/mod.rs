//! The queue between decode and shipper: SQS, or an embedded in-process queue with SQS semantics.
//!
//! Both implement [`Queue`], so `apigw-stream local` runs the same code paths the Lambdas do.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;

pub mod event;
pub mod memory;
pub mod send;
pub mod sqs;

/// Re-exported so the Lambda binaries need no SDK dependency of their own.
pub use aws_sdk_sqs::Client as SqsClient;
pub use event::{in_messages, is_sqs_event};
pub use memory::MemoryQueue;
pub use send::{send_all, FrameSink, QueueSink, SendPolicy, SendReport, Sendable};
pub use sqs::SqsQueue;

/// SQS limits that bound every `SendMessageBatch` call.
pub const MAX_BATCH_ENTRIES: usize = 10;
pub const MAX_BATCH_BYTES: usize = 1_048_576;
pub const MAX_MESSAGE_BYTES: usize = 1_048_576;

/// A message to send. `id` is unique within one batch call.
#[derive(Debug, Clone, PartialEq)]
pub struct OutMessage {
    pub id: String,
    pub body: String,
    /// String or Number message attributes (`Number` values are written as decimal strings).
    pub attributes: BTreeMap<String, Attribute>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attribute {
    String(String),
    Number(String),
}

impl Attribute {
    pub fn value(&self) -> &str {
        match self {
            Attribute::String(s) | Attribute::Number(s) => s,
        }
    }
    pub fn data_type(&self) -> &'static str {
        match self {
            Attribute::String(_) => "String",
            Attribute::Number(_) => "Number",
        }
    }
}

impl OutMessage {
    /// Size as SQS counts it: body plus each attribute's name, type and value.
    pub fn sqs_size(&self) -> usize {
        self.body.len()
            + self
                .attributes
                .iter()
                .map(|(k, v)| k.len() + v.data_type().len() + v.value().len())
                .sum::<usize>()
    }
}

/// A message for a FIFO queue: served in order within its group, one consumer per group at a
/// time; a second send with the same deduplication id within 5 minutes is accepted and dropped.
#[derive(Debug, Clone, PartialEq)]
pub struct FifoMessage {
    pub message: OutMessage,
    pub group_id: String,
    pub deduplication_id: String,
}

/// One entry of a batch send: the message and, for a FIFO queue, (group id, deduplication id).
pub type BatchEntry<'a> = (&'a OutMessage, Option<(&'a str, &'a str)>);

impl FifoMessage {
    /// This message as a batch entry.
    pub fn entry(&self) -> BatchEntry<'_> {
        (
            &self.message,
            Some((self.group_id.as_str(), self.deduplication_id.as_str())),
        )
    }

    /// Size as SQS counts it (the group and deduplication ids are not part of it).
    pub fn sqs_size(&self) -> usize {
        self.message.sqs_size()
    }
}

/// A received message.
#[derive(Debug, Clone, PartialEq)]
pub struct InMessage {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    pub attributes: BTreeMap<String, String>,
    /// `ApproximateReceiveCount` (1 on first delivery).
    pub receive_count: u32,
    /// `SentTimestamp` in epoch ms, when known.
    pub sent_timestamp_ms: Option<i64>,
    /// FIFO queues: `MessageGroupId`, when known.
    pub group_id: Option<String>,
}

impl InMessage {
    /// A message with only an id and a body (first delivery, no attributes): what benches and
    /// tools that hold frames outside a queue hand to the stages.
    pub fn new(message_id: impl Into<String>, body: impl Into<String>) -> Self {
        InMessage {
            message_id: message_id.into(),
            receipt_handle: String::new(),
            body: body.into(),
            attributes: BTreeMap::new(),
            receive_count: 1,
            sent_timestamp_ms: None,
            group_id: None,
        }
    }
}

/// Outcome of one entry of a batch send.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryFailure {
    pub id: String,
    pub code: String,
    pub message: String,
    /// SQS says the sender is at fault (not worth retrying unchanged).
    pub sender_fault: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue {queue}: {operation} failed: {message}")]
    Call {
        queue: String,
        operation: &'static str,
        message: String,
    },
    #[error("queue {queue}: {failed} of {total} messages still failed after {attempts} attempts (first: {first})")]
    EntriesFailed {
        queue: String,
        failed: usize,
        total: usize,
        attempts: u32,
        first: String,
    },
    #[error("message of {size} bytes exceeds the queue's limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
}

#[async_trait]
pub trait Queue: Send + Sync {
    /// A name for logs and errors (the queue URL for SQS).
    fn name(&self) -> &str;

    /// One `SendMessageBatch` call: at most [`MAX_BATCH_ENTRIES`] entries and [`MAX_BATCH_BYTES`].
    /// Returns the entries that failed; an `Err` means the call itself failed (all entries unsent).
    async fn send_batch(&self, entries: &[OutMessage]) -> Result<Vec<EntryFailure>, QueueError>;

    /// Every message the queue holds, visible or in flight, received at once (grouped by message
    /// group, in send order), whatever the message groups in flight and the batch limit. Only
    /// for a queue this process alone produces to and consumes from, once its producers and
    /// consumers have stopped (the embedded stitch queue at the end of a local run). `None`: the
    /// queue cannot (SQS).
    fn receive_everything(&self, visibility: Duration) -> Option<Vec<InMessage>> {
        let _ = visibility;
        None
    }

    /// Whether a `receive` dropped while it waits has taken no message, so that a stopping
    /// worker may cut its long poll short. Not for SQS: a call dropped in flight may already have
    /// been given messages, which would stay hidden until their visibility timeout and count a
    /// receive towards the dead-letter queue.
    fn receive_is_cancel_safe(&self) -> bool {
        false
    }

    /// One `SendMessageBatch` call to a FIFO queue (same limits as [`Queue::send_batch`]).
    /// Queues that are not FIFO refuse it.
    async fn send_fifo_batch(
        &self,
        entries: &[FifoMessage],
    ) -> Result<Vec<EntryFailure>, QueueError> {
        let _ = entries;
        Err(QueueError::Call {
            queue: self.name().to_string(),
            operation: "SendMessageBatch",
            message: "not a FIFO queue: message group ids are not accepted".to_string(),
        })
    }

    /// Receive up to `max` (≤ 10) messages, waiting up to `wait` for the first, hiding them for `visibility`.
    async fn receive(
        &self,
        max: usize,
        wait: Duration,
        visibility: Duration,
    ) -> Result<Vec<InMessage>, QueueError>;

    /// Delete messages by receipt handle (after their records were delivered).
    async fn delete(&self, receipt_handles: &[String]) -> Result<(), QueueError>;

    /// Make a message visible again after `timeout` (0 = now).
    async fn change_visibility(
        &self,
        receipt_handle: &str,
        timeout: Duration,
    ) -> Result<(), QueueError>;

    /// Approximate number of messages (visible + in flight), for progress and tests.
    async fn approximate_len(&self) -> Result<usize, QueueError>;
}
