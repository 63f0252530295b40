//! The whole pipeline in one process, with the library code the Lambdas run:
//! payloads → decode (decode → filter → frame) → queue → shipper (unpack → windows → Bridge) →
//! delete, emulating the SQS event source mapping (batches of up to 10, visibility timeout,
//! partial batch failures left to come back, redrive to the dead-letter queue).
//!
//! With stitching on ([`LocalPipeline::set_stitch`]), requests not seen whole go to a FIFO
//! stitch queue and a stitch worker joins them (the stitch consumer's work, see
//! [`crate::stitch`]); the drain then also waits for that queue to empty.
//!
//! Every record is accounted for (see [`ledger`]): delivered, filtered on purpose, dead-lettered,
//! or lost. `apigw-stream local` and the end-to-end tests drive this module.

pub mod ledger;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::bridge::receiver::Receiver;
use crate::clock::now_ms;
use crate::decode::{decode_bytes, decode_split, DecodeOptions, DecodeStats, Split};
use crate::frame::{self, Frame};
use crate::queue::{send_all, Attribute, InMessage, OutMessage, Queue, QueueError, SendPolicy};
use crate::settle::{Received, RetryPolicy};
use crate::ship::{ShipMessage, ShipReport, ShipStats, Shipper};
use crate::stitch::{Fragment, JoinRule, RecordSink, StitchOptions, StitchStage, StitchStats};
use crate::transaction::Transaction;

/// Rounds of the end-of-input stitch flush (a round re-reads what a failed send left).
const FLUSH_ROUNDS: usize = 5;
/// Messages per stitch-stage run in the flush.
const FLUSH_CHUNK: usize = 2_000;

/// Cut `messages` into runs of about `size`, never between two messages of one request (one
/// message group: consecutive, as [`Queue::receive_everything`] returns them).
fn group_chunks(messages: &[InMessage], size: usize) -> Vec<&[InMessage]> {
    let group = |m: &InMessage| m.group_id.clone();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < messages.len() {
        i += 1;
        if i - start >= size && i < messages.len() && group(&messages[i - 1]) != group(&messages[i])
        {
            out.push(&messages[start..i]);
            start = i;
        }
    }
    if start < messages.len() {
        out.push(&messages[start..]);
    }
    out
}

/// The local run's [`RecordSink`]: frames to the main queue, each registered in the ledger.
struct LedgerSink<'a> {
    pipeline: &'a LocalPipeline,
}

#[async_trait::async_trait]
impl RecordSink for LedgerSink<'_> {
    async fn send(&self, records: &[Transaction], frames: Vec<Frame>) -> Result<(), String> {
        let ids: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
        self.pipeline
            .ledger
            .note_stitched(records.iter().map(|r| (r.id.as_str(), content_hash(r))));
        self.pipeline
            .send_registered("stitched records", frames, &ids, None)
            .await
            .map_err(|e| e.to_string())
    }
}

/// What a record says, to tell a re-send (the same record) from a request delivered as two
/// different transactions.
fn content_hash(t: &Transaction) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    match serde_json::to_vec(t) {
        Ok(bytes) => bytes.hash(&mut h),
        Err(_) => t.id.hash(&mut h),
    }
    h.finish()
}
use ledger::{Ledger, Settlement};

/// Message attribute holding the frame number this run gave a message (for accounting).
pub const FRAME_ATTRIBUTE: &str = "frame";

#[derive(Debug, Clone)]
pub struct PipelineOptions {
    pub decode: DecodeOptions,
    /// `MESSAGE_BYTES`: bound on one queue message, body and attributes.
    pub message_bytes: usize,
    pub send_policy: SendPolicy,
    /// Payloads decoded at once (CPU-bound: about one per core).
    pub decode_workers: usize,
    /// Concurrent shipper "invocations".
    pub shipper_workers: usize,
    /// Messages per shipper batch (the event source mapping's batch size, ≤ 10).
    pub receive_batch: usize,
    /// Long-poll wait of each receive.
    pub receive_wait: Duration,
    /// Visibility timeout given at receive (the queue's, for SQS event source mappings).
    pub visibility_timeout: Duration,
    /// Time a shipper batch may take (the shipper Lambda's timeout); below the visibility timeout.
    pub ship_timeout: Duration,
    /// Cap on the visibility a failed message gets, doubling from `visibility_timeout` with each
    /// receive (the shipper's `RETRY_MAX_VISIBILITY_SECS`); zero: no growth.
    pub max_visibility: Duration,
    /// Hold decoding while the queue holds more messages than this (bounded memory with the
    /// embedded queue); `None` for no limit.
    pub max_queued_messages: Option<usize>,
    /// After the last input is decoded, how long to wait for the queue to empty.
    pub drain_timeout: Duration,
}

