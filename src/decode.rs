//! The decode stage: payload → LogData → lines → canonical records, filtered and redacted, with
//! counts of everything read, so nothing disappears unaccounted.

use serde::Serialize;

use crate::filter::{Drop, FilterConfig};
use crate::formats::parse_line;
use crate::logs::{decode_payload, LogData, PayloadError, DEFAULT_MAX_PAYLOAD_BYTES};
use crate::normalize::{to_transaction, Context};
use crate::transaction::Transaction;

#[derive(Debug, Clone, PartialEq)]
pub struct DecodeOptions {
    /// Cap on decompressed bytes per gzip stream (`MAX_PAYLOAD_BYTES`).
    pub max_payload_bytes: usize,
    pub filter: FilterConfig,
    /// Region to record when a line has no execute-api domain (the Lambda's `AWS_REGION`).
    pub region: Option<String>,
    /// Execution-log bodies longer than this are cut and flagged truncated (`MAX_BODY_BYTES`).
    pub max_body_bytes: usize,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            max_payload_bytes: DEFAULT_MAX_PAYLOAD_BYTES,
            filter: FilterConfig::default(),
            region: None,
            max_body_bytes: crate::execution::DEFAULT_MAX_BODY_BYTES,
        }
    }
}

/// Counts for one invocation or one CLI run. `log_events` = access-log records + lines_unparsed +
/// access-log lines filtered + execution_lines (+ the events of control messages); execution lines
/// become one record (or one filtered count) per request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DecodeStats {
    /// Subscription messages (LogData) decoded, control messages included.
    pub payloads: u64,
    pub control_messages: u64,
    /// Payloads that could not be decoded at all.
    pub payload_errors: u64,
    pub log_events: u64,
    pub records: u64,
    pub lines_unparsed: u64,
    /// Lines recovered from malformed JSON (their records carry `flags.partial`).
    pub lines_recovered: u64,
    pub filtered: u64,
    pub filtered_static_file: u64,
    pub filtered_content_type: u64,
    pub filtered_api_kind: u64,
    /// Execution-log lines that joined a request.
    pub execution_lines: u64,
    /// Of those, lines of a kind the parser does not know.
    pub execution_lines_other: u64,
    /// Execution-log requests whose completion line was not in their payload (records flagged
    /// `partial`, carrying their lines).
    pub requests_incomplete: u64,
}

