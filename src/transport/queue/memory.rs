//! Embedded in-process queue with the SQS semantics the pipeline relies on.
//!
//! - a received message is hidden for the visibility timeout and comes back when it runs out
//!   unless it was deleted (at-least-once delivery, as with SQS);
//! - every receive raises `ApproximateReceiveCount` and hands out a fresh receipt handle;
//! - with a dead-letter queue, a message already received `max_receive` times is moved there
//!   instead of being delivered again (SQS's redrive policy, `maxReceiveCount`);
//! - `receive` long-polls: it waits up to `wait` for a message to be sent or to become visible;
//! - batch and message size limits as SQS enforces them;
//! - a FIFO queue ([`MemoryQueue::fifo`]): a message group with a message in flight is served to
//!   no one else, a receive takes the visible messages of a group together and in order, and a
//!   deduplication id seen in the last 5 minutes is accepted and dropped (SQS FIFO semantics).
//!
//! `apigw-stream local` and the end-to-end tests run the pipeline over this queue.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{
    BatchEntry, EntryFailure, FifoMessage, InMessage, OutMessage, Queue, QueueError,
    MAX_BATCH_BYTES, MAX_BATCH_ENTRIES, MAX_MESSAGE_BYTES,
};

/// SQS FIFO's deduplication interval.
const DEDUP_WINDOW: Duration = Duration::from_secs(300);

/// SQS caps `MaxNumberOfMessages` at 10.
const MAX_RECEIVE: usize = 10;

#[derive(Debug, Clone)]
struct Stored {
    message_id: String,
    body: String,
    attributes: BTreeMap<String, String>,
    receive_count: u32,
    sent_timestamp_ms: i64,
    /// FIFO queues: the message group.
    group: Option<String>,
    /// Send order, which a group keeps when a message comes back from flight.
    order: u64,
}

#[derive(Debug)]
struct InFlight {
    message: Stored,
    receipt: String,
    deadline: Instant,
    seq: u64,
}

#[derive(Debug, Default)]
struct State {
    visible: VecDeque<Stored>,
    /// In-flight messages by receipt handle.
    in_flight: HashMap<String, InFlight>,
    /// The same messages ordered by when they become visible again.
    deadlines: BTreeSet<(Instant, u64, String)>,
    next_seq: u64,
    sent: u64,
    deleted: u64,
    redriven: u64,
    /// FIFO: messages in flight per group (a group listed here is served to no one else).
    groups_in_flight: HashMap<String, usize>,
    /// FIFO: deduplication ids with when they were first accepted.
    dedup: HashMap<String, Instant>,
    /// FIFO: sends dropped as duplicates.
    deduplicated: u64,
    next_order: u64,
}

impl State {
    /// A sent message, at the back of the visible ones.
    fn enqueue(&mut self, entry: &OutMessage, group: Option<&str>, now_ms: i64) {
        self.sent += 1;
        self.next_order += 1;
        let order = self.next_order;
        let message_id = uuid::Uuid::new_v4().to_string();
        self.visible.push_back(Stored {
            message_id,
            body: entry.body.clone(),
            attributes: entry
                .attributes
                .iter()
                .map(|(k, v)| (k.clone(), v.value().to_string()))
                .collect(),
            receive_count: 0,
            sent_timestamp_ms: now_ms,
            group: group.map(str::to_string),
            order,
        });
    }

    /// Hand `message` out until `deadline` (a receive): counted, given a receipt handle, its group
    /// marked in flight.
    fn put_in_flight(&mut self, mut message: Stored, deadline: Instant) -> InMessage {
        message.receive_count += 1;
        self.next_seq += 1;
        let seq = self.next_seq;
        let receipt = format!("{}#{}", message.message_id, seq);
        let out = to_in_message(&message, receipt.clone());
        if let Some(g) = &message.group {
            *self.groups_in_flight.entry(g.clone()).or_default() += 1;
        }
        self.deadlines.insert((deadline, seq, receipt.clone()));
        self.in_flight.insert(
            receipt.clone(),
            InFlight {
                message,
                receipt,
                deadline,
                seq,
            },
        );
        out
    }

    fn release_group(&mut self, group: &Option<String>) {
        let Some(g) = group else { return };
        if let Some(n) = self.groups_in_flight.get_mut(g) {
            *n -= 1;
            if *n == 0 {
                self.groups_in_flight.remove(g);
            }
        }
    }
}