impl Default for PipelineOptions {
    fn default() -> Self {
        PipelineOptions {
            decode: DecodeOptions::default(),
            message_bytes: frame::DEFAULT_MESSAGE_BYTES,
            send_policy: SendPolicy::default(),
            decode_workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            shipper_workers: 4,
            receive_batch: 10,
            receive_wait: Duration::from_secs(1),
            visibility_timeout: Duration::from_secs(30),
            ship_timeout: Duration::from_secs(25),
            max_visibility: Duration::from_secs(300),
            max_queued_messages: Some(64),
            drain_timeout: Duration::from_secs(600),
        }
    }
}

/// The stitch stage of a local run.
#[derive(Clone)]
pub struct Stitching {
    /// A FIFO queue (the embedded one, or SQS).
    pub queue: Arc<dyn Queue>,
    pub options: StitchOptions,
    pub join: JoinRule,
    /// Concurrent stitch consumers.
    pub workers: usize,
    /// Once every input is decoded no fragment can still come: deliver what is held at once
    /// instead of waiting out the hold. Only for a queue this run alone feeds (the embedded one,
    /// which serves a group's visible messages together).
    pub flush_at_end: bool,
}

/// One payload to decode.
#[derive(Debug, Clone)]
pub struct Input {
    /// Where it came from (a file path, `generated #12`), named in errors.
    pub name: String,
    pub bytes: Vec<u8>,
    /// When its log events were written (epoch ms); latency is measured from here.
    /// `None`: from when the payload is read.
    pub logged_ms: Option<i64>,
}

#[derive(Debug, Default)]
struct Counters {
    payloads: AtomicU64,
    payload_errors: AtomicU64,
    records_decoded: AtomicU64,
    filtered: AtomicU64,
    lines_unparsed: AtomicU64,
    messages_sent: AtomicU64,
    send_failures: AtomicU64,
    records_delivered: AtomicU64,
    shipper_batches: AtomicU64,
    windows: AtomicU64,
    windows_failed: AtomicU64,
    window_records: AtomicU64,
    retries: AtomicU64,
    bytes_sent: AtomicU64,
    unpack_failures: AtomicU64,
    failed_messages: AtomicU64,
    receive_errors: AtomicU64,
    archived_records: AtomicU64,
    archive_failed_records: AtomicU64,
}

/// A snapshot for progress displays.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Progress {
    pub payloads: u64,
    pub records_decoded: u64,
    pub filtered: u64,
    pub lines_unparsed: u64,
    pub messages_sent: u64,
    pub records_delivered: u64,
    pub windows: u64,
    pub retries: u64,
    pub failed_messages: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Latency {
    pub p50: u64,
    pub p99: u64,
    pub max: u64,
}

/// The end-of-run accounting. `lost = records_in - records_delivered - filtered - dead_lettered`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Records read: distinct ids parsed, plus the records filtered on purpose.
    pub records_in: u64,
    /// Distinct ids the Bridge accepted.
    pub records_delivered: u64,
    pub filtered: u64,
    pub lines_unparsed: u64,
    /// Lines that were not API requests (other services' logs), skipped on purpose.
    pub lines_not_api: u64,
    /// Records read, not delivered, held in the dead-letter queue.
    pub dead_lettered: u64,
    pub lost: u64,
    /// Records the Bridge received more than once (at-least-once delivery at work).
    pub duplicates: u64,
    /// Requests whose parts reached the Bridge as two (or more) different transactions: the
    /// stitch stage delivered them apart. A defect on a healthy run, unlike a re-send.
    pub split_deliveries: u64,
    pub windows: u64,
    /// Bytes on the wire of delivered windows.
    pub bytes_sent: u64,
    pub retries: u64,
    pub elapsed_ms: u64,
    pub records_per_s: u64,
    /// Log event time (the payload's arrival for file inputs) → the Bridge's acceptance confirmed.
    pub latency_ms: Latency,
    pub payloads: u64,
    pub payload_errors: u64,
    pub log_events: u64,
    pub messages_sent: u64,
    pub send_failures: u64,
    pub windows_failed: u64,
    pub unpack_failures: u64,
    /// Messages in the dead-letter queue at the end (any origin).
    pub dead_letter_messages: u64,
    /// Ids read more than once (the same line in two inputs); counted once in `records_in`.
    pub input_repeats: u64,
    /// Messages shipped that this run did not send (already waiting in the queue).
    pub foreign_messages: u64,
    /// The queue did not empty within the drain timeout.
    pub drain_timed_out: bool,
    /// Records the archive accepted (`--archive-stream` / `--archive-dir`; 0 when off).
    pub archived_records: u64,
    /// Records delivered to the queue but not archived.
    pub archive_failed_records: u64,
    /// Requests sent to the stitch stage by the decoder (0 with stitching off).
    pub fragments: u64,
    /// Lines that only trailed a request already delivered whole, dropped.
    pub trailers_dropped: u64,
    /// The stitch stage's counts.
    pub stitch: StitchStats,
}

