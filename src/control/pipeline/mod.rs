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

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::counters;
use crate::decode::{
    DecodeOptions, DecodeOutputs, DecodeStage, DecodeStats, ForwardError, FragmentSendError,
    FragmentSink, QueueFragments,
};
use crate::decode::{Fragment, JoinRule};
use crate::runtime::clock::now_ms;
use crate::ship::bridge::receiver::Receiver;
use crate::ship::settle::Source;
use crate::ship::stage::{ShipObserver, ShipStage};
use crate::ship::{Requeue, ShipStats, Shipper};
use crate::stitch::{StitchOptions, StitchStage, StitchStats};
use crate::transaction::Transaction;
use crate::transport::frame::{self, Frame};
use crate::transport::queue::{
    Attribute, FrameSink, InMessage, OutMessage, Queue, QueueError, SendPolicy, SendReport,
};

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

/// The local run's [`FrameSink`]: frames to the main queue, each registered in the ledger as
/// read at `read_ms` (`None`: stitched from fragments registered when they were read).
struct LedgerSink<'a> {
    pipeline: &'a LocalPipeline,
    read_ms: Option<i64>,
}

#[async_trait::async_trait]
impl FrameSink for LedgerSink<'_> {
    async fn send(
        &self,
        records: &[Transaction],
        frames: Vec<Frame>,
    ) -> Result<SendReport, QueueError> {
        let ids: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
        if self.read_ms.is_none() {
            self.pipeline
                .ledger
                .note_stitched(records.iter().map(|r| (r.id.as_str(), content_hash(r))));
        }
        self.pipeline
            .send_registered(frames, &ids, self.read_ms)
            .await
    }
}

/// The local run's [`FragmentSink`]: the stitch queue, with the ledger told which requests
/// travel in parts.
struct LedgerFragments<'a> {
    pipeline: &'a LocalPipeline,
    queue: &'a dyn Queue,
    read_ms: i64,
}

#[async_trait::async_trait]
impl FragmentSink for LedgerFragments<'_> {
    async fn send(
        &self,
        fragments: Vec<Fragment>,
        message_bytes: usize,
    ) -> Result<SendReport, FragmentSendError> {
        let p = self.pipeline;
        p.ledger.expect_fragments(
            fragments.iter().map(|f| f.request_id.as_str()),
            self.read_ms,
        );
        let sink = QueueFragments {
            queue: self.queue,
            policy: &p.opts.send_policy,
        };
        let sent = sink.send(fragments, message_bytes).await;
        if sent.is_err() {
            p.count(|t| t.local.send_failures += 1);
        }
        sent
    }
}

/// The local run's [`ShipObserver`]: the ledger follows rejected records into their new frames.
struct LedgerObserver<'a> {
    pipeline: &'a LocalPipeline,
    messages: &'a [InMessage],
}

impl ShipObserver for LedgerObserver<'_> {
    fn requeue_attributes(&self, part: &Requeue) -> BTreeMap<String, Attribute> {
        let frame = self
            .messages
            .iter()
            .find(|m| m.message_id == part.message_id)
            .and_then(frame_of);
        let ids = part.record_ids.iter().map(String::as_str);
        match frame.and_then(|f| self.pipeline.ledger.split_frame(f, ids)) {
            Some(new) => BTreeMap::from([(
                FRAME_ATTRIBUTE.to_string(),
                Attribute::Number(new.to_string()),
            )]),
            None => BTreeMap::new(),
        }
    }
}

/// The frame number this run gave a message.
fn frame_of(m: &InMessage) -> Option<u64> {
    m.attributes
        .get(FRAME_ATTRIBUTE)
        .and_then(|v| v.parse().ok())
}

/// What a record says, to tell a re-send (the same record) from a request delivered as two
/// different transactions.
fn content_hash(t: &Transaction) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let mut bytes = Vec::with_capacity(1024);
    t.write_json(&mut bytes);
    bytes.hash(&mut h);
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