/// Counters of what went through the queue (for summaries and tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryQueueStats {
    pub sent: u64,
    pub deleted: u64,
    /// Messages moved to the dead-letter queue.
    pub redriven: u64,
    pub visible: usize,
    pub in_flight: usize,
    /// FIFO sends dropped as duplicates of one seen in the last 5 minutes.
    pub deduplicated: u64,
}

#[derive(Debug, Clone)]
struct Redrive {
    dlq: Arc<MemoryQueue>,
    max_receive: u32,
}

/// An in-process queue with SQS semantics. Cheap to share: wrap it in an `Arc`.
#[derive(Debug)]
pub struct MemoryQueue {
    name: String,
    max_message_bytes: usize,
    redrive: Option<Redrive>,
    fifo: bool,
    state: Mutex<State>,
    /// Woken when a message is sent or made visible, for long-polling receivers.
    notify: Notify,
}

impl MemoryQueue {
    /// A queue without a dead-letter queue (messages are redelivered forever, like SQS without a redrive policy).
    pub fn new(name: impl Into<String>) -> Self {
        MemoryQueue {
            name: name.into(),
            max_message_bytes: MAX_MESSAGE_BYTES,
            redrive: None,
            fifo: false,
            state: Mutex::new(State::default()),
            notify: Notify::new(),
        }
    }

    /// A queue that moves a message to `dlq` once it was received `max_receive` times without being deleted.
    pub fn with_dead_letter_queue(
        name: impl Into<String>,
        dlq: Arc<MemoryQueue>,
        max_receive: u32,
    ) -> Self {
        MemoryQueue {
            redrive: Some(Redrive {
                dlq,
                max_receive: max_receive.max(1),
            }),
            ..MemoryQueue::new(name)
        }
    }

    /// Make this a FIFO queue (message groups, deduplication ids; see the module docs).
    pub fn fifo(mut self) -> Self {
        self.fifo = true;
        self
    }

    pub fn is_fifo(&self) -> bool {
        self.fifo
    }

    /// Lower the maximum message size (SQS's `MaximumMessageSize`, 1 KiB..1 MiB).
    pub fn with_max_message_bytes(mut self, bytes: usize) -> Self {
        self.max_message_bytes = bytes.clamp(1024, MAX_MESSAGE_BYTES);
        self
    }

    /// The dead-letter queue, when one is set.
    pub fn dead_letter_queue(&self) -> Option<&Arc<MemoryQueue>> {
        self.redrive.as_ref().map(|r| &r.dlq)
    }

    pub fn stats(&self) -> MemoryQueueStats {
        let state = self.lock();
        MemoryQueueStats {
            sent: state.sent,
            deleted: state.deleted,
            redriven: state.redriven,
            visible: state.visible.len(),
            in_flight: state.in_flight.len(),
            deduplicated: state.deduplicated,
        }
    }

