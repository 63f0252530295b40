//! The shipper core: a batch of queue messages (NDJSON frames) → collector windows → POST, and the
//! exact list of messages that still hold an undelivered record (the Lambda's partial batch
//! response). Everything the shipper Lambda does beyond reading its event lives here.

use std::ops::Range;
use std::time::Instant;

use futures::stream::{self, StreamExt};

use crate::bridge::client::{BridgeClient, Outcome};
use crate::bridge::window::{encode_record, plan_windows, window_body, EncodedRecord};
use crate::metrics::Unit;

pub mod config;
pub use config::{AuthConfig, ConfigError, SecretConfig, ShipConfig, DEFAULT_WINDOW_BYTES};

/// One queue message as the shipper sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ShipMessage {
    pub message_id: String,
    pub body: String,
}

/// Counters of one `ship` call (the EMF metrics and the summary log line).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShipStats {
    pub messages: u64,
    pub unpack_failures: u64,
    pub records: u64,
    pub records_delivered: u64,
    pub truncated_records: u64,
    pub oversize_records: u64,
    /// Windows posted (split halves count once each).
    pub windows: u64,
    pub windows_failed: u64,
    pub splits: u64,
    /// HTTP requests, first tries and retries.
    pub requests: u64,
    pub retries: u64,
    /// Uncompressed bytes of delivered windows.
    pub bytes: u64,
    /// Bytes on the wire of delivered windows (after gzip).
    pub wire_bytes: u64,
    pub failed_messages: u64,
    /// Sum and maximum of the round trips that gave a window its final answer.
    pub latency_ms_total: u64,
    pub latency_ms_max: u64,
}

impl ShipStats {
    /// EMF metrics: (name, value, unit).
    pub fn metrics(&self) -> Vec<(&'static str, f64, Unit)> {
        let avg = if self.windows == 0 {
            0.0
        } else {
            self.latency_ms_total as f64 / self.windows as f64
        };
        vec![
            ("Messages", self.messages as f64, Unit::Count),
            ("Records", self.records as f64, Unit::Count),
            (
                "RecordsDelivered",
                self.records_delivered as f64,
                Unit::Count,
            ),
            ("Windows", self.windows as f64, Unit::Count),
            ("WindowsFailed", self.windows_failed as f64, Unit::Count),
            ("Bytes", self.bytes as f64, Unit::Bytes),
            ("Retries", self.retries as f64, Unit::Count),
            ("Failures", self.failed_messages as f64, Unit::Count),
            ("UnpackFailures", self.unpack_failures as f64, Unit::Count),
            (
                "TruncatedRecords",
                self.truncated_records as f64,
                Unit::Count,
            ),
            ("BridgeLatency", avg, Unit::Milliseconds),
            (
                "BridgeLatencyMax",
                self.latency_ms_max as f64,
                Unit::Milliseconds,
            ),
        ]
    }
}

#[derive(Debug, Clone)]
pub struct ShipReport {
    /// Message ids to report as batch item failures, in input order.
    pub failed: Vec<String>,
    pub stats: ShipStats,
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

struct Delivered {
    outcomes: Vec<RangeOutcome>,
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
        messages: &[ShipMessage],
        stats: &mut ShipStats,
    ) -> (Vec<EncodedRecord>, Vec<bool>) {
        let format = self.client.format();
        let mut records = Vec::new();
        let mut unpack_failed = vec![false; messages.len()];
        for (i, m) in messages.iter().enumerate() {
            match crate::frame::unpack(&m.body) {
                Ok(txns) => {
                    records.reserve(txns.len());
                    for t in &txns {
                        let rec = encode_record(format, t, i, self.window_bytes);
                        stats.truncated_records += u64::from(rec.truncated);
                        stats.oversize_records += u64::from(rec.oversize);
                        records.push(rec);
                    }
                }
                Err(e) => {
                    tracing::error!(message_id = %m.message_id, error = %e, "cannot unpack a queue message; reporting it failed");
                    stats.unpack_failures += 1;
                    unpack_failed[i] = true;
                }
            }
        }
        stats.records = records.len() as u64;
        (records, unpack_failed)
    }

    /// Ship a batch, finishing before `deadline` (less the client's margin).
    pub async fn ship(&self, messages: &[ShipMessage], deadline: Instant) -> ShipReport {
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
        for d in results {
            merge(&mut stats, &d.stats);
            outcomes.extend(d.outcomes);
        }
        let record_messages: Vec<usize> = records.iter().map(|r| r.message).collect();
        let failed_idx =
            failed_messages(messages.len(), &record_messages, &outcomes, &unpack_failed);
        stats.failed_messages = failed_idx.len() as u64;
        ShipReport {
            failed: failed_idx
                .into_iter()
                .map(|i| messages[i].message_id.clone())
                .collect(),
            stats,
        }
    }

    /// Send one window; on 413 split it and send the halves (depth first, in order).
    async fn deliver(
        &self,
        records: &[EncodedRecord],
        messages: &[ShipMessage],
        window: Range<usize>,
        deadline: Instant,
    ) -> Delivered {
        let mut stats = ShipStats::default();
        let mut outcomes = Vec::new();
        let mut todo = vec![window];
        while let Some(range) = todo.pop() {
            let slice = &records[range.clone()];
            let body = window_body(slice, self.client.format());
            let body_len = body.len() as u64;
            let result = self.client.post(body, deadline).await;
            stats.windows += 1;
            stats.requests += u64::from(result.attempts);
            stats.retries += u64::from(result.retries);
            let ms = result.latency.as_millis() as u64;
            stats.latency_ms_total += ms;
            stats.latency_ms_max = stats.latency_ms_max.max(ms);
            let failure = match result.outcome {
                Outcome::Delivered => {
                    stats.records_delivered += slice.len() as u64;
                    stats.bytes += body_len;
                    stats.wire_bytes += result.wire_bytes as u64;
                    outcomes.push(RangeOutcome {
                        records: range,
                        delivered: true,
                    });
                    continue;
                }
                Outcome::TooLarge if range.len() > 1 => {
                    stats.splits += 1;
                    let mid = range.start + range.len() / 2;
                    tracing::info!(
                        records = range.len(),
                        bytes = body_len,
                        "collector answered 413; splitting the window"
                    );
                    todo.push(mid..range.end);
                    todo.push(range.start..mid);
                    continue;
                }
                Outcome::TooLarge => "collector answered 413 for a single record".to_string(),
                Outcome::Failed(e) => e.to_string(),
            };
            stats.windows_failed += 1;
            let mut ids: Vec<&str> = slice
                .iter()
                .map(|r| messages[r.message].message_id.as_str())
                .collect();
            ids.dedup();
            tracing::warn!(
                records = slice.len(),
                bytes = body_len,
                attempts = result.attempts,
                message_ids = ?ids,
                error = %failure,
                "window not delivered; its messages are reported failed"
            );
            outcomes.push(RangeOutcome {
                records: range,
                delivered: false,
            });
        }
        Delivered { outcomes, stats }
    }
}

fn merge(total: &mut ShipStats, s: &ShipStats) {
    total.windows += s.windows;
    total.windows_failed += s.windows_failed;
    total.splits += s.splits;
    total.requests += s.requests;
    total.retries += s.retries;
    total.bytes += s.bytes;
    total.wire_bytes += s.wire_bytes;
    total.records_delivered += s.records_delivered;
    total.latency_ms_total += s.latency_ms_total;
    total.latency_ms_max = total.latency_ms_max.max(s.latency_ms_max);
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
