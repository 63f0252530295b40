//! A fragment: part of one request, on its way through the stitch queue.
//!
//! The message body is the fragment as JSON, gzip-compressed, base64 (like a frame). The message
//! group is the request id, so all parts of a request are served to one consumer at a time; the
//! deduplication id is a SHA-256 of the body, so a payload decoded twice (Lambda's retry) does
//! not queue the same fragment twice within SQS's 5-minute window, and the consumer drops
//! repeats that arrive later by the same hash.

use std::io::{Read, Write};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::decode::execution::assemble::Pending;
use crate::decode::normalize::Context;
use crate::transaction::{ExecutionLine, Transaction};
use crate::transport::queue::{Attribute, FifoMessage, OutMessage};

/// Value of the `encoding` attribute of a fragment message.
pub const ENCODING: &str = "fragment+json+gzip+base64";
/// Cap on one fragment message's decompressed JSON (a message is at most 1 MiB compressed).
const MAX_UNPACKED_BYTES: usize = 16 * 1024 * 1024;
/// A line longer than the body cap plus this is cut before it travels (the assembler would cut
/// its body to the cap anyway); the room covers the line's label and the request id prefix.
const LINE_ROOM: usize = 1024;
const TRUNCATED: &str = " [TRUNCATED]";

/// Part of one request: execution-log lines, or (joined mode) the access-log record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fragment {
    pub request_id: String,
    /// Where the lines were read (the assembler's context).
    pub log_group: String,
    pub log_stream: String,
    pub owner: String,
    #[serde(default)]
    pub subscription_filters: Vec<String>,
    #[serde(default)]
    pub region: Option<String>,
    /// Execution-log lines in the order read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<ExecutionLine>,
    /// Joined mode: the access-log record of the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<Box<Transaction>>,
    /// Joined mode: the request waits for both sources (its access record and its execution
    /// lines), not only for its execution lines to be whole.
    #[serde(default)]
    pub joined: bool,
    /// The API context the 1 MB delivery named beside the lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<crate::decode::execution::delivery::DeliveredApi>,
}

#[derive(Debug, thiserror::Error)]
pub enum FragmentError {
    #[error("fragment message is not base64: {0}")]
    Base64(String),
    #[error("fragment message is not gzip: {0}")]
    Gzip(String),
    #[error("fragment message decompresses to more than {MAX_UNPACKED_BYTES} bytes")]
    TooLarge,
    #[error("fragment message is not a fragment: {0}")]
    Json(String),
    #[error("fragment of request {request_id} does not fit in a {limit}-byte message")]
    DoesNotFit { request_id: String, limit: usize },
}

impl Fragment {
    fn at(request_id: String, ctx: &Context<'_>) -> Fragment {
        Fragment {
            request_id,
            log_group: ctx.log_group.to_string(),
            log_stream: ctx.log_stream.to_string(),
            owner: ctx.owner.to_string(),
            subscription_filters: ctx.subscription_filters.to_vec(),
            region: ctx.region.map(str::to_string),
            lines: Vec::new(),
            access: None,
            joined: false,
            api: None,
        }
    }

    /// The execution lines of a request the payload did not hold whole.
    pub fn of_lines(p: Pending, ctx: &Context<'_>, joined: bool) -> Fragment {
        Fragment {
            lines: p.lines,
            joined,
            api: p.api,
            ..Fragment::at(p.request_id, ctx)
        }
    }

    /// Joined mode: the access-log record of a request, waiting for its execution lines.
    pub fn of_access(t: Transaction, ctx: &Context<'_>) -> Fragment {
        Fragment {
            joined: true,
            ..Fragment::at(t.id.clone(), ctx)
        }
        .with_access(t)
    }

    fn with_access(mut self, t: Transaction) -> Fragment {
        self.access = Some(Box::new(t));
        self
    }

    /// Time of its first line (or of the access record), epoch ms.
    pub fn first_ms(&self) -> Option<i64> {
        self.lines
            .first()
            .map(|l| l.timestamp)
            .or(self.access.as_ref().map(|a| a.time_ms))
    }

