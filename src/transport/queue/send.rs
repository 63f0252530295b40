//! Sending many messages: packed into `SendMessageBatch` calls (≤ 10 entries, ≤ 1 MiB), several
//! calls in flight, each entry's result checked, failed entries retried with backoff. Entries that
//! still fail make the whole send fail, so the caller (the decode Lambda) fails its invocation and
//! Lambda's retry and on-failure destination keep the original payload. Duplicates are fine; loss
//! is not.

use std::time::Duration;

use async_trait::async_trait;
use futures::stream::{self, StreamExt};

use crate::transport::backoff::{Backoff, Jitter};

use super::{
    EntryFailure, FifoMessage, OutMessage, Queue, QueueError, MAX_BATCH_BYTES, MAX_BATCH_ENTRIES,
    MAX_MESSAGE_BYTES,
};

/// A batch entry: standard messages, or FIFO messages with their group and deduplication ids.
#[async_trait]
pub trait Sendable: Sized + Send + Sync {
    fn entry_id(&self) -> &str;
    fn sqs_size(&self) -> usize;
    /// One `SendMessageBatch` call of these entries.
    async fn send(queue: &dyn Queue, batch: &[Self]) -> Result<Vec<EntryFailure>, QueueError>;
}

#[async_trait]
impl Sendable for OutMessage {
    fn entry_id(&self) -> &str {
        &self.id
    }
    fn sqs_size(&self) -> usize {
        OutMessage::sqs_size(self)
    }
    async fn send(queue: &dyn Queue, batch: &[Self]) -> Result<Vec<EntryFailure>, QueueError> {
        queue.send_batch(batch).await
    }
}

#[async_trait]
impl Sendable for FifoMessage {
    fn entry_id(&self) -> &str {
        &self.message.id
    }
    fn sqs_size(&self) -> usize {
        FifoMessage::sqs_size(self)
    }
    async fn send(queue: &dyn Queue, batch: &[Self]) -> Result<Vec<EntryFailure>, QueueError> {
        queue.send_fifo_batch(batch).await
    }
}

#[derive(Debug, Clone)]
pub struct SendPolicy {
    /// Attempts per entry, the first included.
    pub attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Batch calls in flight at once.
    pub concurrency: usize,
}

impl SendPolicy {
    /// Equal jitter: senders retrying together spread out, yet never come back at once.
    pub fn backoff(&self) -> Backoff {
        Backoff::new(self.initial_backoff, self.max_backoff, Jitter::Equal)
    }
}

