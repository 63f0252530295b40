//! REST API execution logs (data tracing on) → full transactions: method, path, query, headers and
//! bodies of both directions, status, latencies, errors.
//!
//! - [`line`]: one line → a typed [`line::Event`] (one variant per line kind, unknown kinds `Other`);
//! - [`map`]: the `{Key=value, …}` maps, split only where a new name begins;
//! - [`assemble`]: lines grouped by request id within a payload → one record per request;
//! - [`delivery`]: the JSON events of the 1 MB CloudWatch Logs delivery (the record fields we
//!   create it with, and a lenient table for other shapes).
//!
//! The decode stage ([`crate::decode`]) sends every line that [`recognize`] accepts here and the
//! others to the access-log parsers, so a payload may hold both.

pub mod assemble;
pub mod delivery;
pub mod line;
pub mod map;

use std::borrow::Cow;

pub use assemble::{assemble, Counts, Item};

/// Default `MAX_BODY_BYTES`: each body is cut to this many bytes and flagged truncated.
///
/// Two bodies of 256 KiB, base64-encoded by the Bridge format (×4/3), make about 700 kB: with
/// headers one record still fits a 1,000,000-byte window, and its gzip+base64 frame fits a
/// 1 MiB SQS message even for incompressible bodies.
pub const DEFAULT_MAX_BODY_BYTES: usize = 256 * 1024;
/// Bounds of `MAX_BODY_BYTES`: at least one standard 1 KB line, at most one 1 MB event.
pub const MIN_MAX_BODY_BYTES: usize = 1024;
pub const MAX_MAX_BODY_BYTES: usize = 1_048_576;

/// A log group of execution logs: `API-Gateway-Execution-Logs_{id}/{stage}` (standard logging),
/// or any group whose name says `execution` (the 1 MB delivery's group, named by its owner;
/// `enable --large-bodies` names it `/aws/vendedlogs/apigw-stream/execution/{id}/{stage}`).
pub fn is_execution_group(log_group: &str) -> bool {
    log_group.starts_with("API-Gateway-Execution-Logs_")
        || memchr::memmem::find(log_group.to_ascii_lowercase().as_bytes(), b"execution").is_some()
}

/// Is this log event an execution-log line? `execution_group`: the payload comes from an
/// execution log group, where lines without the `(id)` prefix (the 2016 format) are accepted too.
pub fn recognize(message: &str, event: usize, execution_group: bool) -> Option<Item<'_>> {
    match message.as_bytes().first() {
        Some(b'(') => line::split_request_id(message)
            .0
            .map(|_| plain(message, event)),
        Some(b'{') => delivery::parse(message, execution_group).map(|d| {
            let ours = !d.api.is_empty();
            Item {
                event,
                text: Cow::Owned(d.text),
                request_id: d.request_id,
                time_ms: d.time_ms,
                api: ours.then(|| Box::new(d.api)),
                carries: ours,
            }
        }),
        _ if execution_group && line::parse(message).event.is_known() => {
            Some(plain(message, event))
        }
        _ => None,
    }
}

/// A line as API Gateway writes it: the request id and time are read from the text later.
fn plain(message: &str, event: usize) -> Item<'_> {
    Item {
        event,
        text: Cow::Borrowed(message),
        request_id: None,
        time_ms: None,
        api: None,
        carries: true,
    }
}