    /// Cut lines longer than `max_body_bytes` (plus room for the label) and mark them as API
    /// Gateway marks its own cut lines, so the assembler flags the body truncated.
    pub fn cap_lines(&mut self, max_body_bytes: usize) {
        let cap = max_body_bytes.saturating_add(LINE_ROOM);
        for l in &mut self.lines {
            if l.message.len() > cap {
                crate::transport::truncate::truncate_utf8(&mut l.message, cap);
                l.message.push_str(TRUNCATED);
            }
        }
    }

    /// The queue messages carrying this fragment: one, or several when it is too large for one
    /// message of `message_bytes` (the lines are split between them; each part is a fragment).
    pub fn into_messages(self, message_bytes: usize) -> Result<Vec<FifoMessage>, FragmentError> {
        let mut out = Vec::new();
        let mut todo = vec![self];
        while let Some(f) = todo.pop() {
            let body = f.encode();
            if body.len() + attributes_size() <= message_bytes {
                out.push(message(&f.request_id, body));
                continue;
            }
            if f.lines.len() < 2 {
                // One line too large even compressed: cut it in half (marked cut) and try again.
                let mut f = f;
                match f.lines.first_mut() {
                    Some(l) if l.message.len() > 2 * LINE_ROOM => {
                        let keep = l.message.len() / 2;
                        crate::transport::truncate::truncate_utf8(&mut l.message, keep);
                        l.message.push_str(TRUNCATED);
                        todo.push(f);
                        continue;
                    }
                    _ => {
                        return Err(FragmentError::DoesNotFit {
                            request_id: f.request_id,
                            limit: message_bytes,
                        })
                    }
                }
            }
            let mut second = f.clone();
            let mut first = f;
            second.lines = first.lines.split_off(first.lines.len() / 2);
            // The access record rides with the first part only.
            second.access = None;
            todo.push(second);
            todo.push(first);
        }
        Ok(out)
    }

    fn encode(&self) -> String {
        // Serializing plain data to a Vec cannot fail.
        let json = serde_json::to_vec(self).unwrap_or_default();
        let mut gz = GzEncoder::new(Vec::with_capacity(json.len() / 3 + 64), Compression::fast());
        let _ = gz.write_all(&json);
        STANDARD.encode(gz.finish().unwrap_or_default())
    }

    /// Read a fragment message body.
    pub fn decode(body: &str) -> Result<Fragment, FragmentError> {
        let gz = STANDARD
            .decode(body.trim())
            .map_err(|e| FragmentError::Base64(e.to_string()))?;
        let mut json = Vec::new();
        GzDecoder::new(&gz[..])
            .take(MAX_UNPACKED_BYTES as u64 + 1)
            .read_to_end(&mut json)
            .map_err(|e| FragmentError::Gzip(e.to_string()))?;
        if json.len() > MAX_UNPACKED_BYTES {
            return Err(FragmentError::TooLarge);
        }
        serde_json::from_slice(&json).map_err(|e| FragmentError::Json(e.to_string()))
    }
}

/// The messages of many fragments, numbered for batch sends.
pub fn to_messages(
    fragments: Vec<Fragment>,
    message_bytes: usize,
) -> Result<Vec<FifoMessage>, FragmentError> {
    let mut out = Vec::with_capacity(fragments.len());
    for f in fragments {
        out.extend(f.into_messages(message_bytes)?);
    }
    for (i, m) in out.iter_mut().enumerate() {
        m.message.id = i.to_string();
    }
    Ok(out)
}

fn attributes() -> std::collections::BTreeMap<String, Attribute> {
    std::collections::BTreeMap::from([(
        "encoding".to_string(),
        Attribute::String(ENCODING.to_string()),
    )])
}

fn attributes_size() -> usize {
    attributes()
        .iter()
        .map(|(k, v)| k.len() + v.data_type().len() + v.value().len())
        .sum()
}

/// SHA-256 of `text`, hex (64 characters: a valid deduplication or group id).
pub fn content_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest.iter() {
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    out
}