counters! {
    /// What only a local run counts (the stages count the rest).
    struct LocalCounts {
        /// Inputs decoded (or failed).
        inputs: sum,
        /// Inputs that gave no records at all (bad payload, a frame limit out of range).
        payload_errors: sum,
        /// Messages sent to the main queue, from decoding and stitching.
        messages_sent: sum,
        /// Sends to a queue that failed after their retries.
        send_failures: sum,
        /// Distinct records confirmed delivered (the ledger's count).
        records_delivered: sum,
        /// Shipper batches run.
        shipper_batches: sum,
        /// Receives from a queue that failed.
        receive_errors: sum,
    }
}

/// Every count of a local run: the stages' and its own.
#[derive(Debug, Default)]
struct Totals {
    local: LocalCounts,
    decode: DecodeStats,
    ship: ShipStats,
    stitch: StitchStats,
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
    receiver: Option<Arc<Receiver>>,
    opts: PipelineOptions,
    ledger: Ledger,
    totals: Mutex<Totals>,
    ship_stage: ShipStage,
    decode_stage: std::sync::OnceLock<Arc<DecodeStage>>,
    /// The archive tee, when on: records go there after the queue accepted their frames.
    archive: std::sync::OnceLock<crate::archive::Archiver>,
    stitch: std::sync::OnceLock<Stitching>,
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
    #[error(transparent)]
    Forward(#[from] ForwardError),
    #[error("{input}: decode task failed: {cause}")]
    Task { input: String, cause: String },
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
        // The shipper Lambda's stage; the local run has no dead-letter redrive.
        let ship_stage = ShipStage::new(shipper, opts.max_visibility, None);
        Arc::new(LocalPipeline {
            queue,
            dlq,
            ship_stage,
            receiver,
            opts,
            ledger: Ledger::new(),
            totals: Mutex::new(Totals::default()),
            decode_stage: std::sync::OnceLock::new(),
            archive: std::sync::OnceLock::new(),
            stitch: std::sync::OnceLock::new(),
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

    /// Add to the run's counts.
    fn count(&self, f: impl FnOnce(&mut Totals)) {
        f(&mut self.totals.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// The decode stage, as the decode Lambda builds it (stitching on once `set_stitch` was called).
    fn decode_stage(&self) -> Arc<DecodeStage> {
        self.decode_stage
            .get_or_init(|| {
                Arc::new(DecodeStage::new(
                    self.opts.decode.clone(),
                    self.opts.message_bytes,
                    self.stitch.get().map(|st| st.join.clone()),
                ))
            })
            .clone()
    }

    /// Decode one payload, frame it and send the frames to the queue (the decode Lambda's stage).
    pub async fn decode_payload(&self, input: Input) -> Result<(), PipelineError> {
        self.mark_started();
        let read_ms = input.logged_ms.unwrap_or_else(now_ms);
        let stage = self.decode_stage();
        let name = input.name.clone();
        // Decoding and packing are CPU work: keep them off the async workers.
        let task = tokio::task::spawn_blocking({
            let stage = stage.clone();
            move || stage.decode(&input.bytes, &input.name)
        });
        let decoded = task.await.map_err(|e| PipelineError::Task {
            input: name,
            cause: e.to_string(),
        })?;
        self.count(|t| t.local.inputs += 1);
        let decoded = match decoded {
            Ok(d) => d,
            Err(e) => {
                // The payload's records never reach the ledger: count the payload as failed so
                // the run's exit code reports it.
                self.count(|t| t.local.payload_errors += 1);
                return Err(e.into());
            }
        };
        let read = decoded.stats;
        let frames = LedgerSink {
            pipeline: self,
            read_ms: Some(read_ms),
        };
        let fragments = self.stitch.get().map(|st| LedgerFragments {
            pipeline: self,
            queue: st.queue.as_ref(),
            read_ms,
        });
        let outputs = DecodeOutputs {
            frames: &frames,
            archive: self.archive.get(),
            fragments: fragments.as_ref().map(|f| f as &dyn FragmentSink),
        };
        let sent = stage.deliver(decoded, &outputs).await;
        let stats = sent.as_ref().map_or(read, |s| *s);
        self.count(|t| t.decode.add(&stats));
        sent.map(|_| ()).map_err(PipelineError::from)
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
        self.send_registered(frames, ids, Some(base_ms))
            .await
            .map(|_| ())
            .map_err(|cause| {
                PipelineError::Forward(ForwardError::Queue {
                    source_name: input.to_string(),
                    cause,
                })
            })
    }

    /// Register each frame's ids in the ledger (read now at `base_ms`, or stitched from fragments
    /// read earlier when `None`) and send the frames to the queue.
    async fn send_registered(
        &self,
        frames: Vec<Frame>,
        ids: &[&str],
        base_ms: Option<i64>,
    ) -> Result<SendReport, QueueError> {
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
            return Ok(SendReport::default());
        }
        if let Some(max) = self.opts.max_queued_messages {
            // Backpressure: the embedded queue lives in memory.
            while self.queue.approximate_len().await.unwrap_or(0) > max {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        let count = messages.len() as u64;
        let sent = crate::transport::queue::send_all(
            self.queue.as_ref(),
            messages,
            &self.opts.send_policy,
        )
        .await;
        match &sent {
            Ok(_) => self.count(|t| t.local.messages_sent += count),
            Err(_) => self.count(|t| t.local.send_failures += 1),
        }
        sent
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

    /// One stitch "invocation" on a received batch of fragments: run the stitch stage (the
    /// decode Lambda's code) on them; delete what it settled. Returns the batch size.
    async fn stitch_received(
        &self,
        st: &Stitching,
        messages: Vec<InMessage>,
    ) -> Result<usize, QueueError> {
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
        let sink = LedgerSink {
            pipeline: self,
            read_ms: None,
        };
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
        self.count(|t| t.stitch.add(&outcome.stats));
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

    /// A receive that ends early, empty, when `stop` is cancelled: an idle worker on the embedded
    /// queue stops at once instead of at the end of its long poll (up to `receive_wait`, which
    /// the end of a run and the stitch flush used to wait out). Only the wait is cut short: a
    /// batch received is always processed. An SQS receive is never dropped in flight (see
    /// [`Queue::receive_is_cancel_safe`]): the worker finishes its poll and ships what it got.
    async fn receive_until(
        &self,
        queue: &dyn Queue,
        stop: &CancellationToken,
    ) -> Result<Vec<InMessage>, QueueError> {
        if !queue.receive_is_cancel_safe() {
            return self.receive_from(queue).await;
        }
        tokio::select! {
            biased;
            received = self.receive_from(queue) => received,
            () = stop.cancelled() => Ok(Vec::new()),
        }
    }

    /// Receive from `queue` and `process` each batch until `stop` is cancelled; a failed receive
    /// or batch is counted and retried after a pause.
    async fn work<'s, Fut>(
        &'s self,
        queue: &dyn Queue,
        stop: &CancellationToken,
        process: impl Fn(Vec<InMessage>) -> Fut,
    ) where
        Fut: std::future::Future<Output = Result<usize, QueueError>> + 's,
    {
        while !stop.is_cancelled() {
            let result = match self.receive_until(queue, stop).await {
                Ok(messages) => process(messages).await,
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                self.count(|t| t.local.receive_errors += 1);
                tracing::warn!(queue = %queue.name(), error = %e, "receiving from the queue failed; retrying");
                // A pause before retrying, over at once when the run stops the worker.
                let _ = tokio::time::timeout(Duration::from_millis(200), stop.cancelled()).await;
            }
        }
    }

    /// A stitch worker: stitch batches until `stop` is cancelled.
    pub async fn stitch_worker(self: Arc<Self>, stop: CancellationToken) {
        if let Some(st) = self.stitch.get() {
            self.work(st.queue.as_ref(), &stop, |m| self.stitch_received(st, m))
                .await;
        }
    }

    /// One shipper "invocation" on a received batch: run the ship stage on it (ship, then settle
    /// with the queue), delete what was delivered. Messages reported failed stay hidden until
    /// their visibility timeout ends, then come back (or go to the dead-letter queue), as with the
    /// SQS event source mapping. Returns the batch size.
    async fn ship_batch(&self, messages: Vec<InMessage>) -> Result<usize, QueueError> {
        if messages.is_empty() {
            return Ok(0);
        }
        self.mark_started();
        let deadline = std::time::Instant::now() + self.opts.ship_timeout;
        let source = Source {
            queue: self.queue.as_ref(),
            visibility: self.opts.visibility_timeout,
        };
        let observer = LedgerObserver {
            pipeline: self,
            messages: &messages,
        };
        let report = self
            .ship_stage
            .run(&messages, Some(source), deadline, &observer)
            .await;
        let failed: HashSet<&str> = report.failed.iter().map(String::as_str).collect();
        let now = now_ms();
        let mut done = Vec::with_capacity(messages.len());
        let mut fresh = 0;
        for m in messages
            .iter()
            .filter(|m| !failed.contains(m.message_id.as_str()))
        {
            fresh += self.ledger.confirm(frame_of(m), now);
            done.push(m.receipt_handle.clone());
        }
        self.count(|t| {
            t.ship.add(&report.stats);
            t.local.shipper_batches += 1;
            t.local.records_delivered += fresh;
        });
        if !done.is_empty() {
            if let Err(e) = self.queue.delete(&done).await {
                // The messages come back after their visibility timeout and are delivered again.
                tracing::warn!(error = %e, "deleting delivered messages failed; they will be redelivered");
            }
        }
        Ok(messages.len())
    }

    /// A shipper worker: ship batches until `stop` is cancelled.
    pub async fn ship_worker(self: Arc<Self>, stop: CancellationToken) {
        self.work(self.queue.as_ref(), &stop, |m| self.ship_batch(m))
            .await;
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
        let stop = CancellationToken::new();
        let shippers: Vec<_> = (0..self.opts.shipper_workers.max(1))
            .map(|_| tokio::spawn(self.clone().ship_worker(stop.clone())))
            .collect();
        // The stitch workers stop on their own token: at the end of the input the embedded
        // stitch queue is flushed by one reader, after they have finished their batches.
        let mut stop_stitch = CancellationToken::new();
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
            stop_stitch.cancel();
            for s in stitchers.take().into_iter().flatten() {
                let _ = s.await;
            }
            if self.flush_stitch(st).await {
                self.stitch_flushed.store(true, Ordering::Relaxed);
            } else {
                tracing::warn!(queue = %st.queue.name(), "this stitch queue cannot be flushed at the end of the input; held parts wait out the hold");
            }
            // Whatever a failed send left comes back to workers, as in the Lambda.
            stop_stitch = CancellationToken::new();
            stitchers = Some(
                (0..st.workers.max(1))
                    .map(|_| tokio::spawn(self.clone().stitch_worker(stop_stitch.clone())))
                    .collect(),
            );
        }
        let drained = self.drain().await;
        self.mark_finished();
        stop.cancel();
        stop_stitch.cancel();
        for s in shippers.into_iter().chain(stitchers.into_iter().flatten()) {
            let _ = s.await;
        }
        let mut summary = self.summary().await;
        summary.drain_timed_out = !drained;
        summary
    }

    pub fn progress(&self) -> Progress {
        let t = self.totals.lock().unwrap_or_else(|e| e.into_inner());
        Progress {
            payloads: t.local.inputs,
            records_decoded: t.decode.records,
            filtered: t.decode.filtered,
            lines_unparsed: t.decode.lines_unparsed,
            messages_sent: t.local.messages_sent,
            records_delivered: t.local.records_delivered,
            windows: t.ship.windows,
            retries: t.ship.retries,
            failed_messages: t.ship.failed_messages,
        }
    }

    /// Read (without deleting) what the dead-letter queue holds: message count and record ids.
    async fn dead_letters(&self) -> (u64, ledger::IdSet) {
        let mut ids = ledger::IdSet::default();
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

    /// From the first input to the queue's emptying (or now).
    fn elapsed(&self) -> Duration {
        let started = *self.started.lock().unwrap_or_else(|e| e.into_inner());
        let finished = *self.finished.lock().unwrap_or_else(|e| e.into_inner());
        match (started, finished) {
            (Some(s), Some(f)) => f.saturating_duration_since(s),
            (Some(s), None) => s.elapsed(),
            _ => Duration::ZERO,
        }
    }

    /// The embedded receiver's duplicates, after telling the ledger what it accepted.
    fn bridge_duplicates(&self) -> Option<u64> {
        let receiver = self.receiver.as_ref()?;
        // By hash, as the ledger keeps them: a million ids as strings would double the run's
        // peak memory here.
        let mut unique = ledger::IdSet::default();
        let mut duplicates = 0u64;
        receiver.for_each_accepted_id(|id| {
            if !unique.insert(ledger::id_hash(id)) {
                duplicates += 1;
            }
        });
        self.ledger.set_bridge_hashes(unique);
        Some(duplicates)
    }

    /// The accounting so far (call after [`drain`](Self::drain) for final numbers).
    pub async fn summary(&self) -> Summary {
        let elapsed_ms = self.elapsed().as_millis() as u64;
        let (dead_letter_messages, dead_ids) = self.dead_letters().await;
        let bridge_duplicates = self.bridge_duplicates();
        let s: Settlement = self.ledger.settle(&dead_ids);
        let t = self.totals.lock().unwrap_or_else(|e| e.into_inner());
        let (decode, ship) = (&t.decode, &t.ship);
        // Without the receiver's view, the shipper's: records in delivered windows beyond the
        // first delivery of each id.
        let duplicates =
            bridge_duplicates.unwrap_or_else(|| ship.records_delivered.saturating_sub(s.delivered));
        Summary {
            // Records too large for any message never reach the ledger: read, and lost.
            records_in: s.records_in + decode.filtered + decode.records_unfit,
            records_delivered: s.delivered,
            filtered: decode.filtered + s.discarded,
            lines_unparsed: decode.lines_unparsed,
            lines_not_api: decode.lines_not_api,
            dead_lettered: s.dead_lettered,
            lost: s.lost + decode.records_unfit,
            duplicates,
            split_deliveries: s.split_deliveries,
            windows: ship.windows,
            bytes_sent: ship.wire_bytes,
            retries: ship.retries,
            elapsed_ms,
            records_per_s: (s.delivered * 1000).checked_div(elapsed_ms).unwrap_or(0),
            latency_ms: Latency {
                p50: s.latency_p50_ms,
                p99: s.latency_p99_ms,
                max: s.latency_max_ms,
            },
            payloads: decode.payloads,
            payload_errors: t.local.payload_errors,
            log_events: decode.log_events,
            messages_sent: t.local.messages_sent,
            send_failures: t.local.send_failures,
            windows_failed: ship.windows_failed,
            unpack_failures: ship.unpack_failures,
            dead_letter_messages,
            input_repeats: s.input_repeats,
            foreign_messages: s.foreign_messages,
            drain_timed_out: false,
            archived_records: decode.archived_records,
            archive_failed_records: decode.archive_failed_records,
            fragments: decode.fragments,
            trailers_dropped: decode.trailers_dropped,
            stitch: t.stitch,
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