    /// Copies of every message still held (visible or in flight), without receiving them.
    /// Used to count what ended in a dead-letter queue.
    pub fn peek_all(&self) -> Vec<InMessage> {
        let state = self.lock();
        state
            .visible
            .iter()
            .chain(state.in_flight.values().map(|f| &f.message))
            .map(|m| to_in_message(m, String::new()))
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent data (every update is a single step),
        // so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Put messages whose visibility ran out back in line, or hand them to the dead-letter queue.
    /// Returns the messages to redrive (sent after the lock is released).
    fn expire(&self, state: &mut State, now: Instant) -> Vec<Stored> {
        let mut redrive = Vec::new();
        while let Some((deadline, _, _)) = state.deadlines.first() {
            if *deadline > now {
                break;
            }
            let Some((_, _, receipt)) = state.deadlines.pop_first() else {
                break;
            };
            let Some(flight) = state.in_flight.remove(&receipt) else {
                continue;
            };
            state.release_group(&flight.message.group);
            let exhausted = self
                .redrive
                .as_ref()
                .is_some_and(|r| flight.message.receive_count >= r.max_receive);
            if exhausted {
                state.redriven += 1;
                redrive.push(flight.message);
            } else {
                state.visible.push_back(flight.message);
            }
        }
        redrive
    }

    fn redrive_to_dlq(&self, messages: Vec<Stored>) {
        if messages.is_empty() {
            return;
        }
        if let Some(r) = &self.redrive {
            tracing::warn!(
                queue = %self.name,
                dlq = %r.dlq.name,
                count = messages.len(),
                max_receive = r.max_receive,
                "messages moved to the dead-letter queue"
            );
            let mut dlq = r.dlq.lock();
            for mut m in messages {
                // SQS keeps the message id and resets nothing but the queue; the DLQ counts its own receives.
                m.receive_count = 0;
                dlq.sent += 1;
                dlq.visible.push_back(m);
            }
            drop(dlq);
            r.dlq.notify.notify_waiters();
        }
    }

    /// Receive without waiting.
    fn try_receive(&self, max: usize, visibility: Duration) -> (Vec<InMessage>, Option<Instant>) {
        let now = Instant::now();
        let mut state = self.lock();
        let redrive = self.expire(&mut state, now);
        let mut out = Vec::new();
        let taken: Vec<Stored> = if self.fifo {
            take_groups(&mut state, max)
        } else {
            let n = max.min(state.visible.len());
            state.visible.drain(..n).collect()
        };
        for message in taken {
            out.push(state.put_in_flight(message, now + visibility));
        }
        let next_deadline = state.deadlines.first().map(|(d, _, _)| *d);
        drop(state);
        self.redrive_to_dlq(redrive);
        (out, next_deadline)
    }
}

impl MemoryQueue {
    /// One batch send, as SQS checks it; FIFO entries carry (group id, deduplication id).
    fn send_entries(&self, entries: Vec<BatchEntry<'_>>) -> Result<Vec<EntryFailure>, QueueError> {
        self.check_batch(&entries)?;
        let now = Instant::now();
        let now_ms = chrono::Utc::now().timestamp_millis();
        let mut failures = Vec::new();
        let mut accepted = 0usize;
        {
            let mut state = self.lock();
            state
                .dedup
                .retain(|_, at| now.duration_since(*at) < DEDUP_WINDOW);
            for (entry, fifo) in entries {
                if let Some(failure) = self.oversize(entry) {
                    failures.push(failure);
                    continue;
                }
                if let Some((_, dedup)) = fifo {
                    if state.dedup.contains_key(dedup) {
                        // Accepted, not enqueued again (SQS answers success).
                        state.deduplicated += 1;
                        continue;
                    }
                    state.dedup.insert(dedup.to_string(), now);
                }
                state.enqueue(entry, fifo.map(|(g, _)| g), now_ms);
                accepted += 1;
            }
        }
        if accepted > 0 {
            self.notify.notify_waiters();
        }
        Ok(failures)
    }

