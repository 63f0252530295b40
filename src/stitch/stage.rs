//! The stitch stage: the one implementation of "a batch of fragment messages → records on the
//! main queue", called by the decode Lambda (for its stitch queue's SQS events) and by
//! `apigw-stream local` (its stitch workers and its end-of-input flush).
//!
//! What differs between the two is outside this module: where the records go (a [`FrameSink`]:
//! the main queue as frames, plus the local run's ledger) and who deletes the settled messages (the
//! event source mapping for the Lambda, the local run itself).

use super::consume::{hold_back, plan};
use super::{StitchOptions, StitchStats};
use crate::decode::DecodeOptions;
use crate::transaction::Transaction;
use crate::transport::frame::{self, Frame};
use crate::transport::queue::{FrameSink, InMessage, Queue};

/// The stitch stage, built once from its settings.
#[derive(Debug, Clone)]
pub struct StitchStage {
    pub options: StitchOptions,
    pub decode: DecodeOptions,
    /// `MESSAGE_BYTES` of the main queue.
    pub message_bytes: usize,
}

/// What one batch came to. Indices are into the batch's messages.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    /// Settled: their request was sent on, filtered, or dropped empty (delete them, or leave them
    /// to the event source mapping, which deletes what is not reported failed).
    pub done: Vec<usize>,
    /// To report failed: held for the rest of their request, not fragments (poison), or members
    /// of a request that could not be sent.
    pub failed: Vec<usize>,
    /// Requests settled without a record (filtered on purpose, or empty), for accounting.
    pub settled_without_record: Vec<String>,
    /// Requests whose record cannot be framed even cut to fit: their messages stay failed alone
    /// (to the stitch DLQ in the end), the rest of the batch goes on.
    pub unsendable: Vec<String>,
    pub stats: StitchStats,
    /// The sink refused the batch's records (every message of them comes back).
    pub send_error: Option<String>,
}

impl BatchOutcome {
    /// The message ids to report as batch item failures.
    pub fn failed_ids(&self, messages: &[InMessage]) -> Vec<String> {
        self.failed
            .iter()
            .filter_map(|i| messages.get(*i).map(|m| m.message_id.clone()))
            .collect()
    }

    /// The receipt handles of the settled messages.
    pub fn done_receipts(&self, messages: &[InMessage]) -> Vec<String> {
        self.done
            .iter()
            .filter_map(|i| messages.get(*i).map(|m| m.receipt_handle.clone()))
            .collect()
    }
}

impl StitchStage {
    pub fn new(options: StitchOptions, decode: DecodeOptions, message_bytes: usize) -> Self {
        StitchStage {
            options,
            decode,
            message_bytes,
        }
    }

    /// One batch at `now_ms`: plan, send the whole (or expired) requests to `sink`, shorten the
    /// visibility of what is held on `stitch`, and say which messages are settled.
    pub async fn run(
        &self,
        messages: &[InMessage],
        stitch: &dyn Queue,
        sink: &dyn FrameSink,
        now_ms: i64,
    ) -> BatchOutcome {
        let mut plan = self.plan(messages, now_ms).await;
        let mut out = BatchOutcome {
            stats: plan.stats,
            settled_without_record: std::mem::take(&mut plan.settled_without_record),
            ..BatchOutcome::default()
        };
        out.failed.extend(plan.held.iter().map(|(i, _)| *i));
        out.failed.extend(plan.poison.iter().copied());
        // Settled unless its request's record is not sent after all.
        let mut settled = vec![false; messages.len()];
        for i in &plan.done {
            if let Some(s) = settled.get_mut(*i) {
                *s = true;
            }
        }
        let planned_done = settled.clone();
        let records = std::mem::take(&mut plan.records);
        let (frames, sendable, unframed) = self.frame(records);
        for (k, id) in unframed {
            tracing::error!(request_id = %id, limit = self.message_bytes, "a stitched record does not fit a message even cut; its fragments stay in the stitch queue (then its DLQ), the rest of the batch goes on");
            out.unsendable.push(id);
            for i in &plan.record_members[k] {
                settled[*i] = false;
            }
        }
        out.stats.records = sendable.len() as u64;
        if !frames.is_empty() {
            if let Err(e) = sink.send(&sendable, frames).await {
                tracing::error!(error = %e, "stitched records could not be sent; their fragments come back");
                for i in plan.record_members.iter().flatten() {
                    settled[*i] = false;
                }
                out.stats.records = 0;
                out.send_error = Some(e.to_string());
            }
        }
        hold_back(&plan, messages, stitch).await;
        for (i, (s, was)) in settled.iter().zip(&planned_done).enumerate() {
            if *s {
                out.done.push(i);
            } else if *was {
                out.failed.push(i);
            }
        }
        out.failed.sort_unstable();
        out.failed.dedup();
        out
    }

    /// The plan is CPU work (a parse of every line): off the async workers.
    async fn plan(&self, messages: &[InMessage], now_ms: i64) -> super::Plan {
        let owned = messages.to_vec();
        let options = self.options.clone();
        let decode = self.decode.clone();
        match tokio::task::spawn_blocking(move || plan(&owned, &options, &decode, now_ms)).await {
            Ok(p) => p,
            // A panic in the planner: nothing settled, every message comes back.
            Err(e) => {
                tracing::error!(error = %e, "the stitch planner failed; the batch comes back");
                super::Plan {
                    held: (0..messages.len())
                        .map(|i| (i, self.options.step))
                        .collect(),
                    ..super::Plan::default()
                }
            }
        }
    }

    /// Frames for the records ([`frame::pack_isolating`]): a record that fits no message even cut
    /// is left out alone (its index and id returned) so that it cannot hold back the others.
    fn frame(
        &self,
        records: Vec<Transaction>,
    ) -> (Vec<Frame>, Vec<Transaction>, Vec<(usize, String)>) {
        if records.is_empty() {
            return (Vec::new(), records, Vec::new());
        }
        match frame::pack_isolating(&records, self.message_bytes) {
            Ok(packed) => {
                let unfit = packed
                    .unfit
                    .iter()
                    .map(|u| (u.index, u.id.clone()))
                    .collect();
                let fit = packed.fitting(records);
                (packed.frames, fit, unfit)
            }
            // The limit itself is out of range: nothing can be framed.
            Err(_) => (
                Vec::new(),
                Vec::new(),
                records
                    .into_iter()
                    .enumerate()
                    .map(|(k, r)| (k, r.id))
                    .collect(),
            ),
        }
    }
}
