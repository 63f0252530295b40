//! The ship stage's side of the flow: a batch of queue messages (NDJSON frames) → collector
//! windows → POST, and the exact list of messages that still hold an undelivered record (the
//! Lambda's partial batch response).
//!
//! - [`Shipper`] (here): unpack, encode, window, post, and map the outcome back to messages;
//! - [`bridge`]: the collector's formats, windows, OAuth2 tokens and HTTP client;
//! - [`settle`]: what happens to a batch's messages in their queue afterwards;
//! - [`stage`]: [`stage::ShipStage`], ship then settle: what the shipper Lambda and `local` run.

use std::ops::Range;
use std::time::Instant;

use futures::stream::{self, StreamExt};

use crate::counters;
use crate::ship::bridge::client::{BridgeClient, DeliveryError, Outcome, PostResult};
use crate::ship::bridge::window::{encode_record, plan_windows, window_body, EncodedRecord};
use crate::transport::queue::InMessage;

pub mod bridge;
pub mod config;
pub mod settle;
pub mod stage;
pub use config::{AuthConfig, SecretConfig, ShipConfig, DEFAULT_WINDOW_BYTES};

counters! {
    /// Counters of one `ship` call (the EMF metrics and the summary log line).
    pub struct ShipStats {
        /// Queue messages in the batch.
        messages: sum ["Messages", Count],
        /// Messages whose body does not unpack (reported failed, to the DLQ in the end).
        unpack_failures: sum ["UnpackFailures", Count],
        /// Records unpacked from the batch.
        records: sum ["Records", Count],
        /// Records in windows the collector accepted.
        records_delivered: sum ["RecordsDelivered", Count],
        /// Records cut to fit a window (`flags.truncated`).
        truncated_records: sum ["TruncatedRecords", Count],
        /// Records larger than a window even cut, sent alone.
        oversize_records: sum,
        /// Records the collector rejected (400/422) alone, after bisecting their window.
        records_rejected: sum ["RecordsRejected", Count],
        /// Windows posted (split halves count once each).
        windows: sum ["Windows", Count],
        /// Windows that were not delivered after their retries.
        windows_failed: sum ["WindowsFailed", Count],
        /// Windows halved after a 413, or after a 400/422 to find the rejected record.
        splits: sum,
        /// HTTP requests, first tries and retries.
        requests: sum,
        /// HTTP requests that were retries.
        retries: sum ["Retries", Count],
        /// Uncompressed bytes of delivered windows.
        bytes: sum ["Bytes", Bytes],
        /// Bytes on the wire of delivered windows (after gzip).
        wire_bytes: sum,
        /// Messages reported as batch item failures.
        failed_messages: sum ["Failures", Count],
        /// Sum of the round trips that gave a window its final answer.
        latency_ms_total: sum,
        /// The longest round trip that gave a window its final answer.
        latency_ms_max: max ["BridgeLatencyMax", Milliseconds],
    }
    derived {
        /// Records of the batch not delivered: the alarm's input (the function returns a partial
        /// batch response, so its Errors metric never sees them).
        "RecordsFailed" [Count] = |s| s.records.saturating_sub(s.records_delivered),
        /// The average round trip of a window.
        "BridgeLatency" [Milliseconds] = |s| if s.windows == 0 {
            0.0
        } else {
            s.latency_ms_total as f64 / s.windows as f64
        },
    }
}

#[derive(Debug, Clone)]
pub struct ShipReport {
    /// Message ids to report as batch item failures, in input order.
    pub failed: Vec<String>,
    /// Of `failed`, the messages held back only for reasons waiting will not cure (content
    /// rejected, credentials refused, a redirect, a body that does not unpack): they keep the
    /// queue's visibility timeout instead of waiting longer each time, and reach the DLQ (from
    /// where redrive brings them back once fixed) at the queue's pace.
    pub permanent: Vec<String>,
    /// Messages whose records were all delivered except some the collector rejected: the caller
    /// sends `frames` (those records alone) to the queue, and then counts the message done, so
    /// the delivered records are not sent again. If sending fails, report the message failed.
    pub requeue: Vec<Requeue>,
    pub stats: ShipStats,
}

/// The rejected records of a partly delivered message, framed anew.
#[derive(Debug, Clone)]
pub struct Requeue {
    pub message_id: String,
    /// Ids of the rejected records.
    pub record_ids: Vec<String>,
    pub frames: Vec<crate::transport::frame::Frame>,
}

/// The outcome of one record range (a window, or part of a split one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeOutcome {
    pub records: Range<usize>,
    pub delivered: bool,
}