/// The pipeline's parts and its accounting. Share it in an `Arc`.
pub struct LocalPipeline {
    queue: Arc<dyn Queue>,
    dlq: Option<Arc<dyn Queue>>,
    shipper: Arc<Shipper>,
    receiver: Option<Arc<Receiver>>,
    opts: PipelineOptions,
    ledger: Ledger,
    counters: Counters,
    decode_stats: Mutex<DecodeStats>,
    /// The archive tee, when on: records go there after the queue accepted their frames.
    archive: std::sync::OnceLock<crate::archive::Archiver>,
    stitch: std::sync::OnceLock<Stitching>,
    stitch_stats: Mutex<StitchStats>,
    /// Every input has been decoded (no fragment can still come).
    inputs_done: AtomicBool,
    /// The embedded stitch queue was flushed at the end of the input: what is left in it (a part
    /// whose send failed) is delivered without waiting for the hold.
    stitch_flushed: AtomicBool,
    started: Mutex<Option<Instant>>,
    finished: Mutex<Option<Instant>>,
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("{input}: {cause}")]
    Decode {
        input: String,
        cause: crate::decode::DecodeError,
    },
    #[error("{input}: {cause}")]
    Frame {
        input: String,
        cause: frame::FrameError,
    },
    #[error("{input}: sending to the queue failed: {cause}")]
    Send { input: String, cause: QueueError },
    #[error("{input}: decode task failed: {cause}")]
    Task { input: String, cause: String },
    #[error("{input}: {cause}")]
    Fragment {
        input: String,
        cause: crate::stitch::FragmentError,
    },
}

impl LocalPipeline {
    /// `receiver`: the embedded Bridge receiver, when used; its view of accepted ids and
    /// duplicates completes the accounting.
    pub fn new(
        queue: Arc<dyn Queue>,
        dlq: Option<Arc<dyn Queue>>,
        shipper: Arc<Shipper>,
        receiver: Option<Arc<Receiver>>,
        opts: PipelineOptions,
    ) -> Arc<Self> {
        Arc::new(LocalPipeline {
            queue,
            dlq,
            shipper,
            receiver,
            opts,
            ledger: Ledger::new(),
            counters: Counters::default(),
            decode_stats: Mutex::new(DecodeStats::default()),
            archive: std::sync::OnceLock::new(),
            stitch: std::sync::OnceLock::new(),
            stitch_stats: Mutex::new(StitchStats::default()),
            inputs_done: AtomicBool::new(false),
            stitch_flushed: AtomicBool::new(false),
            started: Mutex::new(None),
            finished: Mutex::new(None),
        })
    }

    /// Turn the archive tee on (once; later calls are ignored).
    pub fn set_archive(&self, archiver: crate::archive::Archiver) {
        let _ = self.archive.set(archiver);
    }

    /// Turn stitching on (once; later calls are ignored).
    pub fn set_stitch(&self, stitching: Stitching) {
        let _ = self.stitch.set(stitching);
    }

    pub fn options(&self) -> &PipelineOptions {
        &self.opts
    }

    pub fn queue(&self) -> &Arc<dyn Queue> {
        &self.queue
    }

    /// The work is done (the queue emptied): elapsed time stops here, not when idle shipper
    /// workers finish their last long poll.
    fn mark_finished(&self) {
        let mut finished = self.finished.lock().unwrap_or_else(|e| e.into_inner());
        finished.get_or_insert_with(Instant::now);
    }

    fn mark_started(&self) {
        let mut started = self.started.lock().unwrap_or_else(|e| e.into_inner());
        started.get_or_insert_with(Instant::now);
    }

    /// Decode one payload, frame it and send the frames to the queue (the decode Lambda's work).
    pub async fn decode_payload(&self, input: Input) -> Result<(), PipelineError> {
        self.mark_started();
        let base_ms = input.logged_ms.unwrap_or_else(now_ms);
        let opts = self.opts.decode.clone();
        let message_bytes = self.opts.message_bytes;
        let name = input.name.clone();
        let join = self.stitch.get().map(|st| st.join.clone());
        // Decoding and packing are CPU work: keep them off the async workers.
        let joined = tokio::task::spawn_blocking(move || {
            let mut stats = DecodeStats::default();
            let mut fragments = Vec::new();
            let records = match &join {
                Some(join) => {
                    let mut split = Split {
                        fragments: &mut fragments,
                        join,
                    };
                    decode_split(&input.bytes, &opts, &mut stats, &mut split)
                }
                None => decode_bytes(&input.bytes, &opts, &mut stats),
            };
            let packed = records.map(|records| {
                let frames = frame::pack(&records, message_bytes);
                (records, frames)
            });
            (stats, packed, fragments)
        })
        .await;
        let (stats, packed, fragments) = joined.map_err(|e| PipelineError::Task {
            input: name.clone(),
            cause: e.to_string(),
        })?;
        self.add_decode_stats(&stats);
        let (records, frames) = match packed {
            Ok((records, Ok(frames))) => (records, frames),
            Ok((_, Err(cause))) => {
                // The payload's records never reach the ledger: count the payload as failed so
                // the run's exit code reports it.
                self.counters.payload_errors.fetch_add(1, Ordering::Relaxed);
                return Err(PipelineError::Frame { input: name, cause });
            }
            Err(cause) => {
                self.counters.payload_errors.fetch_add(1, Ordering::Relaxed);
                return Err(PipelineError::Decode { input: name, cause });
            }
        };
        // In the decode Lambda's order (`decode::forward_stitched`): frames, archive, fragments.
        let ids: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
        self.send_frames(&name, frames, &ids, base_ms).await?;
        if let Some(archiver) = self.archive.get() {
            let a = archiver.archive(&records).await;
            let c = &self.counters;
            c.archived_records.fetch_add(a.records, Ordering::Relaxed);
            c.archive_failed_records
                .fetch_add(a.failed_records, Ordering::Relaxed);
        }
        self.send_fragments(&name, fragments, base_ms).await?;
        Ok(())
    }