    /// What makes SQS refuse the whole call: no entries, too many, a repeated id, too many bytes.
    fn check_batch(&self, entries: &[BatchEntry<'_>]) -> Result<(), QueueError> {
        let refuse = |message: String| Err(call_error(&self.name, "SendMessageBatch", message));
        if entries.is_empty() {
            return refuse("EmptyBatchRequest: no entries".to_string());
        }
        if entries.len() > MAX_BATCH_ENTRIES {
            return refuse(format!(
                "TooManyEntriesInBatchRequest: {} entries (max {MAX_BATCH_ENTRIES})",
                entries.len()
            ));
        }
        let mut ids = HashSet::new();
        if let Some((dup, _)) = entries.iter().find(|(e, _)| !ids.insert(e.id.as_str())) {
            return refuse(format!(
                "BatchEntryIdsNotDistinct: id {:?} repeated",
                dup.id
            ));
        }
        let total: usize = entries.iter().map(|(e, _)| e.sqs_size()).sum();
        if total > MAX_BATCH_BYTES {
            return refuse(format!(
                "BatchRequestTooLong: {total} bytes (max {MAX_BATCH_BYTES})"
            ));
        }
        Ok(())
    }

    /// An entry over the queue's message size fails alone; the others are still sent.
    fn oversize(&self, entry: &OutMessage) -> Option<EntryFailure> {
        let size = entry.sqs_size();
        (size > self.max_message_bytes).then(|| EntryFailure {
            id: entry.id.clone(),
            code: "InvalidParameterValue".to_string(),
            message: format!(
                "message of {size} bytes exceeds the queue's limit of {} bytes",
                self.max_message_bytes
            ),
            sender_fault: true,
        })
    }
}

/// FIFO receive: groups in flight are skipped; each group taken gives its visible messages
/// together, oldest first, as many as `max` leaves room for (SQS returns a group's messages
/// together and in order, so a message back from flight is still at its group's head).
fn take_groups(state: &mut State, max: usize) -> Vec<Stored> {
    let visible: Vec<Stored> = state.visible.drain(..).collect();
    let mut count: HashMap<&str, usize> = HashMap::new();
    for m in &visible {
        if let Some(g) = &m.group {
            *count.entry(g.as_str()).or_default() += 1;
        }
    }
    let mut allowance: HashMap<String, usize> = HashMap::new();
    let mut room = max;
    for m in &visible {
        if room == 0 {
            break;
        }
        let Some(g) = &m.group else { continue };
        if state.groups_in_flight.contains_key(g) || allowance.contains_key(g) {
            continue;
        }
        let n = count.get(g.as_str()).copied().unwrap_or(1).min(room);
        allowance.insert(g.clone(), n);
        room -= n;
    }
    let mut candidates: Vec<usize> = (0..visible.len())
        .filter(|i| {
            visible[*i]
                .group
                .as_ref()
                .is_some_and(|g| allowance.contains_key(g))
        })
        .collect();
    candidates.sort_by_key(|i| visible[*i].order);
    let mut picked = HashSet::new();
    for i in candidates {
        if let Some(left) = visible[i].group.as_ref().and_then(|g| allowance.get_mut(g)) {
            if *left > 0 {
                *left -= 1;
                picked.insert(i);
            }
        }
    }
    let mut taken: Vec<(u64, Stored)> = Vec::with_capacity(picked.len());
    for (i, m) in visible.into_iter().enumerate() {
        if picked.contains(&i) {
            taken.push((m.order, m));
        } else {
            state.visible.push_back(m);
        }
    }
    taken.sort_by_key(|(order, _)| *order);
    taken.into_iter().map(|(_, m)| m).collect()
}

fn to_in_message(m: &Stored, receipt_handle: String) -> InMessage {
    InMessage {
        message_id: m.message_id.clone(),
        receipt_handle,
        body: m.body.clone(),
        attributes: m.attributes.clone(),
        receive_count: m.receive_count,
        sent_timestamp_ms: Some(m.sent_timestamp_ms),
        group_id: m.group.clone(),
    }
}

fn call_error(queue: &str, operation: &'static str, message: impl Into<String>) -> QueueError {
    QueueError::Call {
        queue: queue.to_string(),
        operation,
        message: message.into(),
    }
}

#[async_trait]
impl Queue for MemoryQueue {
    /// `receive` takes messages and returns them without an await in between: dropped while it
    /// waits, it has taken none.
    fn receive_is_cancel_safe(&self) -> bool {
        true
    }

    fn receive_everything(&self, visibility: Duration) -> Option<Vec<InMessage>> {
        let now = Instant::now();
        let mut state = self.lock();
        // What is in flight belongs to no consumer any more (they have stopped): back in line.
        let flights: Vec<InFlight> = state.in_flight.drain().map(|(_, f)| f).collect();
        state.deadlines.clear();
        state.groups_in_flight.clear();
        let mut all: Vec<Stored> = state.visible.drain(..).collect();
        all.extend(flights.into_iter().map(|f| f.message));
        // A group's messages together, in send order; groups by their first message.
        let mut first: HashMap<Option<String>, u64> = HashMap::new();
        for m in &all {
            let f = first.entry(m.group.clone()).or_insert(m.order);
            *f = (*f).min(m.order);
        }
        all.sort_by_cached_key(|m| {
            let head = if m.group.is_some() {
                first.get(&m.group).copied().unwrap_or(m.order)
            } else {
                m.order
            };
            (head, m.order)
        });
        let mut out = Vec::with_capacity(all.len());
        for message in all {
            out.push(state.put_in_flight(message, now + visibility));
        }
        Some(out)
    }

    fn name(&self) -> &str {
        &self.name
    }

    async fn send_batch(&self, entries: &[OutMessage]) -> Result<Vec<EntryFailure>, QueueError> {
        if self.fifo {
            return Err(call_error(
                &self.name,
                "SendMessageBatch",
                "MissingParameter: a FIFO queue needs a MessageGroupId",
            ));
        }
        self.send_entries(entries.iter().map(|m| (m, None)).collect())
    }

