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
    /// Log groups whose payloads are decoded (`ALLOWED_LOG_GROUPS`); `None`: any. Others are
    /// counted (`foreign_payloads`) and ignored: whoever may put a subscription filter on some
    /// other group must not be able to inject traffic attributed to an API.
    pub log_groups: Option<Vec<String>>,
    /// Execution-log bodies longer than this are cut and flagged truncated (`MAX_BODY_BYTES`).
    pub max_body_bytes: usize,
}

/// API Gateway's own groups (execution logs, the console's access-log names), the prefix our
/// documentation recommends for access logs (`/aws/apigateway/*` is the usual access-log home),
/// and the groups `enable --large-bodies` creates for the 1 MB execution-log delivery.
pub const DEFAULT_LOG_GROUPS: &[&str] = &[
    "/aws/apigateway/*",
    "API-Gateway-Execution-Logs_*",
    "API-Gateway-Access-Logs_*",
    "/apigw-stream/*",
    "/aws/vendedlogs/apigw-stream/*",
];

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            max_payload_bytes: DEFAULT_MAX_PAYLOAD_BYTES,
            filter: FilterConfig::default(),
            region: None,
            log_groups: None,
            max_body_bytes: crate::execution::DEFAULT_MAX_BODY_BYTES,
        }
    }
}

impl DecodeOptions {
    /// Whether payloads of `group` are decoded: a pattern is a name, or a prefix ending in `*`.
    pub fn allows_log_group(&self, group: &str) -> bool {
        self.log_groups.as_ref().is_none_or(|patterns| {
            patterns.iter().any(|p| match p.strip_suffix('*') {
                Some(prefix) => group.starts_with(prefix),
                None => group == p,
            })
        })
    }
}

/// `ALLOWED_LOG_GROUPS`: comma-separated patterns; `*` alone allows every group.
pub fn parse_log_groups(value: &str) -> Option<Vec<String>> {
    let patterns: Vec<String> = value
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    (!patterns.iter().any(|p| p == "*")).then_some(patterns)
}

/// Counts for one invocation or one CLI run. `log_events` = access-log records + lines_unparsed +
/// lines_not_api + access-log lines filtered + execution_lines (+ the events of control messages);
/// execution lines become one record (or one filtered count) per request.
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
    /// Lines that are not API requests (other services' logs, plain text), skipped on purpose.
    pub lines_not_api: u64,
    /// Lines recovered from malformed JSON (their records carry `flags.partial`).
    pub lines_recovered: u64,
    /// JSON lines holding escapes of lone UTF-16 surrogates (`\udc80`), kept with U+FFFD in their
    /// place (their records carry `flags.partial`, and `flags.body_lossy` for a body).
    pub lines_lossy: u64,
    pub filtered: u64,
    pub filtered_static_file: u64,
    pub filtered_content_type: u64,
    pub filtered_api_kind: u64,
    /// Data messages from log groups not allowed (`ALLOWED_LOG_GROUPS`), ignored whole.
    pub foreign_payloads: u64,
    /// Their log events (not part of `log_events`).
    pub foreign_events: u64,
    /// Execution-log lines that joined a request.
    pub execution_lines: u64,
    /// Of those, lines of a kind the parser does not know.
    pub execution_lines_other: u64,
    /// Execution-log requests whose completion line was not in their payload (records flagged
    /// `partial`, carrying their lines; with stitching, sent as fragments instead).
    pub requests_incomplete: u64,
    /// With stitching: requests sent to the stitch queue (execution lines not seen whole, and in
    /// joined mode every request of a joined stage, from either source).
    pub fragments: u64,
    /// With stitching: lines that only trail a request already delivered whole (integration
    /// request id, X-Ray id), dropped (counted in groups).
    pub trailers_dropped: u64,
}

impl DecodeStats {
    pub fn add(&mut self, o: &DecodeStats) {
        self.payloads += o.payloads;
        self.control_messages += o.control_messages;
        self.payload_errors += o.payload_errors;
        self.log_events += o.log_events;
        self.records += o.records;
        self.lines_unparsed += o.lines_unparsed;
        self.lines_not_api += o.lines_not_api;
        self.lines_recovered += o.lines_recovered;
        self.lines_lossy += o.lines_lossy;
        self.filtered += o.filtered;
        self.filtered_static_file += o.filtered_static_file;
        self.filtered_content_type += o.filtered_content_type;
        self.filtered_api_kind += o.filtered_api_kind;
        self.foreign_payloads += o.foreign_payloads;
        self.foreign_events += o.foreign_events;
        self.execution_lines += o.execution_lines;
        self.execution_lines_other += o.execution_lines_other;
        self.requests_incomplete += o.requests_incomplete;
        self.fragments += o.fragments;
        self.trailers_dropped += o.trailers_dropped;
    }
}