    /// Send frames whose records have the ids `ids` (in frame order). Lower level than
    /// [`decode_payload`](Self::decode_payload): tests use it to send frames they altered.
    pub async fn send_frames(
        &self,
        input: &str,
        frames: Vec<Frame>,
        ids: &[&str],
        base_ms: i64,
    ) -> Result<(), PipelineError> {
        self.send_registered(input, frames, ids, Some(base_ms))
            .await
    }

    /// Register each frame's ids in the ledger (read now at `base_ms`, or stitched from fragments
    /// read earlier when `None`) and send the frames to the queue.
    async fn send_registered(
        &self,
        input: &str,
        frames: Vec<Frame>,
        ids: &[&str],
        base_ms: Option<i64>,
    ) -> Result<(), PipelineError> {
        self.mark_started();
        let mut messages = Vec::with_capacity(frames.len());
        let mut offset = 0;
        for (i, f) in frames.into_iter().enumerate() {
            let end = (offset + f.records).min(ids.len());
            let frame_no = self
                .ledger
                .add_frame(ids[offset..end].iter().copied(), base_ms);
            offset = end;
            let mut m: OutMessage = f.into_message(i.to_string());
            m.attributes.insert(
                FRAME_ATTRIBUTE.to_string(),
                Attribute::Number(frame_no.to_string()),
            );
            messages.push(m);
        }
        if messages.is_empty() {
            return Ok(());
        }
        if let Some(max) = self.opts.max_queued_messages {
            // Backpressure: the embedded queue lives in memory.
            while self.queue.approximate_len().await.unwrap_or(0) > max {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        let count = messages.len() as u64;
        match send_all(self.queue.as_ref(), messages, &self.opts.send_policy).await {
            Ok(_) => {
                self.counters
                    .messages_sent
                    .fetch_add(count, Ordering::Relaxed);
                Ok(())
            }
            Err(cause) => {
                self.counters.send_failures.fetch_add(1, Ordering::Relaxed);
                Err(PipelineError::Send {
                    input: input.to_string(),
                    cause,
                })
            }
        }
    }

    /// Send fragments to the stitch queue (the decode Lambda's second destination).
    async fn send_fragments(
        &self,
        input: &str,
        fragments: Vec<Fragment>,
        base_ms: i64,
    ) -> Result<(), PipelineError> {
        let Some(st) = self.stitch.get() else {
            return Ok(());
        };
        if fragments.is_empty() {
            return Ok(());
        }
        self.ledger
            .expect_fragments(fragments.iter().map(|f| f.request_id.as_str()), base_ms);
        let messages = crate::stitch::fragment::to_messages(fragments, self.opts.message_bytes)
            .map_err(|e| PipelineError::Fragment {
                input: input.to_string(),
                cause: e,
            })?;
        send_all(st.queue.as_ref(), messages, &self.opts.send_policy)
            .await
            .map(|_| ())
            .map_err(|cause| {
                self.counters.send_failures.fetch_add(1, Ordering::Relaxed);
                PipelineError::Send {
                    input: input.to_string(),
                    cause,
                }
            })
    }

    /// One batch as the event source mapping would receive it.
    async fn receive_from(&self, queue: &dyn Queue) -> Result<Vec<InMessage>, QueueError> {
        queue
            .receive(
                self.opts.receive_batch,
                self.opts.receive_wait,
                self.opts.visibility_timeout,
            )
            .await
    }

    /// One stitch "invocation": receive fragments and run the stitch stage (the decode Lambda's
    /// code) on them; delete what it settled. Returns the batch size.
    pub async fn stitch_once(&self) -> Result<usize, QueueError> {
        let Some(st) = self.stitch.get() else {
            return Ok(0);
        };
        let messages = self.receive_from(st.queue.as_ref()).await?;
        if messages.is_empty() {
            return Ok(0);
        }
        let flushed = st.flush_at_end && self.stitch_flushed.load(Ordering::Relaxed);
        self.stitch_batch(st, &self.stitch_stage(st, flushed), &messages)
            .await;
        Ok(messages.len())
    }

    /// The stitch stage as the decode Lambda builds it; `flush`: with no hold (the input has
    /// ended and every part is in the batch).
    fn stitch_stage(&self, st: &Stitching, flush: bool) -> StitchStage {
        let mut options = st.options.clone();
        if flush {
            options.hold = Duration::ZERO;
        }
        StitchStage::new(options, self.opts.decode.clone(), self.opts.message_bytes)
    }

    /// Run the stage over one batch and act as the event source mapping: delete what it
    /// settled, leave the rest to come back.
    async fn stitch_batch(&self, st: &Stitching, stage: &StitchStage, messages: &[InMessage]) {
        let sink = LedgerSink { pipeline: self };
        let outcome = stage
            .run(messages, st.queue.as_ref(), &sink, now_ms())
            .await;
        self.ledger
            .discard(outcome.settled_without_record.iter().map(String::as_str));
        let done = outcome.done_receipts(messages);
        if !done.is_empty() {
            if let Err(e) = st.queue.delete(&done).await {
                tracing::warn!(error = %e, "deleting stitched fragments failed; they will come back");
            }
        }
        self.stitch_stats
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .add(&outcome.stats);
    }

    /// The end of a local run's input with the embedded stitch queue: no part can still come, so
    /// every part still queued is read first (all of them, whatever the message groups and batch
    /// sizes), and only then is what is still incomplete delivered alone. Repeats a few times
    /// for parts a failed send left behind. `false` when the queue cannot do this (SQS).
    async fn flush_stitch(&self, st: &Stitching) -> bool {
        let stage = self.stitch_stage(st, true);
        for round in 0..FLUSH_ROUNDS {
            let Some(messages) = st.queue.receive_everything(self.opts.visibility_timeout) else {
                return false;
            };
            if messages.is_empty() {
                return true;
            }
            tracing::debug!(
                round,
                messages = messages.len(),
                "flushing the stitch queue"
            );
            // In chunks, so a large backlog does not build every record at once; a request's
            // messages stay together (the queue returns them grouped, in order).
            for chunk in group_chunks(&messages, FLUSH_CHUNK) {
                self.stitch_batch(st, &stage, chunk).await;
            }
            // What was not settled comes back for the next round.
            let left = st.queue.approximate_len().await.unwrap_or(0);
            if left == 0 {
                return true;
            }
        }
        true
    }

    /// A stitch worker: [`stitch_once`](Self::stitch_once) until `stop` is set.
    pub async fn stitch_worker(self: Arc<Self>, stop: Arc<AtomicBool>) {
        while !stop.load(Ordering::Relaxed) {
            if let Err(e) = self.stitch_once().await {
                self.counters.receive_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "receiving from the stitch queue failed; retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }

    fn add_decode_stats(&self, stats: &DecodeStats) {
        let c = &self.counters;
        c.payloads.fetch_add(1, Ordering::Relaxed);
        c.records_decoded
            .fetch_add(stats.records, Ordering::Relaxed);
        c.filtered.fetch_add(stats.filtered, Ordering::Relaxed);
        c.lines_unparsed
            .fetch_add(stats.lines_unparsed, Ordering::Relaxed);
        self.decode_stats
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .add(stats);
    }

    fn add_ship_stats(&self, s: &ShipStats) {
        let c = &self.counters;
        c.shipper_batches.fetch_add(1, Ordering::Relaxed);
        c.windows.fetch_add(s.windows, Ordering::Relaxed);
        c.windows_failed
            .fetch_add(s.windows_failed, Ordering::Relaxed);
        c.window_records
            .fetch_add(s.records_delivered, Ordering::Relaxed);
        c.retries.fetch_add(s.retries, Ordering::Relaxed);
        c.bytes_sent.fetch_add(s.wire_bytes, Ordering::Relaxed);
        c.unpack_failures
            .fetch_add(s.unpack_failures, Ordering::Relaxed);
        c.failed_messages
            .fetch_add(s.failed_messages, Ordering::Relaxed);
    }

    /// One shipper "invocation": receive a batch, ship it, delete what was delivered. Messages
    /// reported failed stay hidden until their visibility timeout ends, then come back (or go to
    /// the dead-letter queue), as with the SQS event source mapping. Returns the batch size.
    pub async fn ship_once(&self) -> Result<usize, QueueError> {
        let messages = self.receive_from(self.queue.as_ref()).await?;
        if messages.is_empty() {
            return Ok(0);
        }
        self.mark_started();
        let batch: Vec<ShipMessage> = messages
            .iter()
            .map(|m| ShipMessage {
                message_id: m.message_id.clone(),
                body: m.body.clone(),
            })
            .collect();
        let deadline = std::time::Instant::now() + self.opts.ship_timeout;
        let mut report = self.shipper.ship(&batch, deadline).await;
        self.settle(&messages, &mut report).await;
        self.add_ship_stats(&report.stats);
        let failed: HashSet<&str> = report.failed.iter().map(String::as_str).collect();
        let now = now_ms();
        let mut done = Vec::with_capacity(messages.len());
        for m in &messages {
            if failed.contains(m.message_id.as_str()) {
                continue;
            }
            let frame = m
                .attributes
                .get(FRAME_ATTRIBUTE)
                .and_then(|v| v.parse().ok());
            let fresh = self.ledger.confirm(frame, now);
            self.counters
                .records_delivered
                .fetch_add(fresh, Ordering::Relaxed);
            done.push(m.receipt_handle.clone());
        }
        if !done.is_empty() {
            if let Err(e) = self.queue.delete(&done).await {
                // The messages come back after their visibility timeout and are delivered again.
                tracing::warn!(error = %e, "deleting delivered messages failed; they will be redelivered");
            }
        }
        Ok(messages.len())
    }

    /// What the shipper Lambda does beyond its partial batch response (crate::settle): rejected
    /// records travel on in frames of their own, failed messages stay hidden longer each time.
    async fn settle(&self, messages: &[InMessage], report: &mut ShipReport) {
        let frame_of = |id: &str| {
            messages
                .iter()
                .find(|m| m.message_id == id)
                .and_then(|m| m.attributes.get(FRAME_ATTRIBUTE))
                .and_then(|v| v.parse::<u64>().ok())
        };
        // The ledger follows the rejected records into their new frames.
        let mut new_frames = HashMap::new();
        for part in &report.requeue {
            if let Some(frame) = frame_of(&part.message_id) {
                let ids = part.record_ids.iter().map(String::as_str);
                if let Some(new) = self.ledger.split_frame(frame, ids) {
                    new_frames.insert(part.record_ids.clone(), new);
                }
            }
        }
        let unsent = crate::settle::requeue(self.queue.as_ref(), report, |ids| {
            new_frames
                .get(ids)
                .map(|f| {
                    BTreeMap::from([(
                        FRAME_ATTRIBUTE.to_string(),
                        Attribute::Number(f.to_string()),
                    )])
                })
                .unwrap_or_default()
        })
        .await;
        report.failed.extend(unsent);
        report.stats.failed_messages = report.failed.len() as u64;
        let received: Vec<Received> = messages
            .iter()
            .map(|m| Received {
                message_id: m.message_id.clone(),
                receipt_handle: m.receipt_handle.clone(),
                receive_count: m.receive_count,
            })
            .collect();
        let policy = RetryPolicy {
            first: self.opts.visibility_timeout,
            max: self.opts.max_visibility,
        };
        crate::settle::back_off(
            self.queue.as_ref(),
            &received,
            &report.failed,
            &report.permanent,
            &policy,
        )
        .await;
    }

    /// A shipper worker: [`ship_once`](Self::ship_once) until `stop` is set.
    pub async fn ship_worker(self: Arc<Self>, stop: Arc<AtomicBool>) {
        while !stop.load(Ordering::Relaxed) {
            if let Err(e) = self.ship_once().await {
                self.counters.receive_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "receiving from the queue failed; retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }

    /// Wait until the queue is empty (everything delivered or dead-lettered), or the drain
    /// timeout passes. Returns whether it emptied.
    pub async fn drain(&self) -> bool {
        let start = Instant::now();
        let mut empty_in_a_row = 0;
        loop {
            let main = self.queue.approximate_len().await;
            let stitch = match self.stitch.get() {
                Some(st) => st.queue.approximate_len().await,
                None => Ok(0),
            };
            match (main, stitch) {
                (Ok(0), Ok(0)) => {
                    empty_in_a_row += 1;
                    if empty_in_a_row >= 2 {
                        return true;
                    }
                }
                (Ok(_), Ok(_)) => empty_in_a_row = 0,
                (Err(e), _) | (_, Err(e)) => {
                    tracing::warn!(error = %e, "cannot read the queue's length")
                }
            }
            if start.elapsed() > self.opts.drain_timeout {
                tracing::warn!(
                    timeout_s = self.opts.drain_timeout.as_secs(),
                    "the queue did not empty in time; what is left counts as lost"
                );
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Run everything: decode workers over `inputs`, shipper workers, drain, and the summary.
    /// Payload errors are logged and counted (`payload_errors`); the run goes on.
    pub async fn run(self: Arc<Self>, inputs: mpsc::Receiver<Input>) -> Summary {
        self.mark_started();
        let stop = Arc::new(AtomicBool::new(false));
        let shippers: Vec<_> = (0..self.opts.shipper_workers.max(1))
            .map(|_| tokio::spawn(self.clone().ship_worker(stop.clone())))
            .collect();
        // The stitch workers stop on their own flag: at the end of the input the embedded
        // stitch queue is flushed by one reader, after they have finished their batches.
        let stop_stitch = Arc::new(AtomicBool::new(false));
        let stitchers: Vec<_> = match self.stitch.get() {
            Some(st) => (0..st.workers.max(1))
                .map(|_| tokio::spawn(self.clone().stitch_worker(stop_stitch.clone())))
                .collect(),
            None => Vec::new(),
        };
        let inputs = Arc::new(tokio::sync::Mutex::new(inputs));
        let decoders: Vec<_> = (0..self.opts.decode_workers.max(1))
            .map(|_| {
                let this = self.clone();
                let inputs = inputs.clone();
                tokio::spawn(async move {
                    loop {
                        let next = inputs.lock().await.recv().await;
                        let Some(input) = next else { break };
                        if let Err(e) = this.decode_payload(input).await {
                            tracing::error!("{e}");
                        }
                    }
                })
            })
            .collect();
        for d in decoders {
            if let Err(e) = d.await {
                tracing::error!(error = %e, "a decode worker failed");
            }
        }
        self.inputs_done.store(true, Ordering::Relaxed);
        let mut stitchers = Some(stitchers);
        if let Some(st) = self.stitch.get().filter(|st| st.flush_at_end) {
            stop_stitch.store(true, Ordering::Relaxed);
            for s in stitchers.take().into_iter().flatten() {
                let _ = s.await;
            }
            if self.flush_stitch(st).await {
                self.stitch_flushed.store(true, Ordering::Relaxed);
            } else {
                tracing::warn!(queue = %st.queue.name(), "this stitch queue cannot be flushed at the end of the input; held parts wait out the hold");
            }
            // Whatever a failed send left comes back to workers, as in the Lambda.
            stop_stitch.store(false, Ordering::Relaxed);
            stitchers = Some(
                (0..st.workers.max(1))
                    .map(|_| tokio::spawn(self.clone().stitch_worker(stop_stitch.clone())))
                    .collect(),
            );
        }
        let drained = self.drain().await;
        self.mark_finished();
        stop.store(true, Ordering::Relaxed);
        stop_stitch.store(true, Ordering::Relaxed);
        for s in shippers.into_iter().chain(stitchers.into_iter().flatten()) {
            let _ = s.await;
        }
        let mut summary = self.summary().await;
        summary.drain_timed_out = !drained;
        summary
    }

    pub fn progress(&self) -> Progress {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Progress {
            payloads: get(&c.payloads),
            records_decoded: get(&c.records_decoded),
            filtered: get(&c.filtered),
            lines_unparsed: get(&c.lines_unparsed),
            messages_sent: get(&c.messages_sent),
            records_delivered: get(&c.records_delivered),
            windows: get(&c.windows),
            retries: get(&c.retries),
            failed_messages: get(&c.failed_messages),
        }
    }

    /// Read (without deleting) what the dead-letter queue holds: message count and record ids.
    async fn dead_letters(&self) -> (u64, HashSet<u64>) {
        let mut ids = HashSet::new();
        let mut messages = 0;
        let Some(dlq) = &self.dlq else {
            return (messages, ids);
        };
        let mut seen = HashSet::new();
        let mut handles = Vec::new();
        // Each received message stays hidden while we read on, so the loop ends when all were seen.
        loop {
            let batch = match dlq
                .receive(10, Duration::ZERO, Duration::from_secs(30))
                .await
            {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the dead-letter queue; its records count as lost");
                    break;
                }
            };
            if batch.is_empty() {
                break;
            }
            for m in batch {
                handles.push(m.receipt_handle.clone());
                if !seen.insert(m.message_id.clone()) {
                    continue;
                }
                messages += 1;
                let frame = m
                    .attributes
                    .get(FRAME_ATTRIBUTE)
                    .and_then(|v| v.parse::<u64>().ok());
                if let Some(frame_ids) = frame.and_then(|f| self.ledger.frame_ids(f)) {
                    ids.extend(frame_ids);
                }
            }
        }
        // Leave them as they were: visible, for `replay`.
        for h in &handles {
            let _ = dlq.change_visibility(h, Duration::ZERO).await;
        }
        (messages, ids)
    }

    /// The accounting so far (call after [`drain`](Self::drain) for final numbers).
    pub async fn summary(&self) -> Summary {
        let started = *self.started.lock().unwrap_or_else(|e| e.into_inner());
        let finished = *self.finished.lock().unwrap_or_else(|e| e.into_inner());
        let elapsed = match (started, finished) {
            (Some(s), Some(f)) => f.saturating_duration_since(s),
            (Some(s), None) => s.elapsed(),
            _ => Duration::ZERO,
        };
        let (dead_letter_messages, dead_ids) = self.dead_letters().await;
        let mut bridge_duplicates = None;
        if let Some(receiver) = &self.receiver {
            let accepted = receiver.accepted_ids();
            let unique: HashSet<&str> = accepted.iter().map(String::as_str).collect();
            bridge_duplicates = Some((accepted.len() - unique.len()) as u64);
            self.ledger.set_bridge_ids(unique);
        }
        let s: Settlement = self.ledger.settle(&dead_ids);
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let decode = *self.decode_stats.lock().unwrap_or_else(|e| e.into_inner());
        // Without the receiver's view, the shipper's: records in delivered windows beyond the
        // first delivery of each id.
        let duplicates =
            bridge_duplicates.unwrap_or_else(|| get(&c.window_records).saturating_sub(s.delivered));
        let elapsed_ms = elapsed.as_millis() as u64;
        let stitch = *self.stitch_stats.lock().unwrap_or_else(|e| e.into_inner());
        Summary {
            records_in: s.records_in + decode.filtered,
            records_delivered: s.delivered,
            filtered: decode.filtered + s.discarded,
            lines_unparsed: decode.lines_unparsed,
            lines_not_api: decode.lines_not_api,
            dead_lettered: s.dead_lettered,
            lost: s.lost,
            duplicates,
            split_deliveries: s.split_deliveries,
            windows: get(&c.windows),
            bytes_sent: get(&c.bytes_sent),
            retries: get(&c.retries),
            elapsed_ms,
            records_per_s: (s.delivered * 1000).checked_div(elapsed_ms).unwrap_or(0),
            latency_ms: Latency {
                p50: s.latency_p50_ms,
                p99: s.latency_p99_ms,
                max: s.latency_max_ms,
            },
            payloads: decode.payloads,
            payload_errors: get(&c.payload_errors),
            log_events: decode.log_events,
            messages_sent: get(&c.messages_sent),
            send_failures: get(&c.send_failures),
            windows_failed: get(&c.windows_failed),
            unpack_failures: get(&c.unpack_failures),
            dead_letter_messages,
            input_repeats: s.input_repeats,
            foreign_messages: s.foreign_messages,
            drain_timed_out: false,
            archived_records: get(&c.archived_records),
            archive_failed_records: get(&c.archive_failed_records),
            fragments: decode.fragments,
            trailers_dropped: decode.trailers_dropped,
            stitch,
        }
    }
}

/// The summary as aligned `name  value` rows, for terminals.
pub fn summary_table(s: &Summary) -> String {
    let rows: BTreeMap<usize, (&str, String)> = [
        ("records in", s.records_in.to_string()),
        ("records delivered", s.records_delivered.to_string()),
        ("filtered", s.filtered.to_string()),
        ("lines unparsed", s.lines_unparsed.to_string()),
        ("lines not API traffic", s.lines_not_api.to_string()),
        ("dead-lettered", s.dead_lettered.to_string()),
        ("lost", s.lost.to_string()),
        ("duplicates", s.duplicates.to_string()),
        (
            "delivered as two transactions",
            s.split_deliveries.to_string(),
        ),
        (
            "payloads",
            format!("{} ({} failed to decode)", s.payloads, s.payload_errors),
        ),
        (
            "queue messages",
            format!(
                "{} sent, {} in the DLQ",
                s.messages_sent, s.dead_letter_messages
            ),
        ),
        (
            "windows",
            format!("{} ({} failed attempts)", s.windows, s.windows_failed),
        ),
        ("bytes sent", s.bytes_sent.to_string()),
        (
            "archived",
            format!(
                "{} records ({} not archived)",
                s.archived_records, s.archive_failed_records
            ),
        ),
        ("retries", s.retries.to_string()),
        (
            "stitching",
            format!(
                "{} requests in parts ({} fragment reads), {} stitched, {} holds, {} delivered alone ({} partial), {} empty dropped, {} trailing lines dropped, age max {} ms",
                s.fragments,
                s.stitch.fragments_in,
                s.stitch.stitched,
                s.stitch.held,
                s.stitch.delivered_alone,
                s.stitch.partial,
                s.stitch.dropped_empty,
                s.trailers_dropped,
                s.stitch.age_max_ms
            ),
        ),
        ("elapsed", format!("{:.1} s", s.elapsed_ms as f64 / 1000.0)),
        ("throughput", format!("{} records/s", s.records_per_s)),
        (
            "latency",
            format!(
                "p50 {} ms, p99 {} ms, max {} ms",
                s.latency_ms.p50, s.latency_ms.p99, s.latency_ms.max
            ),
        ),
    ]
    .into_iter()
    .enumerate()
    .collect();
    let width = rows.values().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (name, value) in rows.values() {
        out.push_str(&format!("  {name:<width$}  {value}\n"));
    }
    out
}