impl DecodeStats {
    pub fn add(&mut self, o: &DecodeStats) {
        self.payloads += o.payloads;
        self.control_messages += o.control_messages;
        self.payload_errors += o.payload_errors;
        self.log_events += o.log_events;
        self.records += o.records;
        self.lines_unparsed += o.lines_unparsed;
        self.lines_recovered += o.lines_recovered;
        self.filtered += o.filtered;
        self.filtered_static_file += o.filtered_static_file;
        self.filtered_content_type += o.filtered_content_type;
        self.filtered_api_kind += o.filtered_api_kind;
        self.execution_lines += o.execution_lines;
        self.execution_lines_other += o.execution_lines_other;
        self.requests_incomplete += o.requests_incomplete;
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error(transparent)]
    Payload(#[from] PayloadError),
}

/// Decode any payload form into records (in input order), updating `stats`.
pub fn decode_bytes(
    input: &[u8],
    opts: &DecodeOptions,
    stats: &mut DecodeStats,
) -> Result<Vec<Transaction>, DecodeError> {
    let messages = match decode_payload(input, opts.max_payload_bytes) {
        Ok(m) => m,
        Err(e) => {
            stats.payload_errors += 1;
            return Err(e.into());
        }
    };
    let mut out = Vec::new();
    for data in &messages {
        records_from_logdata(data, opts, stats, &mut out);
    }
    Ok(out)
}

/// Records from one subscription message, appended to `out`.
pub fn records_from_logdata(
    data: &LogData,
    opts: &DecodeOptions,
    stats: &mut DecodeStats,
    out: &mut Vec<Transaction>,
) {
    stats.payloads += 1;
    if data.is_control() {
        stats.control_messages += 1;
        return;
    }
    let ctx = Context::of(data, opts.region.as_deref());
    let execution_group = crate::execution::is_execution_group(&data.log_group);
    let mut execution = Vec::new();
    out.reserve(data.log_events.len());
    for (i, event) in data.log_events.iter().enumerate() {
        stats.log_events += 1;
        if let Some(item) = crate::execution::recognize(&event.message, i, execution_group) {
            execution.push(item);
            continue;
        }
        let parsed = match parse_line(&event.message) {
            Ok(p) => p,
            Err(e) => {
                stats.lines_unparsed += 1;
                let head: String = event.message.chars().take(120).collect();
                tracing::debug!(log_group = %data.log_group, event_id = %event.id, error = %e, line_head = %head, "line skipped");
                continue;
            }
        };
        if parsed.partial {
            stats.lines_recovered += 1;
        }
        keep(opts, to_transaction(parsed, event, &ctx), stats, out);
    }
    if execution.is_empty() {
        return;
    }
    let (records, counts) =
        crate::execution::assemble(&execution, &data.log_events, &ctx, opts.max_body_bytes);
    stats.execution_lines += counts.lines;
    stats.execution_lines_other += counts.other;
    stats.lines_unparsed += counts.orphans;
    stats.requests_incomplete += counts.incomplete;
    for t in records {
        keep(opts, t, stats, out);
    }
}

/// Filter one record: append it to `out`, or count why it was dropped.
fn keep(
    opts: &DecodeOptions,
    mut t: Transaction,
    stats: &mut DecodeStats,
    out: &mut Vec<Transaction>,
) {
    match opts.filter.apply(&mut t) {
        Ok(()) => {
            stats.records += 1;
            out.push(t);
        }
        Err(reason) => {
            stats.filtered += 1;
            match reason {
                Drop::StaticFile => stats.filtered_static_file += 1,
                Drop::ContentType => stats.filtered_content_type += 1,
                Drop::ApiKindDisabled => stats.filtered_api_kind += 1,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The AWS documentation's sample subscription event: two non-access lines.
    const AWS_SAMPLE: &str = r#"{"awslogs":{"data":"H4sIAAAAAAAAAHWPwQqCQBCGX0Xm7EFtK+smZBEUgXoLCdMhFtKV3akI8d0bLYmibvPPN3wz00CJxmQnTO41whwWQRIctmEcB6sQbFC3CjW3XW8kxpOpP+OC22d1Wml1qZkQGtoMsScxaczKN3plG8zlaHIta5KqWsozoTYw3/djzwhpLwivWFGHGpAFe7DL68JlBUk+l7KSN7tCOEJ4M3/qOI49vMHj+zCKdlFqLaU2ZHV2a4Ct/an0/ivdX8oYc1UVX860fQDQiMdxRQEAAA=="}}"#;

    #[test]
    fn aws_sample_counts_two_unparsed_lines() {
        let mut s = DecodeStats::default();
        let recs = decode_bytes(AWS_SAMPLE.as_bytes(), &DecodeOptions::default(), &mut s).unwrap();
        assert!(recs.is_empty());
        assert_eq!((s.payloads, s.log_events, s.lines_unparsed), (1, 2, 2));
    }

    #[test]
    fn payload_error_is_counted() {
        let mut s = DecodeStats::default();
        assert!(decode_bytes(b"not a payload at all!", &DecodeOptions::default(), &mut s).is_err());
        assert_eq!(s.payload_errors, 1);
    }
}

/// What one decode invocation did: counts for the summary line and the EMF metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ForwardSummary {
    #[serde(flatten)]
    pub stats: DecodeStats,
    pub messages_sent: u64,
    pub message_bytes: u64,
    pub send_calls: u64,
    pub send_retried: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("payload from {source_name}: {cause}")]
    Payload {
        source_name: String,
        cause: DecodeError,
    },
    #[error(transparent)]
    Frame(#[from] crate::frame::FrameError),
    #[error(transparent)]
    Queue(#[from] crate::queue::QueueError),
}

/// The decode Lambda's work for one payload: decode, filter, frame and send to the queue.
/// Any error fails the invocation, so Lambda retries it and finally keeps it in the decode DLQ.
pub async fn forward(
    input: &[u8],
    source_name: &str,
    opts: &DecodeOptions,
    message_bytes: usize,
    queue: &dyn crate::queue::Queue,
    policy: &crate::queue::SendPolicy,
) -> Result<ForwardSummary, ForwardError> {
    let mut summary = ForwardSummary::default();
    let records =
        decode_bytes(input, opts, &mut summary.stats).map_err(|cause| ForwardError::Payload {
            source_name: source_name.to_string(),
            cause,
        })?;
    if records.is_empty() {
        return Ok(summary);
    }
    let frames = crate::frame::pack(&records, message_bytes)?;
    let messages: Vec<_> = frames
        .into_iter()
        .enumerate()
        .map(|(i, f)| f.into_message(i.to_string()))
        .collect();
    let report = crate::queue::send_all(queue, messages, policy).await?;
    summary.messages_sent = report.messages as u64;
    summary.message_bytes = report.bytes as u64;
    summary.send_calls = report.calls as u64;
    summary.send_retried = report.retried as u64;
    Ok(summary)
}

/// The EMF line for one decode invocation.
pub fn summary_emf(s: &ForwardSummary, timestamp_ms: i64) -> serde_json::Value {
    use crate::metrics::{emf, Unit};
    emf(
        timestamp_ms,
        &[("Function", "decode")],
        &[
            ("Payloads", s.stats.payloads as f64, Unit::Count),
            ("LogEvents", s.stats.log_events as f64, Unit::Count),
            ("Records", s.stats.records as f64, Unit::Count),
            ("LinesUnparsed", s.stats.lines_unparsed as f64, Unit::Count),
            (
                "RequestsIncomplete",
                s.stats.requests_incomplete as f64,
                Unit::Count,
            ),
            ("Filtered", s.stats.filtered as f64, Unit::Count),
            ("MessagesSent", s.messages_sent as f64, Unit::Count),
            ("MessageBytes", s.message_bytes as f64, Unit::Bytes),
        ],
    )
}
