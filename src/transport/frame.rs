//! Packing records into SQS message bodies: NDJSON, gzip, base64, each body plus its attributes
//! within `MESSAGE_BYTES`. A record never spans two messages.
//!
//! Compressed size is only known after compressing, so packing guesses a raw budget from the
//! compression ratio seen so far, compresses, and halves the chunk if it came out too big.

use std::collections::BTreeMap;
use std::io::Write;
use std::ops::Range;

use flate2::write::GzEncoder;
use flate2::Compression;

use crate::transaction::{Transaction, SCHEMA};
use crate::transport::queue::{Attribute, OutMessage};

/// Value of the `encoding` message attribute.
pub const ENCODING: &str = "ndjson+gzip+base64";
/// Default `MESSAGE_BYTES` (SQS's historical limit; the stacks raise it to 1 MiB).
pub const DEFAULT_MESSAGE_BYTES: usize = 262_144;
/// Smallest bound that still fits one ordinary record with its attributes.
pub const MIN_MESSAGE_BYTES: usize = 4096;
/// Cap on one frame's decompressed size when unpacking (a frame is at most 1 MiB compressed).
pub const MAX_UNPACKED_BYTES: usize = 64 * 1024 * 1024;

/// One SQS message body holding whole records.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub body: String,
    pub records: usize,
    /// Size of the NDJSON before compression.
    pub ndjson_bytes: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("MESSAGE_BYTES {0} is out of range ({MIN_MESSAGE_BYTES}..=1048576)")]
    BadLimit(usize),
    #[error(
        "record {id} does not fit in a {limit}-byte message even with its bodies and headers cut"
    )]
    RecordTooLarge { id: String, limit: usize },
    #[error("frame body is not base64: {0}")]
    Base64(String),
    #[error("frame body is not gzip: {0}")]
    Gzip(String),
    #[error("frame decompresses to more than {MAX_UNPACKED_BYTES} bytes")]
    TooLarge,
    #[error("frame line {line} is not a canonical record: {cause}")]
    Record { line: usize, cause: String },
}

impl Frame {
    /// The message attributes every frame carries.
    pub fn attributes(records: usize) -> BTreeMap<String, Attribute> {
        BTreeMap::from([
            (
                "encoding".to_string(),
                Attribute::String(ENCODING.to_string()),
            ),
            ("schema".to_string(), Attribute::String(SCHEMA.to_string())),
            (
                "records".to_string(),
                Attribute::Number(records.to_string()),
            ),
        ])
    }

    pub fn to_message(&self, id: impl Into<String>) -> OutMessage {
        OutMessage {
            id: id.into(),
            body: self.body.clone(),
            attributes: Self::attributes(self.records),
        }
    }

    pub fn into_message(self, id: impl Into<String>) -> OutMessage {
        let attributes = Self::attributes(self.records);
        OutMessage {
            id: id.into(),
            body: self.body,
            attributes,
        }
    }
}

/// Bytes the attributes take, as SQS counts them (names, types, values), for `records` digits.
fn attributes_size(records: usize) -> usize {
    Frame::attributes(records)
        .iter()
        .map(|(k, v)| k.len() + v.data_type().len() + v.value().len())
        .sum()
}

/// gzip + base64 of NDJSON text (each line newline-terminated); returns the body and the raw size.
fn encode_chunk(ndjson: &[u8]) -> (String, usize) {
    let mut gz = GzEncoder::new(
        Vec::with_capacity(ndjson.len() / 4 + 64),
        Compression::fast(),
    );
    // Writing to a Vec cannot fail.
    let _ = gz.write_all(ndjson);
    let compressed = gz.finish().unwrap_or_default();
    (crate::b64::encode(&compressed), ndjson.len())
}

/// All records serialized once into one NDJSON buffer; `starts[i]..starts[i + 1]` is line `i`
/// with its newline. One buffer instead of one allocation per record.
struct Ndjson {
    text: Vec<u8>,
    starts: Vec<usize>,
}

impl Ndjson {
    fn new(records: &[Transaction]) -> Self {
        let mut text = crate::scratch::take();
        text.reserve(records.len() * 1024);
        let mut starts = Vec::with_capacity(records.len() + 1);
        for r in records {
            starts.push(text.len());
            write_line(&mut text, r);
        }
        starts.push(text.len());
        Ndjson { text, starts }
    }

    fn lines(&self) -> usize {
        self.starts.len() - 1
    }