    async fn send_fifo_batch(
        &self,
        entries: &[FifoMessage],
    ) -> Result<Vec<EntryFailure>, QueueError> {
        if !self.fifo {
            return Err(call_error(
                &self.name,
                "SendMessageBatch",
                "InvalidParameterValue: MessageGroupId is for FIFO queues only",
            ));
        }
        self.send_entries(entries.iter().map(FifoMessage::entry).collect())
    }

    async fn receive(
        &self,
        max: usize,
        wait: Duration,
        visibility: Duration,
    ) -> Result<Vec<InMessage>, QueueError> {
        if max == 0 || max > MAX_RECEIVE {
            return Err(call_error(
                &self.name,
                "ReceiveMessage",
                format!("MaxNumberOfMessages must be 1..=10, got {max}"),
            ));
        }
        let give_up = Instant::now() + wait;
        loop {
            // Register interest before looking, so a send between the look and the wait is not missed.
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let (messages, next_deadline) = self.try_receive(max, visibility);
            if !messages.is_empty() {
                return Ok(messages);
            }
            let now = Instant::now();
            if now >= give_up {
                return Ok(Vec::new());
            }
            // Wake at the end of the wait, or when an in-flight message becomes visible again.
            let wake = next_deadline.map_or(give_up, |d| d.min(give_up));
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep_until(wake) => {}
            }
        }
    }

    async fn delete(&self, receipt_handles: &[String]) -> Result<(), QueueError> {
        let mut state = self.lock();
        for receipt in receipt_handles {
            match state.in_flight.remove(receipt) {
                Some(flight) => {
                    state.release_group(&flight.message.group);
                    state
                        .deadlines
                        .remove(&(flight.deadline, flight.seq, flight.receipt));
                    state.deleted += 1;
                }
                // A stale handle (the message came back and was received again, or is gone):
                // SQS accepts the call; the message stays wherever it is now.
                None => {
                    tracing::debug!(queue = %self.name, "delete with a stale receipt handle ignored")
                }
            }
        }
        Ok(())
    }

    async fn change_visibility(
        &self,
        receipt_handle: &str,
        timeout: Duration,
    ) -> Result<(), QueueError> {
        let now = Instant::now();
        let mut state = self.lock();
        let Some(flight) = state.in_flight.get_mut(receipt_handle) else {
            return Err(call_error(
                &self.name,
                "ChangeMessageVisibility",
                "MessageNotInflight: the receipt handle is not in flight",
            ));
        };
        let old = (flight.deadline, flight.seq, flight.receipt.clone());
        flight.deadline = now + timeout;
        let new = (flight.deadline, flight.seq, flight.receipt.clone());
        state.deadlines.remove(&old);
        state.deadlines.insert(new);
        let redrive = if timeout.is_zero() {
            self.expire(&mut state, now)
        } else {
            Vec::new()
        };
        drop(state);
        self.redrive_to_dlq(redrive);
        // Waiters recompute their wake-up time from the new deadline.
        self.notify.notify_waiters();
        Ok(())
    }

    async fn approximate_len(&self) -> Result<usize, QueueError> {
        let state = self.lock();
        Ok(state.visible.len() + state.in_flight.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::queue::Attribute;

    fn msg(id: &str, body: &str) -> OutMessage {
        let mut attributes = BTreeMap::new();
        attributes.insert("records".to_string(), Attribute::Number("3".to_string()));
        OutMessage {
            id: id.to_string(),
            body: body.to_string(),
            attributes,
        }
    }

    const NO_WAIT: Duration = Duration::ZERO;
    const VIS: Duration = Duration::from_secs(30);

    #[tokio::test]
    async fn sends_receives_and_deletes() {
        let q = MemoryQueue::new("q");
        let failed = q
            .send_batch(&[msg("a", "one"), msg("b", "two")])
            .await
            .unwrap();
        assert!(failed.is_empty());
        let got = q.receive(10, NO_WAIT, VIS).await.unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].body, "one");
        assert_eq!(got[0].receive_count, 1);
        assert_eq!(
            got[0].attributes.get("records").map(String::as_str),
            Some("3")
        );
        assert_eq!(
            q.approximate_len().await.unwrap(),
            2,
            "in flight still counts"
        );
        // Hidden while in flight.
        assert!(q.receive(10, NO_WAIT, VIS).await.unwrap().is_empty());
        let handles: Vec<String> = got.iter().map(|m| m.receipt_handle.clone()).collect();
        q.delete(&handles).await.unwrap();
        assert_eq!(q.approximate_len().await.unwrap(), 0);
        assert_eq!(q.stats().deleted, 2);
    }