/// Indices of the messages that must be retried: those that could not be unpacked, and those with
/// any record not inside a delivered range. `record_messages[i]` is the message of record `i`.
pub fn failed_messages(
    message_count: usize,
    record_messages: &[usize],
    outcomes: &[RangeOutcome],
    unpack_failed: &[bool],
) -> Vec<usize> {
    let mut delivered = vec![false; record_messages.len()];
    for o in outcomes.iter().filter(|o| o.delivered) {
        let end = o.records.end.min(delivered.len());
        for d in &mut delivered[o.records.start.min(end)..end] {
            *d = true;
        }
    }
    let mut failed = vec![false; message_count];
    for (i, f) in unpack_failed.iter().enumerate().take(message_count) {
        failed[i] |= *f;
    }
    for (rec, &msg) in record_messages.iter().enumerate() {
        if !delivered[rec] && msg < message_count {
            failed[msg] = true;
        }
    }
    failed
        .iter()
        .enumerate()
        .filter(|(_, f)| **f)
        .map(|(i, _)| i)
        .collect()
}

pub struct Shipper {
    client: BridgeClient,
    window_bytes: usize,
    concurrency: usize,
}

#[derive(Default)]
struct Delivered {
    outcomes: Vec<RangeOutcome>,
    /// Records the collector rejected alone.
    rejected: Vec<usize>,
    /// Ranges that failed for a reason a later try may cure.
    transient: Vec<Range<usize>>,
    stats: ShipStats,
}

impl Shipper {
    pub fn new(client: BridgeClient, window_bytes: usize, concurrency: usize) -> Self {
        Shipper {
            client,
            window_bytes,
            concurrency: concurrency.max(1),
        }
    }

    pub fn client(&self) -> &BridgeClient {
        &self.client
    }

    pub fn window_bytes(&self) -> usize {
        self.window_bytes
    }

    /// Unpack every message into encoded records; returns them and which messages failed to unpack.
    pub fn encode_batch(
        &self,
        messages: &[InMessage],
        stats: &mut ShipStats,
    ) -> (Vec<EncodedRecord>, Vec<bool>) {
        let mut records = Vec::new();
        let mut unpack_failed = vec![false; messages.len()];
        for (i, m) in messages.iter().enumerate() {
            let start = records.len();
            if let Err(e) = self.encode_message(m, i, &mut records, stats) {
                // The message is retried (and in the end kept in the DLQ) whole: none of it goes.
                records.truncate(start);
                tracing::error!(message_id = %m.message_id, error = %e, "cannot unpack a queue message; reporting it failed");
                stats.unpack_failures += 1;
                unpack_failed[i] = true;
            }
        }
        stats.records = records.len() as u64;
        (records, unpack_failed)
    }

    /// The records of message `index`, encoded, appended to `out`. Each line is encoded from a
    /// view that borrows from it ([`window::encode_line`]); only a record that may need cutting
    /// becomes an owned [`Transaction`](crate::transaction::Transaction).
    fn encode_message(
        &self,
        m: &InMessage,
        index: usize,
        out: &mut Vec<EncodedRecord>,
        stats: &mut ShipStats,
    ) -> Result<(), crate::transport::frame::FrameError> {
        use crate::transport::frame::{lines, ndjson_of, record_of, FrameError};
        let format = self.client.format();
        let ndjson = ndjson_of(&m.body)?;
        for (n, line) in lines(&ndjson) {
            let fast =
                crate::ship::bridge::window::encode_line(format, line, index, self.window_bytes)
                    .map_err(|e| FrameError::Record {
                        line: n,
                        cause: e.to_string(),
                    })?;
            let rec = match fast {
                Some(rec) => rec,
                None => encode_record(format, &record_of(n, line)?, index, self.window_bytes),
            };
            stats.truncated_records += u64::from(rec.truncated);
            stats.oversize_records += u64::from(rec.oversize);
            out.push(rec);
        }
        if let std::borrow::Cow::Owned(text) = ndjson {
            crate::scratch::give(text);
        }
        Ok(())
    }