    fn line_len(&self, i: usize) -> usize {
        self.starts[i + 1] - self.starts[i]
    }

    /// Lines `start..end`, newlines included.
    fn chunk(&self, start: usize, end: usize) -> &[u8] {
        &self.text[self.starts[start]..self.starts[end]]
    }
}

impl Drop for Ndjson {
    fn drop(&mut self) {
        crate::scratch::give(std::mem::take(&mut self.text));
    }
}

/// Pack records, in order, into frames of at most `message_bytes` (body + attributes). A record
/// too large even cut ([`crate::transport::truncate`]) fails the whole call with
/// [`FrameError::RecordTooLarge`]; [`pack_isolating`] keeps it aside and packs the others.
pub fn pack(records: &[Transaction], message_bytes: usize) -> Result<Vec<Frame>, FrameError> {
    let packed = pack_isolating(records, message_bytes)?;
    match packed.unfit.first() {
        Some(u) => Err(FrameError::RecordTooLarge {
            id: u.id.clone(),
            limit: message_bytes,
        }),
        None => Ok(packed.frames),
    }
}

/// What [`pack_isolating`] made of a list of records.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Packed {
    pub frames: Vec<Frame>,
    /// `members[i]`: the indices (into the input) of the records `frames[i]` holds, in order.
    pub members: Vec<Range<usize>>,
    /// Records that fit no message even cut to their skeleton, in input order: in no frame.
    pub unfit: Vec<Unfit>,
}

/// A record [`pack_isolating`] could not frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unfit {
    /// Its index in the input.
    pub index: usize,
    pub id: String,
    /// The smallest message body it came to (fully cut), in bytes.
    pub bytes: usize,
}

impl Packed {
    /// Of the input `records`, those in a frame, in frame order (the unfit ones left out).
    pub fn fitting(&self, records: Vec<Transaction>) -> Vec<Transaction> {
        if self.unfit.is_empty() {
            return records;
        }
        let unfit: std::collections::HashSet<usize> = self.unfit.iter().map(|u| u.index).collect();
        records
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !unfit.contains(i))
            .map(|(_, r)| r)
            .collect()
    }
}

/// Pack records, in order, into frames of at most `message_bytes` (body + attributes). A record
/// too large for a message alone is cut by the one rule of [`crate::transport::truncate`] and flagged; one
/// that does not fit even then is kept aside in [`Packed::unfit`], and the records around it are
/// framed all the same: one oversize record never costs its neighbours their delivery. The only
/// error is a `message_bytes` out of range.
pub fn pack_isolating(records: &[Transaction], message_bytes: usize) -> Result<Packed, FrameError> {
    if !(MIN_MESSAGE_BYTES..=crate::transport::queue::MAX_MESSAGE_BYTES).contains(&message_bytes) {
        return Err(FrameError::BadLimit(message_bytes));
    }
    let lines = Ndjson::new(records);
    let count = lines.lines();
    let mut packed = Packed::default();
    // Raw bytes per output byte; access-log NDJSON at gzip level 1 is ~6x, minus base64's 4/3.
    let mut ratio = 3.0f64;
    let mut start = 0;
    while start < count {
        let budget = message_bytes - attributes_size(count - start);
        let target = (budget as f64 * ratio * 0.9) as usize;
        let mut end = start;
        let mut raw = 0;
        while end < count && (end == start || raw + lines.line_len(end) < target) {
            raw += lines.line_len(end);
            end += 1;
        }
        loop {
            let (body, raw) = encode_chunk(lines.chunk(start, end));
            if body.len() + attributes_size(end - start) <= message_bytes {
                ratio = (raw as f64 / body.len().max(1) as f64).clamp(0.5, 50.0);
                packed.frames.push(Frame {
                    body,
                    records: end - start,
                    ndjson_bytes: raw,
                });
                packed.members.push(start..end);
                start = end;
                break;
            }
            if end - start == 1 {
                // A lone record too big for a message: cut it (crate::transport::truncate), flag it.
                let fitted = crate::transport::truncate::fit(
                    &records[start],
                    |t| {
                        let mut line = Vec::new();
                        write_line(&mut line, t);
                        encode_chunk(&line)
                    },
                    |(body, _)| body.len() + attributes_size(1) <= message_bytes,
                );
                let (body, raw) = fitted.encoded;
                if fitted.oversize {
                    tracing::error!(
                        record = %records[start].id,
                        bytes = body.len(),
                        limit = message_bytes,
                        "record does not fit a message even cut to its skeleton; kept aside"
                    );
                    packed.unfit.push(Unfit {
                        index: start,
                        id: records[start].id.clone(),
                        bytes: body.len(),
                    });
                } else {
                    packed.frames.push(Frame {
                        body,
                        records: 1,
                        ndjson_bytes: raw,
                    });
                    packed.members.push(start..end);
                }
                start = end;
                break;
            }
            end = start + (end - start) / 2;
        }
    }
    Ok(packed)
}

