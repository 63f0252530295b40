//! The decode stage: payload → LogData → lines → canonical records, filtered and redacted, with
//! counts of everything read, so nothing disappears unaccounted.
//!
//! [`DecodeStage`] is the one implementation of the decode Lambda's work (payload → frames on the
//! main queue, fragments on the stitch queue, records to the archive); `apigw-stream local` runs
//! the same stage. The functions below it turn bytes into records.

pub mod execution;
pub mod filter;
pub mod formats;
pub mod fragment;
pub mod logs;
pub mod normalize;
pub mod split;
pub mod stage;
pub mod stats;

pub use fragment::{Fragment, FragmentError};
pub use split::{JoinRule, Split};
pub use stage::{
    DecodeOutputs, DecodeStage, Decoded, ForwardError, FragmentSendError, FragmentSink,
    QueueFragments,
};
pub use stats::{summary_emf, DecodeStats};

use crate::decode::execution::Item;
use crate::decode::filter::{Drop, FilterConfig};
use crate::decode::formats::{parse_line, LineError, ParsedLine};
use crate::decode::logs::{
    decode_payload, LogData, LogEvent, PayloadError, DEFAULT_MAX_PAYLOAD_BYTES,
};
use crate::decode::normalize::{to_transaction, Context};
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
            max_body_bytes: crate::decode::execution::DEFAULT_MAX_BODY_BYTES,
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
    if !admit(data, opts, stats) {
        return;
    }
    let ctx = Context::of(data, opts.region.as_deref());
    let execution_group = crate::decode::execution::is_execution_group(&data.log_group);
    let mut execution = Vec::new();
    out.reserve(data.log_events.len());
    let mut tally = AccessTally::default();
    let repaired = repair_json_messages(data);
    for (i, event) in data.log_events.iter().enumerate() {
        stats.log_events += 1;
        let fixed = repaired_at(&repaired, i);
        let message = fixed.unwrap_or(&event.message);
        if fixed.is_some() {
            stats.lines_lossy += 1;
        }
        // A JSON line that parses as access-log fields and names no line text is no delivered
        // execution event: it skips that check (a second parse), the usual case.
        let pre = (message.as_bytes().first() == Some(&b'{')).then(|| parse_line(message));
        let plain_access = matches!(&pre, Some(Ok(p)) if !p.partial && !p.fields.names_text);
        if !plain_access {
            if let Some(item) = crate::decode::execution::recognize(message, i, execution_group) {
                execution.push(item);
                continue;
            }
        }
        let parsed = pre.unwrap_or_else(|| parse_line(message));
        let Some(mut t) = access_record(
            parsed,
            message,
            event,
            &data.log_group,
            &ctx,
            stats,
            &mut tally,
        ) else {
            continue;
        };
        if fixed.is_some() {
            t.flags.partial = true;
        }
        route(t, &ctx, opts, stats, out, split.as_deref_mut());
    }
    stats.lines_not_api += tally.not_api;
    if tally.not_api > 0 && tally.api == 0 && execution.is_empty() {
        warn_not_api_group(&data.log_group, tally.not_api);
    }
    if execution.is_empty() {
        return;
    }
    let records = assemble_execution(&execution, data, &ctx, opts, stats, split);
    for t in records {
        keep(opts, t, stats, out);
    }
}

/// Count the payload; false when it has nothing to decode (a control message, or a log group
/// not allowed).
fn admit(data: &LogData, opts: &DecodeOptions, stats: &mut DecodeStats) -> bool {
    stats.payloads += 1;
    if data.is_control() {
        stats.control_messages += 1;
        return false;
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
        return false;
    }
    true
}

/// JSON messages with escapes of lone surrogates, which a JSON parser refuses: repaired
/// (U+FFFD) so the event is kept, lossily, and its record flagged.
/// (index, repaired text), in index order; empty, so free, for ordinary payloads.
fn repair_json_messages(data: &LogData) -> Vec<(usize, String)> {
    data.log_events
        .iter()
        .enumerate()
        .filter(|(_, e)| e.message.trim_start().starts_with('{'))
        .filter_map(|(i, e)| {
            crate::decode::logs::repair_lone_surrogates(&e.message).map(|r| (i, r))
        })
        .collect()
}

fn repaired_at(repaired: &[(usize, String)], i: usize) -> Option<&str> {
    repaired
        .binary_search_by_key(&i, |(j, _)| *j)
        .ok()
        .map(|k| repaired[k].1.as_str())
}

/// Access-log lines of one payload: those that are not API Gateway's, and those that are.
#[derive(Default)]
struct AccessTally {
    not_api: u64,
    api: u64,
}

/// One access-log line → a record; `None` (counted, logged at debug) when it does not parse.
fn access_record(
    parsed: Result<ParsedLine<'_>, LineError>,
    message: &str,
    event: &LogEvent,
    log_group: &str,
    ctx: &Context,
    stats: &mut DecodeStats,
    tally: &mut AccessTally,
) -> Option<Transaction> {
    let parsed = match parsed {
        Ok(p) => p,
        Err(e) => {
            if e.is_not_api() {
                tally.not_api += 1;
            } else {
                stats.lines_unparsed += 1;
            }
            let head: String = message.chars().take(120).collect();
            tracing::debug!(log_group = %log_group, event_id = %event.id, error = %e, line_head = %head, "line skipped");
            return None;
        }
    };
    tally.api += 1;
    if parsed.partial {
        stats.lines_recovered += 1;
    }
    Some(to_transaction(parsed, event, ctx))
}

/// A record joined with execution lines waits as a fragment (filters apply to the merge); any
/// other is filtered now.
fn route(
    t: Transaction,
    ctx: &Context,
    opts: &DecodeOptions,
    stats: &mut DecodeStats,
    out: &mut Vec<Transaction>,
    split: Option<&mut Split<'_>>,
) {
    match split {
        Some(sp) if sp.join.joins_record(&t) => {
            stats.fragments += 1;
            sp.fragments
                .push(crate::decode::Fragment::of_access(t, ctx));
        }
        _ => keep(opts, t, stats, out),
    }
}

/// The payload's execution lines → whole records; with `split`, the requests not seen whole (or
/// all, for a joined group) go to `split` as fragments.
fn assemble_execution(
    execution: &[Item<'_>],
    data: &LogData,
    ctx: &Context,
    opts: &DecodeOptions,
    stats: &mut DecodeStats,
    split: Option<&mut Split<'_>>,
) -> Vec<Transaction> {
    let (records, counts) = match split {
        None => crate::decode::execution::assemble(
            execution,
            &data.log_events,
            ctx,
            opts.max_body_bytes,
        ),
        Some(sp) => {
            let joined = sp.join.joins_group(ctx);
            let (records, pending, counts) = crate::decode::execution::assemble::assemble_split(
                execution,
                &data.log_events,
                ctx,
                opts.max_body_bytes,
                joined,
            );
            stats.fragments += counts.fragments;
            stats.trailers_dropped += counts.trailers;
            for p in pending {
                let mut f = crate::decode::Fragment::of_lines(p, ctx, joined);
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
    records
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