    /// Ship a batch, finishing before `deadline` (less the client's margin).
    pub async fn ship(&self, messages: &[InMessage], deadline: Instant) -> ShipReport {
        let mut stats = ShipStats {
            messages: messages.len() as u64,
            ..ShipStats::default()
        };
        let (records, unpack_failed) = self.encode_batch(messages, &mut stats);
        let windows = plan_windows(&records, self.client.format(), self.window_bytes);

        let results: Vec<Delivered> = stream::iter(windows)
            .map(|w| self.deliver(&records, messages, w, deadline))
            .buffer_unordered(self.concurrency)
            .collect()
            .await;

        let mut outcomes = Vec::new();
        let mut rejected = vec![false; records.len()];
        let mut transient = vec![false; records.len()];
        for d in results {
            stats.add(&d.stats);
            outcomes.extend(d.outcomes);
            for r in d.rejected {
                rejected[r] = true;
            }
            for r in d.transient.into_iter().flatten() {
                transient[r] = true;
            }
        }
        let record_messages: Vec<usize> = records.iter().map(|r| r.message).collect();
        let failed_idx =
            failed_messages(messages.len(), &record_messages, &outcomes, &unpack_failed);
        let mut report = ShipReport {
            failed: Vec::new(),
            permanent: Vec::new(),
            requeue: Vec::new(),
            stats,
        };
        let mut delivered = vec![false; records.len()];
        for o in outcomes.iter().filter(|o| o.delivered) {
            for d in &mut delivered[o.records.clone()] {
                *d = true;
            }
        }
        for m in failed_idx {
            let id = &messages[m].message_id;
            match rejection_of(m, &records, &rejected, &delivered, unpack_failed[m]) {
                Rejection::None => {
                    report.failed.push(id.clone());
                    let waiting_helps = records
                        .iter()
                        .zip(&transient)
                        .any(|(r, t)| r.message == m && *t);
                    if !waiting_helps {
                        report.permanent.push(id.clone());
                    }
                }
                Rejection::All => {
                    report.failed.push(id.clone());
                    report.permanent.push(id.clone());
                }
                Rejection::Some(ids) => match requeue_frames(&messages[m], &ids) {
                    Ok(frames) => report.requeue.push(Requeue {
                        message_id: id.clone(),
                        record_ids: ids,
                        frames,
                    }),
                    Err(e) => {
                        tracing::error!(message_id = %id, error = %e, "cannot frame the rejected records anew; the whole message is retried");
                        report.failed.push(id.clone());
                    }
                },
            }
        }
        report.stats.failed_messages = report.failed.len() as u64;
        report
    }

    /// Send one window; on 413 split it and send the halves (depth first, in order).
    async fn deliver(
        &self,
        records: &[EncodedRecord],
        messages: &[InMessage],
        window: Range<usize>,
        deadline: Instant,
    ) -> Delivered {
        let mut delivered = Delivered::default();
        let mut todo = vec![window];
        while let Some(range) = todo.pop() {
            let body = window_body(&records[range.clone()], self.client.format());
            let body_len = body.len() as u64;
            let result = self.client.post(body, deadline).await;
            delivered.count_post(&result);
            let posted = Posted {
                records,
                messages,
                range,
                body_len,
            };
            if let Some((first, second)) = delivered.settle(posted, result) {
                todo.push(second);
                todo.push(first);
            }
        }
        delivered
    }
}

/// One range as posted: its records (indices into `records`) and the body's size.
struct Posted<'a> {
    records: &'a [EncodedRecord],
    messages: &'a [InMessage],
    range: Range<usize>,
    body_len: u64,
}

impl Posted<'_> {
    fn halves(&self) -> (Range<usize>, Range<usize>) {
        let mid = self.range.start + self.range.len() / 2;
        (self.range.start..mid, mid..self.range.end)
    }
}

impl Delivered {
    fn count_post(&mut self, result: &PostResult) {
        let stats = &mut self.stats;
        stats.windows += 1;
        stats.requests += u64::from(result.attempts);
        stats.retries += u64::from(result.retries);
        let ms = result.latency.as_millis() as u64;
        stats.latency_ms_total += ms;
        stats.latency_ms_max = stats.latency_ms_max.max(ms);
    }