    #[tokio::test]
    async fn receive_respects_max() {
        let q = MemoryQueue::new("q");
        let batch: Vec<OutMessage> = (0..10).map(|i| msg(&i.to_string(), "x")).collect();
        q.send_batch(&batch).await.unwrap();
        q.send_batch(&batch[..5]).await.unwrap();
        assert_eq!(q.receive(10, NO_WAIT, VIS).await.unwrap().len(), 10);
        assert_eq!(q.receive(10, NO_WAIT, VIS).await.unwrap().len(), 5);
        assert!(q.receive(0, NO_WAIT, VIS).await.is_err());
        assert!(q.receive(11, NO_WAIT, VIS).await.is_err());
    }

    #[tokio::test]
    async fn message_returns_after_visibility_timeout_with_higher_count() {
        let q = MemoryQueue::new("q");
        q.send_batch(&[msg("a", "one")]).await.unwrap();
        let first = q
            .receive(1, NO_WAIT, Duration::from_millis(300))
            .await
            .unwrap();
        assert_eq!(first.len(), 1);
        assert!(q.receive(1, NO_WAIT, VIS).await.unwrap().is_empty());
        tokio::time::sleep(Duration::from_millis(350)).await;
        let second = q.receive(1, NO_WAIT, VIS).await.unwrap();
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].message_id, first[0].message_id);
        assert_eq!(second[0].receive_count, 2);
        assert_ne!(second[0].receipt_handle, first[0].receipt_handle);
        // The stale handle deletes nothing; the current one does.
        q.delete(std::slice::from_ref(&first[0].receipt_handle))
            .await
            .unwrap();
        assert_eq!(q.approximate_len().await.unwrap(), 1);
        q.delete(std::slice::from_ref(&second[0].receipt_handle))
            .await
            .unwrap();
        assert_eq!(q.approximate_len().await.unwrap(), 0);
    }

    #[tokio::test]
    async fn redrives_to_dlq_after_max_receive() {
        let dlq = Arc::new(MemoryQueue::new("dlq"));
        let q = MemoryQueue::with_dead_letter_queue("q", dlq.clone(), 3);
        q.send_batch(&[msg("a", "poison"), msg("b", "good")])
            .await
            .unwrap();
        let vis = Duration::from_millis(100);
        for round in 1..=3u32 {
            let got = q.receive(10, NO_WAIT, vis).await.unwrap();
            let poison: Vec<_> = got.iter().filter(|m| m.body == "poison").collect();
            assert_eq!(poison.len(), 1, "round {round}");
            assert_eq!(poison[0].receive_count, round);
            // The good one is handled on its first receive.
            let good: Vec<String> = got
                .iter()
                .filter(|m| m.body == "good")
                .map(|m| m.receipt_handle.clone())
                .collect();
            q.delete(&good).await.unwrap();
            tokio::time::sleep(vis + Duration::from_millis(20)).await;
        }
        // Received 3 times: the next receive moves it to the DLQ instead.
        assert!(q.receive(10, NO_WAIT, vis).await.unwrap().is_empty());
        assert_eq!(q.approximate_len().await.unwrap(), 0);
        assert_eq!(q.stats().redriven, 1);
        let dead = dlq.peek_all();
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].body, "poison");
        assert_eq!(
            dead[0].attributes.get("records").map(String::as_str),
            Some("3")
        );
        let from_dlq = dlq.receive(1, NO_WAIT, vis).await.unwrap();
        assert_eq!(from_dlq[0].receive_count, 1);
    }

    #[tokio::test]
    async fn long_poll_wakes_on_send() {
        let q = Arc::new(MemoryQueue::new("q"));
        let receiver = {
            let q = q.clone();
            tokio::spawn(async move { q.receive(10, Duration::from_secs(20), VIS).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        q.send_batch(&[msg("a", "late")]).await.unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), receiver)
            .await
            .expect("receive woke up")
            .unwrap()
            .unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].body, "late");
    }

    #[tokio::test]
    async fn long_poll_wakes_when_visibility_runs_out_and_times_out_empty() {
        let q = MemoryQueue::new("q");
        q.send_batch(&[msg("a", "one")]).await.unwrap();
        q.receive(1, NO_WAIT, Duration::from_millis(300))
            .await
            .unwrap();
        let start = Instant::now();
        let got = q.receive(1, Duration::from_secs(20), VIS).await.unwrap();
        assert_eq!(got.len(), 1);
        let waited = start.elapsed();
        // Woken by the deadline, not by the end of the 20 s wait.
        assert!(
            waited >= Duration::from_millis(290) && waited < Duration::from_secs(10),
            "{waited:?}"
        );
        let start = Instant::now();
        assert!(q
            .receive(1, Duration::from_millis(200), VIS)
            .await
            .unwrap()
            .is_empty());
        assert!(start.elapsed() >= Duration::from_millis(190));
    }

    #[tokio::test]
    async fn change_visibility_zero_releases_now() {
        let q = MemoryQueue::new("q");
        q.send_batch(&[msg("a", "one")]).await.unwrap();
        let got = q.receive(1, NO_WAIT, VIS).await.unwrap();
        q.change_visibility(&got[0].receipt_handle, Duration::ZERO)
            .await
            .unwrap();
        let again = q.receive(1, NO_WAIT, VIS).await.unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].receive_count, 2);
        assert!(q.change_visibility("nope", Duration::ZERO).await.is_err());
    }

    #[tokio::test]
    async fn enforces_batch_and_message_limits() {
        let q = MemoryQueue::new("q").with_max_message_bytes(2048);
        assert!(q.send_batch(&[]).await.is_err());
        let eleven: Vec<OutMessage> = (0..11).map(|i| msg(&i.to_string(), "x")).collect();
        assert!(q.send_batch(&eleven).await.is_err());
        assert!(q.send_batch(&[msg("a", "x"), msg("a", "y")]).await.is_err());
        let big = "x".repeat(3000);
        let failed = q
            .send_batch(&[msg("ok", "small"), msg("big", &big)])
            .await
            .unwrap();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].id, "big");
        assert!(failed[0].sender_fault);
        assert_eq!(q.approximate_len().await.unwrap(), 1);
        let huge = "x".repeat(MAX_BATCH_BYTES / 2);
        let q = MemoryQueue::new("q2");
        let err = q
            .send_batch(&[msg("a", &huge), msg("b", &huge), msg("c", "x")])
            .await
            .unwrap_err();
        assert!(err.to_string().contains("BatchRequestTooLong"), "{err}");
    }

    fn fifo(id: &str, group: &str, body: &str) -> FifoMessage {
        FifoMessage {
            message: msg(id, body),
            group_id: group.to_string(),
            deduplication_id: body.to_string(),
        }
    }

    #[tokio::test]
    async fn fifo_serves_a_group_to_one_consumer_together_and_in_order() {
        let q = MemoryQueue::new("q.fifo").fifo();
        assert!(
            q.send_batch(&[msg("a", "x")]).await.is_err(),
            "needs a group"
        );
        q.send_fifo_batch(&[fifo("1", "g1", "g1-a"), fifo("2", "g2", "g2-a")])
            .await
            .unwrap();
        let first = q
            .receive(1, NO_WAIT, Duration::from_millis(200))
            .await
            .unwrap();
        assert_eq!(first[0].body, "g1-a");
        // g1 is in flight: a later message of it waits; g2 is served.
        q.send_fifo_batch(&[fifo("3", "g1", "g1-b")]).await.unwrap();
        let other = q.receive(10, NO_WAIT, VIS).await.unwrap();
        assert_eq!(
            other.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
            ["g2-a"]
        );
        // g1-a comes back from flight still at its group's head, with g1-b behind it.
        tokio::time::sleep(Duration::from_millis(250)).await;
        let again = q.receive(10, NO_WAIT, VIS).await.unwrap();
        assert_eq!(
            again.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
            ["g1-a", "g1-b"]
        );
        // A deduplication id seen in the last 5 minutes is accepted and dropped.
        q.send_fifo_batch(&[fifo("4", "g3", "g1-a")]).await.unwrap();
        assert_eq!(q.stats().deduplicated, 1);
        assert!(q.receive(10, NO_WAIT, VIS).await.unwrap().is_empty());
    }
}