/// One record as an NDJSON line appended to `out`.
fn write_line(out: &mut Vec<u8>, r: &Transaction) {
    r.write_json(out);
    out.push(b'\n');
}

/// Unpack a frame body back into its records. Plain NDJSON (not compressed) is accepted too,
/// which helps when a person sends a test message by hand.
pub fn unpack(body: &str) -> Result<Vec<Transaction>, FrameError> {
    let ndjson = ndjson_of(body)?;
    let mut records = Vec::new();
    for (n, line) in lines(&ndjson) {
        records.push(record_of(n, line)?);
    }
    Ok(records)
}

/// One NDJSON line (numbered from 1 in errors) as an owned record.
pub fn record_of(n: usize, line: &[u8]) -> Result<Transaction, FrameError> {
    serde_json::from_slice(line).map_err(|e| FrameError::Record {
        line: n,
        cause: e.to_string(),
    })
}

/// The NDJSON text of a frame body: decoded, or the body itself when it is plain NDJSON.
pub fn ndjson_of(body: &str) -> Result<std::borrow::Cow<'_, [u8]>, FrameError> {
    let trimmed = body.trim();
    if trimmed.starts_with('{') {
        return Ok(std::borrow::Cow::Borrowed(trimmed.as_bytes()));
    }
    let gz =
        crate::b64::decode(trimmed.as_bytes()).map_err(|e| FrameError::Base64(e.to_string()))?;
    // A shipper unpacks a frame after another on one thread: the text's room is reused (the
    // caller may hand it back with `scratch::give`).
    let mut out = crate::scratch::take();
    match crate::gzip::gunzip_into(&gz, MAX_UNPACKED_BYTES, &mut out) {
        Ok(()) => Ok(std::borrow::Cow::Owned(out)),
        Err(e) => {
            crate::scratch::give(out);
            Err(match e {
                crate::gzip::GunzipError::TooLarge { .. } => FrameError::TooLarge,
                e => FrameError::Gzip(e.to_string()),
            })
        }
    }
}

/// The non-blank lines of NDJSON text, each with its line number (from 1), newline excluded.
pub fn lines(ndjson: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    crate::json::lines(ndjson)
        .enumerate()
        .filter(|(_, line)| !line.iter().all(|b| b.is_ascii_whitespace()))
        .map(|(i, line)| (i + 1, line))
}