/// Why a payload gave no records at all. Both kinds are permanent for these bytes (a retry decodes
/// the same bytes the same way); they differ in what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Not a payload in any supported form (empty, bad base64 / gzip / JSON, wrong shape): the
    /// sender or the subscription is wrong.
    #[error(transparent)]
    Malformed(PayloadError),
    /// Over a cap that bounds memory (decompressed bytes, log events): split the input or raise
    /// `MAX_PAYLOAD_BYTES`.
    #[error(transparent)]
    OverLimit(PayloadError),
}

impl From<PayloadError> for DecodeError {
    fn from(e: PayloadError) -> Self {
        match e {
            PayloadError::TooLarge { .. } | PayloadError::TooManyEvents { .. } => {
                DecodeError::OverLimit(e)
            }
            other => DecodeError::Malformed(other),
        }
    }
}

impl DecodeError {
    /// The underlying cause.
    pub fn payload(&self) -> &PayloadError {
        match self {
            DecodeError::Malformed(e) | DecodeError::OverLimit(e) => e,
        }
    }
}

/// Decode any payload form into records (in input order), updating `stats`.
pub fn decode_bytes(
    input: &[u8],
    opts: &DecodeOptions,
    stats: &mut DecodeStats,
) -> Result<Vec<Transaction>, DecodeError> {
    decode_with(input, opts, stats, None)
}

/// Decode any payload form into records and, for stitching, fragments (see [`Split`]).
pub fn decode_split(
    input: &[u8],
    opts: &DecodeOptions,
    stats: &mut DecodeStats,
    split: &mut Split<'_>,
) -> Result<Vec<Transaction>, DecodeError> {
    decode_with(input, opts, stats, Some(split))
}

fn decode_with(
    input: &[u8],
    opts: &DecodeOptions,
    stats: &mut DecodeStats,
    mut split: Option<&mut Split<'_>>,
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
        split_logdata(data, opts, stats, &mut out, split.as_deref_mut());
    }
    Ok(out)
}

/// Stitching's side of the decode stage: where fragments go, and which stages are joined.
pub struct Split<'a> {
    pub fragments: &'a mut Vec<crate::stitch::Fragment>,
    pub join: &'a crate::stitch::JoinRule,
}

/// Records from one subscription message, appended to `out`.
pub fn records_from_logdata(
    data: &LogData,
    opts: &DecodeOptions,
    stats: &mut DecodeStats,
    out: &mut Vec<Transaction>,
) {
    split_logdata(data, opts, stats, out, None)
}