impl Default for SendPolicy {
    fn default() -> Self {
        SendPolicy {
            attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            concurrency: 4,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendReport {
    pub messages: usize,
    pub calls: usize,
    /// Entries sent again after a failure.
    pub retried: usize,
    pub bytes: usize,
}

/// Split messages into batches that respect SQS's per-call limits.
pub fn batches<T: Sendable>(messages: Vec<T>) -> Result<Vec<Vec<T>>, QueueError> {
    let mut out: Vec<Vec<T>> = Vec::new();
    let mut size = 0;
    for m in messages {
        let s = m.sqs_size();
        if s > MAX_MESSAGE_BYTES {
            return Err(QueueError::TooLarge {
                size: s,
                limit: MAX_MESSAGE_BYTES,
            });
        }
        match out.last_mut() {
            Some(b) if b.len() < MAX_BATCH_ENTRIES && size + s <= MAX_BATCH_BYTES => {
                size += s;
                b.push(m);
            }
            _ => {
                size = s;
                out.push(vec![m]);
            }
        }
    }
    Ok(out)
}

/// Send every message; `Ok` only when every entry was accepted.
pub async fn send_all<T: Sendable>(
    queue: &dyn Queue,
    messages: Vec<T>,
    policy: &SendPolicy,
) -> Result<SendReport, QueueError> {
    let total = messages.len();
    let bytes = messages.iter().map(|m| m.sqs_size()).sum();
    let batches = batches(messages)?;
    let results: Vec<Result<(usize, usize), QueueError>> = stream::iter(batches)
        .map(|b| send_batch_with_retry(queue, b, policy))
        .buffer_unordered(policy.concurrency.max(1))
        .collect()
        .await;
    let mut report = SendReport {
        messages: total,
        bytes,
        ..SendReport::default()
    };
    for r in results {
        let (calls, retried) = r?;
        report.calls += calls;
        report.retried += retried;
    }
    Ok(report)
}

/// Returns (calls made, entries retried).
async fn send_batch_with_retry<T: Sendable>(
    queue: &dyn Queue,
    mut pending: Vec<T>,
    policy: &SendPolicy,
) -> Result<(usize, usize), QueueError> {
    let total = pending.len();
    let backoff = policy.backoff();
    let mut calls = 0;
    let mut retried = 0;
    let mut last_error = String::new();
    for attempt in 1..=policy.attempts.max(1) {
        calls += 1;
        match T::send(queue, &pending).await {
            Ok(failures) if failures.is_empty() => return Ok((calls, retried)),
            Ok(failures) => {
                last_error = format!("{}: {}", failures[0].code, failures[0].message);
                tracing::warn!(queue = queue.name(), attempt, failed = failures.len(), first = %last_error, "SendMessageBatch entries failed");
                pending.retain(|m| failures.iter().any(|f| f.id == m.entry_id()));
            }
            Err(e) => {
                last_error = e.to_string();
                tracing::warn!(queue = queue.name(), attempt, error = %e, "SendMessageBatch call failed");
            }
        }
        if attempt < policy.attempts {
            retried += pending.len();
            tokio::time::sleep(backoff.delay(attempt)).await;
        }
    }
    Err(QueueError::EntriesFailed {
        queue: queue.name().to_string(),
        failed: pending.len(),
        total,
        attempts: policy.attempts,
        first: last_error,
    })
}

/// Where framed records go: the main queue, or (in `apigw-stream local`) the main queue plus the
/// run's ledger. `frames` hold `records` in order (`Frame::records` of them each). The decode and
/// stitch stages send through it, so the Lambda and `local` run the same stage code.
#[async_trait::async_trait]
pub trait FrameSink: Send + Sync {
    /// Send the frames; `Err` means none can be counted as sent.
    async fn send(
        &self,
        records: &[crate::transaction::Transaction],
        frames: Vec<crate::transport::frame::Frame>,
    ) -> Result<SendReport, QueueError>;
}

/// A queue as a [`FrameSink`] (the decode Lambda's main queue).
pub struct QueueSink<'a> {
    pub queue: &'a dyn Queue,
    pub policy: &'a SendPolicy,
}

#[async_trait::async_trait]
impl FrameSink for QueueSink<'_> {
    async fn send(
        &self,
        _records: &[crate::transaction::Transaction],
        frames: Vec<crate::transport::frame::Frame>,
    ) -> Result<SendReport, QueueError> {
        let batch: Vec<_> = frames
            .into_iter()
            .enumerate()
            .map(|(i, f)| f.into_message(i.to_string()))
            .collect();
        send_all(self.queue, batch, self.policy).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn msg(i: usize, size: usize) -> OutMessage {
        OutMessage {
            id: i.to_string(),
            body: "x".repeat(size),
            attributes: BTreeMap::new(),
        }
    }

    #[test]
    fn batches_respect_entry_and_byte_limits() {
        let b = batches((0..25).map(|i| msg(i, 10)).collect()).unwrap();
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), vec![10, 10, 5]);
        let b = batches((0..5).map(|i| msg(i, 400_000)).collect()).unwrap();
        assert!(b
            .iter()
            .all(|b| b.iter().map(|m| m.sqs_size()).sum::<usize>() <= MAX_BATCH_BYTES));
        assert_eq!(b.len(), 3);
        assert!(batches(vec![msg(0, MAX_MESSAGE_BYTES + 1)]).is_err());
    }
}