/// The message group of a request: its id when SQS accepts it as one (≤ 128 characters,
/// alphanumerics and punctuation), else a hash of it.
pub fn group_id(request_id: &str) -> String {
    let valid = !request_id.is_empty()
        && request_id.len() <= 128
        && request_id.bytes().all(|b| b.is_ascii_graphic());
    if valid {
        request_id.to_string()
    } else {
        content_hash(request_id)
    }
}

fn message(request_id: &str, body: String) -> FifoMessage {
    let deduplication_id = content_hash(&body);
    FifoMessage {
        message: OutMessage {
            // Renumbered by `to_messages` for batch sends.
            id: deduplication_id[..32].to_string(),
            body,
            attributes: attributes(),
        },
        group_id: group_id(request_id),
        deduplication_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fragment(lines: usize, len: usize) -> Fragment {
        Fragment {
            request_id: "abc-1".into(),
            log_group: "API-Gateway-Execution-Logs_a1/prod".into(),
            log_stream: "s".into(),
            owner: "123456789012".into(),
            subscription_filters: vec![],
            region: None,
            api: None,
            lines: (0..lines)
                .map(|i| ExecutionLine {
                    event_id: format!("{i:056}"),
                    timestamp: 1_000 + i as i64,
                    // Hardly compressible text (an LCG), so sizes are predictable.
                    message: {
                        let mut x = i as u64 + 1;
                        (0..len)
                            .map(|_| {
                                x = x
                                    .wrapping_mul(6_364_136_223_846_793_005)
                                    .wrapping_add(1_442_695_040_888_963_407);
                                char::from(b'a' + ((x >> 33) % 26) as u8)
                            })
                            .collect()
                    },
                })
                .collect(),
            access: None,
            joined: false,
        }
    }

    #[test]
    fn round_trip_and_dedup_id_is_the_content() {
        let f = fragment(3, 50);
        let msgs = f.clone().into_messages(262_144).unwrap();
        assert_eq!(msgs.len(), 1);
        assert_eq!(msgs[0].group_id, "abc-1");
        assert_eq!(Fragment::decode(&msgs[0].message.body).unwrap(), f);
        let again = f.into_messages(262_144).unwrap();
        assert_eq!(again[0].deduplication_id, msgs[0].deduplication_id);
    }

    #[test]
    fn a_large_fragment_is_split_into_parts_that_fit() {
        let f = fragment(40, 3000);
        let msgs = f.clone().into_messages(16_384).unwrap();
        assert!(msgs.len() > 1);
        let mut lines = Vec::new();
        for m in &msgs {
            assert!(m.message.sqs_size() <= 16_384);
            lines.extend(Fragment::decode(&m.message.body).unwrap().lines);
        }
        lines.sort_by(|a, b| a.event_id.cmp(&b.event_id));
        assert_eq!(lines, f.lines);
        // One line too large even compressed: cut (and marked) until it fits.
        let one = fragment(1, 40_000).into_messages(16_384).unwrap();
        assert_eq!(one.len(), 1);
        let cut = Fragment::decode(&one[0].message.body).unwrap();
        assert!(cut.lines[0].message.ends_with(TRUNCATED));
        assert!(one[0].message.sqs_size() <= 16_384);
    }

    #[test]
    fn long_lines_are_cut_and_marked() {
        let mut f = fragment(1, 5000);
        f.cap_lines(1024);
        assert_eq!(f.lines[0].message.len(), 2048 + TRUNCATED.len());
        assert!(f.lines[0].message.ends_with(" [TRUNCATED]"));
    }

    #[test]
    fn bad_bodies_name_their_cause() {
        assert!(matches!(
            Fragment::decode("%%%"),
            Err(FragmentError::Base64(_))
        ));
        assert!(matches!(
            Fragment::decode("aGVsbG8="),
            Err(FragmentError::Gzip(_))
        ));
        assert_eq!(group_id("ok-1"), "ok-1");
        assert_eq!(group_id(&"x".repeat(200)).len(), 64);
        assert_eq!(group_id("a b").len(), 64);
    }
}