/// [`records_from_logdata`]; with `split`, requests not seen whole become fragments.
pub fn split_logdata(
    data: &LogData,
    opts: &DecodeOptions,
    stats: &mut DecodeStats,
    out: &mut Vec<Transaction>,
    mut split: Option<&mut Split<'_>>,
) {
    stats.payloads += 1;
    if data.is_control() {
        stats.control_messages += 1;
        return;
    }
    if !opts.allows_log_group(&data.log_group) {
        stats.foreign_payloads += 1;
        stats.foreign_events += data.log_events.len() as u64;
        tracing::warn!(
            log_group = %data.log_group,
            owner = %data.owner,
            events = data.log_events.len(),
            "payload from a log group that is not allowed (ALLOWED_LOG_GROUPS); ignored"
        );
        return;
    }
    let ctx = Context::of(data, opts.region.as_deref());
    let execution_group = crate::execution::is_execution_group(&data.log_group);
    let mut execution = Vec::new();
    out.reserve(data.log_events.len());
    let (mut not_api, mut api) = (0u64, 0u64);
    // JSON messages with escapes of lone surrogates, which a JSON parser refuses: repaired
    // (U+FFFD) so the event is kept, lossily, and its record flagged.
    // (index, repaired text), in index order; empty, so free, for ordinary payloads.
    let repaired: Vec<(usize, String)> = data
        .log_events
        .iter()
        .enumerate()
        .filter(|(_, e)| e.message.trim_start().starts_with('{'))
        .filter_map(|(i, e)| crate::logs::repair_lone_surrogates(&e.message).map(|r| (i, r)))
        .collect();
    let repaired_at = |i: usize| {
        repaired
            .binary_search_by_key(&i, |(j, _)| *j)
            .ok()
            .map(|k| repaired[k].1.as_str())
    };
    for (i, event) in data.log_events.iter().enumerate() {
        stats.log_events += 1;
        let fixed = repaired_at(i);
        let message = fixed.unwrap_or(&event.message);
        if fixed.is_some() {
            stats.lines_lossy += 1;
        }
        if let Some(item) = crate::execution::recognize(message, i, execution_group) {
            execution.push(item);
            continue;
        }
        let parsed = match parse_line(message) {
            Ok(p) => p,
            Err(e) => {
                if e.is_not_api() {
                    not_api += 1;
                } else {
                    stats.lines_unparsed += 1;
                }
                let head: String = message.chars().take(120).collect();
                tracing::debug!(log_group = %data.log_group, event_id = %event.id, error = %e, line_head = %head, "line skipped");
                continue;
            }
        };
        api += 1;
        if parsed.partial {
            stats.lines_recovered += 1;
        }
        let mut t = to_transaction(parsed, event, &ctx);
        if fixed.is_some() {
            t.flags.partial = true;
        }
        match split.as_deref_mut() {
            // Joined: the record waits for its execution lines; filters apply to the merge.
            Some(sp) if sp.join.joins_record(&t) => {
                stats.fragments += 1;
                sp.fragments
                    .push(crate::stitch::Fragment::of_access(t, &ctx));
            }
            _ => keep(opts, t, stats, out),
        }
    }
    stats.lines_not_api += not_api;
    if not_api > 0 && api == 0 && execution.is_empty() {
        warn_not_api_group(&data.log_group, not_api);
    }
    if execution.is_empty() {
        return;
    }
    let (records, counts) = match split {
        None => crate::execution::assemble(&execution, &data.log_events, &ctx, opts.max_body_bytes),
        Some(sp) => {
            let joined = sp.join.joins_group(&ctx);
            let (records, pending, counts) = crate::execution::assemble::assemble_split(
                &execution,
                &data.log_events,
                &ctx,
                opts.max_body_bytes,
                joined,
            );
            stats.fragments += counts.fragments;
            stats.trailers_dropped += counts.trailers;
            for p in pending {
                let mut f = crate::stitch::Fragment::of_lines(p, &ctx, joined);
                f.cap_lines(opts.max_body_bytes);
                sp.fragments.push(f);
            }
            (records, counts)
        }
    };
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

/// Log groups already warned about; bounded so a stream of odd names cannot grow it forever.
static WARNED_GROUPS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
const MAX_WARNED_GROUPS: usize = 256;

/// Warn once per log group (per process) whose lines are not API Gateway's: a subscription filter
/// on the wrong group costs invocations and delivers nothing.
fn warn_not_api_group(log_group: &str, lines: u64) {
    let Ok(mut warned) = WARNED_GROUPS.lock() else {
        return;
    };
    if warned.iter().any(|g| g == log_group) {
        return;
    }
    if warned.len() == MAX_WARNED_GROUPS {
        warned.remove(0);
    }
    warned.push(log_group.to_string());
    tracing::warn!(
        log_group,
        lines,
        "log group holds no API Gateway access-log lines; its lines are counted (lines_not_api) and skipped"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    // The AWS documentation's sample subscription event: two non-access lines.
    const AWS_SAMPLE: &str = r#"{"awslogs":{"data":"H4sIAAAAAAAAAHWPwQqCQBCGX0Xm7EFtK+smZBEUgXoLCdMhFtKV3akI8d0bLYmibvPPN3wz00CJxmQnTO41whwWQRIctmEcB6sQbFC3CjW3XW8kxpOpP+OC22d1Wml1qZkQGtoMsScxaczKN3plG8zlaHIta5KqWsozoTYw3/djzwhpLwivWFGHGpAFe7DL68JlBUk+l7KSN7tCOEJ4M3/qOI49vMHj+zCKdlFqLaU2ZHV2a4Ct/an0/ivdX8oYc1UVX860fQDQiMdxRQEAAA=="}}"#;

    #[test]
    fn aws_sample_counts_two_lines_that_are_not_api_traffic() {
        let mut s = DecodeStats::default();
        let recs = decode_bytes(AWS_SAMPLE.as_bytes(), &DecodeOptions::default(), &mut s).unwrap();
        assert!(recs.is_empty());
        assert_eq!(
            (s.payloads, s.log_events, s.lines_not_api, s.lines_unparsed),
            (1, 2, 2, 0)
        );
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
    /// Records the archive accepted (0 with the archive off).
    pub archived_records: u64,
    /// Records sent to the queue but not archived (a persistent archive failure).
    pub archive_failed_records: u64,
    /// Messages sent to the stitch queue (fragments; a large fragment takes several).
    pub fragment_messages: u64,
    /// Records that fit no message even cut to their skeleton (see [`crate::frame::pack_isolating`]):
    /// not sent, named in an error log line, counted here (EMF `RecordsUnfit`). The payload's
    /// other records are delivered all the same.
    pub records_unfit: u64,
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
    #[error(transparent)]
    Fragment(#[from] crate::stitch::FragmentError),
}

/// The stitch queue and the joined stages, when stitching is on.
#[derive(Clone, Copy)]
pub struct StitchTarget<'a> {
    pub queue: &'a dyn crate::queue::Queue,
    pub join: &'a crate::stitch::JoinRule,
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
    forward_archived(input, source_name, opts, message_bytes, queue, policy, None).await
}

/// [`forward`], then, once the queue accepted every frame, the same records to the archive. The
/// archive never fails the invocation (see [`crate::archive`]); it runs after the queue so the
/// archive holds only records that were delivered to the queue.
pub async fn forward_archived(
    input: &[u8],
    source_name: &str,
    opts: &DecodeOptions,
    message_bytes: usize,
    queue: &dyn crate::queue::Queue,
    policy: &crate::queue::SendPolicy,
    archive: Option<&crate::archive::Archiver>,
) -> Result<ForwardSummary, ForwardError> {
    forward_stitched(
        input,
        source_name,
        opts,
        message_bytes,
        queue,
        policy,
        archive,
        None,
    )
    .await
}

/// [`forward_archived`]; with `stitch`, requests not seen whole go to the stitch queue as
/// fragments (after the whole ones reached the main queue).
#[allow(clippy::too_many_arguments)]
pub async fn forward_stitched(
    input: &[u8],
    source_name: &str,
    opts: &DecodeOptions,
    message_bytes: usize,
    queue: &dyn crate::queue::Queue,
    policy: &crate::queue::SendPolicy,
    archive: Option<&crate::archive::Archiver>,
    stitch: Option<StitchTarget<'_>>,
) -> Result<ForwardSummary, ForwardError> {
    let mut summary = ForwardSummary::default();
    let mut fragments = Vec::new();
    let decoded = match stitch {
        Some(t) => {
            let mut split = Split {
                fragments: &mut fragments,
                join: t.join,
            };
            decode_split(input, opts, &mut summary.stats, &mut split)
        }
        None => decode_bytes(input, opts, &mut summary.stats),
    };
    let records = decoded.map_err(|cause| ForwardError::Payload {
        source_name: source_name.to_string(),
        cause,
    })?;
    if !records.is_empty() {
        let packed = crate::frame::pack_isolating(&records, message_bytes)?;
        for u in &packed.unfit {
            tracing::error!(
                source = source_name,
                record = %u.id,
                bytes = u.bytes,
                limit = message_bytes,
                "record too large for a message even cut; not sent (counted in records_unfit), the payload's other records are"
            );
        }
        summary.records_unfit = packed.unfit.len() as u64;
        let unfit: Vec<usize> = packed.unfit_indices().collect();
        let messages: Vec<_> = packed
            .frames
            .into_iter()
            .enumerate()
            .map(|(i, f)| f.into_message(i.to_string()))
            .collect();
        if !messages.is_empty() {
            let report = crate::queue::send_all(queue, messages, policy).await?;
            summary.messages_sent = report.messages as u64;
            summary.message_bytes = report.bytes as u64;
            summary.send_calls = report.calls as u64;
            summary.send_retried = report.retried as u64;
        }
        if let Some(archiver) = archive {
            // The archive holds what reached the queue.
            let sent: Vec<Transaction>;
            let archived: &[Transaction] = if unfit.is_empty() {
                &records
            } else {
                sent = records
                    .into_iter()
                    .enumerate()
                    .filter(|(i, _)| !unfit.contains(i))
                    .map(|(_, r)| r)
                    .collect();
                &sent
            };
            let a = archiver.archive(archived).await;
            summary.archived_records = a.records;
            summary.archive_failed_records = a.failed_records;
        }
    }
    if let (Some(t), false) = (stitch, fragments.is_empty()) {
        let messages = crate::stitch::fragment::to_messages(fragments, message_bytes)?;
        let report = crate::queue::send_all(t.queue, messages, policy).await?;
        summary.fragment_messages = report.messages as u64;
        summary.send_calls += report.calls as u64;
        summary.send_retried += report.retried as u64;
    }
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
            ("LinesNotApi", s.stats.lines_not_api as f64, Unit::Count),
            ("Filtered", s.stats.filtered as f64, Unit::Count),
            (
                "ForeignPayloads",
                s.stats.foreign_payloads as f64,
                Unit::Count,
            ),
            ("Fragments", s.stats.fragments as f64, Unit::Count),
            ("FragmentMessages", s.fragment_messages as f64, Unit::Count),
            ("RecordsUnfit", s.records_unfit as f64, Unit::Count),
            ("MessagesSent", s.messages_sent as f64, Unit::Count),
            ("MessageBytes", s.message_bytes as f64, Unit::Bytes),
            ("ArchivedRecords", s.archived_records as f64, Unit::Count),
            (
                "ArchiveFailedRecords",
                s.archive_failed_records as f64,
                Unit::Count,
            ),
        ],
    )
}