    /// Account for one posted range; the halves to post next when it must be split.
    fn settle(
        &mut self,
        posted: Posted<'_>,
        result: PostResult,
    ) -> Option<(Range<usize>, Range<usize>)> {
        let failure = match result.outcome {
            Outcome::Delivered => {
                self.stats.records_delivered += posted.range.len() as u64;
                self.stats.bytes += posted.body_len;
                self.stats.wire_bytes += result.wire_bytes as u64;
                self.outcomes.push(RangeOutcome {
                    records: posted.range,
                    delivered: true,
                });
                return None;
            }
            Outcome::TooLarge if posted.range.len() > 1 => {
                self.stats.splits += 1;
                tracing::info!(
                    records = posted.range.len(),
                    bytes = posted.body_len,
                    "collector answered 413; splitting the window"
                );
                return Some(posted.halves());
            }
            Outcome::TooLarge => "collector answered 413 for a single record".to_string(),
            Outcome::Failed(e) if e.is_transient() => {
                self.transient.push(posted.range.clone());
                e.to_string()
            }
            // A rejection of content: halve until the rejected records are alone, so every
            // other record of the window is delivered (once).
            Outcome::Failed(e) if e.is_content_rejection() && posted.range.len() > 1 => {
                self.stats.splits += 1;
                tracing::info!(records = posted.range.len(), error = %e, "collector rejected the window's content; bisecting to find the record");
                return Some(posted.halves());
            }
            Outcome::Failed(e) if e.is_content_rejection() => {
                self.reject(posted, &e);
                return None;
            }
            Outcome::Failed(e) => e.to_string(),
        };
        self.fail(posted, result.attempts, &failure);
        None
    }

    /// The collector rejected this one record: only it is held back.
    fn reject(&mut self, posted: Posted<'_>, e: &DeliveryError) {
        self.stats.records_rejected += 1;
        self.stats.windows_failed += 1;
        let rec = &posted.records[posted.range.start];
        tracing::warn!(
            record_id = %rec.id,
            message_id = %posted.messages[rec.message].message_id,
            bytes = posted.body_len,
            error = %e,
            "collector rejected this record; it alone is held back"
        );
        self.rejected.push(posted.range.start);
        self.outcomes.push(RangeOutcome {
            records: posted.range,
            delivered: false,
        });
    }

    /// The range was not delivered: its messages are reported failed.
    fn fail(&mut self, posted: Posted<'_>, attempts: u32, failure: &str) {
        self.stats.windows_failed += 1;
        let slice = &posted.records[posted.range.clone()];
        let mut ids: Vec<&str> = slice
            .iter()
            .map(|r| posted.messages[r.message].message_id.as_str())
            .collect();
        ids.dedup();
        tracing::warn!(
            records = slice.len(),
            bytes = posted.body_len,
            attempts,
            message_ids = ?ids,
            error = %failure,
            "window not delivered; its messages are reported failed"
        );
        self.outcomes.push(RangeOutcome {
            records: posted.range,
            delivered: false,
        });
    }
}

/// Why a failed message failed, as far as rejected records explain it.
enum Rejection {
    /// Some record is undelivered for another reason (or the message did not unpack).
    None,
    /// Every record of the message was rejected.
    All,
    /// These records were rejected; every other one was delivered.
    Some(Vec<String>),
}

fn rejection_of(
    message: usize,
    records: &[EncodedRecord],
    rejected: &[bool],
    delivered: &[bool],
    unpack_failed: bool,
) -> Rejection {
    if unpack_failed {
        return Rejection::None;
    }
    let mut ids = Vec::new();
    let mut any_delivered = false;
    for (i, r) in records
        .iter()
        .enumerate()
        .filter(|(_, r)| r.message == message)
    {
        if rejected[i] {
            ids.push(r.id.clone());
        } else if delivered[i] {
            any_delivered = true;
        } else {
            return Rejection::None;
        }
    }
    match (ids.is_empty(), any_delivered) {
        (true, _) => Rejection::None,
        (false, false) => Rejection::All,
        (false, true) => Rejection::Some(ids),
    }
}

/// The records `ids` of `message`, packed into frames of their own.
fn requeue_frames(
    message: &InMessage,
    ids: &[String],
) -> Result<Vec<crate::transport::frame::Frame>, crate::transport::frame::FrameError> {
    let wanted: std::collections::HashSet<&str> = ids.iter().map(String::as_str).collect();
    let mut txns = crate::transport::frame::unpack(&message.body)?;
    txns.retain(|t| wanted.contains(t.id.as_str()));
    crate::transport::frame::pack(&txns, crate::transport::frame::DEFAULT_MESSAGE_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_marks_unpack_failures_and_undelivered_records() {
        // messages: 0 (records 0,1), 1 (unpack failed), 2 (records 2,3), 3 (no records)
        let recs = [0, 0, 2, 2];
        let outcomes = [
            RangeOutcome {
                records: 0..1,
                delivered: true,
            },
            RangeOutcome {
                records: 1..3,
                delivered: false,
            },
            RangeOutcome {
                records: 3..4,
                delivered: true,
            },
        ];
        assert_eq!(
            failed_messages(4, &recs, &outcomes, &[false, true, false, false]),
            vec![0, 1, 2]
        );
    }
}