/// The record id of a line exactly as the decoder writes it (`{"schema":"apigw-stream/v1","id":"…",`),
/// read without parsing the line; `None` for any other shape (an id with escapes included).
pub fn canonical_id(line: &[u8]) -> Option<&str> {
    const HEAD: &[u8] = b"{\"schema\":\"apigw-stream/v1\",\"id\":\"";
    let rest = line.strip_prefix(HEAD)?;
    let end = memchr::memchr2(b'"', b'\\', rest)?;
    if rest[end] != b'"' || !rest[end + 1..].starts_with(b",") || line.last() != Some(&b'}') {
        return None;
    }
    std::str::from_utf8(&rest[..end]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::{Body, BodyEncoding, Source};
    use proptest::prelude::*;

    fn rec(i: usize, ua_len: usize) -> Transaction {
        let mut t = Transaction::new(
            format!("req-{i}"),
            1_700_000_000_000 + i as i64,
            Source::default(),
        );
        t.request.path = Some(format!("/pets/{i}"));
        t.request
            .headers
            .insert("user-agent".into(), vec!["x".repeat(ua_len)]);
        t
    }

    #[test]
    fn round_trip_and_attributes() {
        let recs: Vec<_> = (0..500).map(|i| rec(i, 40)).collect();
        let frames = pack(&recs, DEFAULT_MESSAGE_BYTES).unwrap();
        let msg = frames[0].to_message("0");
        assert_eq!(
            msg.attributes["encoding"],
            Attribute::String(ENCODING.into())
        );
        assert_eq!(
            msg.attributes["records"],
            Attribute::Number(frames[0].records.to_string())
        );
        let back: Vec<_> = frames
            .iter()
            .flat_map(|f| unpack(&f.body).unwrap())
            .collect();
        assert_eq!(back, recs);
    }

    #[test]
    fn oversized_record_is_cut_not_dropped() {
        let mut big = rec(1, 3_000_000);
        big.request.body = Some(Body {
            data: "b".repeat(2_000_000),
            encoding: BodyEncoding::Utf8,
            truncated: false,
        });
        // Random-ish data defeats compression so the cut is required.
        let noise: String = (0..600_000u64)
            .map(|i| char::from(b'a' + ((i * 7919 + i / 3) % 26) as u8))
            .collect();
        big.request.headers.insert("x-noise".into(), vec![noise]);
        let frames = pack(&[big], MIN_MESSAGE_BYTES * 4).unwrap();
        let back = unpack(&frames[0].body).unwrap();
        assert_eq!(back.len(), 1);
        assert!(back[0].flags.partial && back[0].flags.body_truncated);
        assert!(back[0].request.body.as_ref().unwrap().truncated);
    }

    #[test]
    fn a_record_that_fits_nowhere_is_isolated_and_its_neighbours_framed() {
        // An id no message can hold (ids are never cut): only this record is kept aside.
        let mut x = 88_172_645_463_325_252u64;
        let noise: String = (0..40_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                char::from(b'a' + (x % 26) as u8)
            })
            .collect();
        let mut recs: Vec<_> = (0..11).map(|i| rec(i, 40)).collect();
        recs[5].id = noise;
        let packed = pack_isolating(&recs, MIN_MESSAGE_BYTES * 4).unwrap();
        assert_eq!(
            packed.unfit.iter().map(|u| u.index).collect::<Vec<_>>(),
            vec![5]
        );
        let fit: Vec<String> = packed
            .fitting(recs.clone())
            .into_iter()
            .map(|r| r.id)
            .collect();
        let want: Vec<String> = [0, 1, 2, 3, 4, 6, 7, 8, 9, 10]
            .iter()
            .map(|&i| recs[i].id.clone())
            .collect();
        assert_eq!(fit, want);
        assert!(packed.unfit[0].bytes > MIN_MESSAGE_BYTES * 4);
        let framed: Vec<usize> = packed.members.iter().flat_map(|r| r.clone()).collect();
        assert_eq!(framed, vec![0, 1, 2, 3, 4, 6, 7, 8, 9, 10]);
        let back: Vec<_> = packed
            .frames
            .iter()
            .flat_map(|f| unpack(&f.body).unwrap())
            .collect();
        assert_eq!(back.len(), 10);
        assert!(back.iter().all(|r| r.id != recs[5].id));
        for (f, m) in packed.frames.iter().zip(&packed.members) {
            assert_eq!(f.records, m.len());
        }
        // `pack` refuses the same list, naming the record.
        assert!(matches!(
            pack(&recs, MIN_MESSAGE_BYTES * 4),
            Err(FrameError::RecordTooLarge { .. })
        ));
    }

    #[test]
    fn bad_bodies_name_the_cause() {
        assert!(matches!(unpack("!!!"), Err(FrameError::Base64(_))));
        assert!(matches!(unpack("aGVsbG8="), Err(FrameError::Gzip(_))));
        assert!(matches!(
            unpack("{\"x\":1}"),
            Err(FrameError::Record { line: 1, .. })
        ));
        assert!(matches!(pack(&[], 10), Err(FrameError::BadLimit(10))));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn any_records_pack_within_bound_and_round_trip(
            sizes in proptest::collection::vec(0usize..20_000, 0..120),
            limit in prop_oneof![Just(4096usize), Just(16_384), Just(262_144), Just(1_048_576)],
        ) {
            let recs: Vec<_> = sizes.iter().enumerate().map(|(i, n)| rec(i, *n)).collect();
            let frames = pack(&recs, limit).unwrap();
            let mut back = Vec::new();
            for f in &frames {
                let m = f.to_message("x");
                prop_assert!(m.sqs_size() <= limit, "{} > {}", m.sqs_size(), limit);
                prop_assert!(f.records > 0);
                back.extend(unpack(&f.body).unwrap());
            }
            // Records that fit whole come back identical; none is lost or split.
            prop_assert_eq!(back.len(), recs.len());
            for (a, b) in back.iter().zip(&recs) {
                prop_assert_eq!(&a.id, &b.id);
                if !a.flags.partial { prop_assert_eq!(a, b); }
            }
        }
    }
}
