//! Request windows: consecutive encoded records packed into bodies of at most `limit` bytes
//! (uncompressed, framing included).

use std::ops::Range;

use super::Format;
use crate::transaction::Transaction;

/// One record, encoded, with the index of the queue message it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedRecord {
    /// Index of the source message in the batch being shipped.
    pub message: usize,
    /// The record's id, to name it when the collector rejects it.
    pub id: String,
    pub bytes: Vec<u8>,
    /// Its bodies were cut so that it fits a window.
    pub truncated: bool,
    /// Even without bodies it is larger than a window: it goes alone and may be refused.
    pub oversize: bool,
}

/// Encode one record for a window of `limit` bytes: a record that would not fit a window alone is
/// cut by the one rule of [`crate::transport::truncate`] and flagged (never dropped).
pub fn encode_record(
    format: Format,
    txn: &Transaction,
    message: usize,
    limit: usize,
) -> EncodedRecord {
    let fitted = crate::transport::truncate::fit(
        txn,
        |t| format.encode(t),
        |bytes| format.window_len(1, bytes.len()) <= limit,
    );
    EncodedRecord {
        message,
        id: txn.id.clone(),
        bytes: fitted.encoded,
        truncated: fitted.truncated,
        oversize: fitted.oversize,
    }
}

/// Encode one NDJSON line of a queued frame without building an owned record: for `uap` from a
/// view that borrows from the line; for `ndjson`, a line in the decoder's own shape goes as it is,
/// not parsed again. `Ok(None)`: the line needs [`encode_record`] (too large for a window, so it
/// may have to be cut; or, for `ndjson`, not in the canonical shape). `Err`: not a record.
pub fn encode_line(
    format: Format,
    line: &[u8],
    message: usize,
    limit: usize,
) -> Result<Option<EncodedRecord>, crate::json::Error> {
    let (id, bytes) = match format {
        Format::Uap => {
            let view = super::view::RecordView::parse(line)?;
            let mut bytes = Vec::with_capacity(line.len() + line.len() / 2);
            super::uap::encode_view(&view, &mut bytes);
            (view.id.into_owned(), bytes)
        }
        Format::Ndjson => match crate::transport::frame::canonical_id(line) {
            Some(id) => {
                let mut bytes = Vec::with_capacity(line.len() + 1);
                bytes.extend_from_slice(line);
                bytes.push(b'\n');
                (id.to_string(), bytes)
            }
            None => return Ok(None),
        },
    };
    if format.window_len(1, bytes.len()) > limit {
        return Ok(None);
    }
    Ok(Some(EncodedRecord {
        message,
        id,
        bytes,
        truncated: false,
        oversize: false,
    }))
}

/// Greedy, order-keeping packing: each range of `records` makes one window of at most `limit`
/// bytes, except a lone oversize record.
pub fn plan_windows(records: &[EncodedRecord], format: Format, limit: usize) -> Vec<Range<usize>> {
    let mut windows = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, rec) in records.iter().enumerate() {
        let n = i - start;
        if n > 0 && format.window_len(n + 1, bytes + rec.bytes.len()) > limit {
            windows.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes += rec.bytes.len();
    }
    if start < records.len() {
        windows.push(start..records.len());
    }
    windows
}

/// The request body of one window.
pub fn window_body(records: &[EncodedRecord], format: Format) -> Vec<u8> {
    let (prefix, sep, suffix) = format.framing();
    let len = format.window_len(records.len(), records.iter().map(|r| r.bytes.len()).sum());
    let mut body = Vec::with_capacity(len);
    body.extend_from_slice(prefix);
    for (i, rec) in records.iter().enumerate() {
        if i > 0 {
            body.extend_from_slice(sep);
        }
        body.extend_from_slice(&rec.bytes);
    }
    body.extend_from_slice(suffix);
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rec(len: usize) -> EncodedRecord {
        EncodedRecord {
            message: 0,
            id: String::new(),
            bytes: vec![b'x'; len],
            truncated: false,
            oversize: false,
        }
    }

    #[test]
    fn packs_up_to_the_limit() {
        let records: Vec<_> = (0..5).map(|_| rec(10)).collect();
        // Two records: 9 + 10 + 1 + 10 + 2 = 32.
        let w = plan_windows(&records, Format::Uap, 32);
        assert_eq!(w, vec![0..2, 2..4, 4..5]);
        let body = window_body(&records[0..2], Format::Uap);
        assert_eq!(body.len(), 32);
        assert!(body.starts_with(b"{\"data\":[") && body.ends_with(b"]}"));
    }

    proptest! {
        #[test]
        fn windows_cover_in_order_and_respect_limit(
            sizes in proptest::collection::vec(1usize..300, 0..200),
            limit in 20usize..2000,
            ndjson in any::<bool>(),
        ) {
            let format = if ndjson { Format::Ndjson } else { Format::Uap };
            let records: Vec<_> = sizes.iter().map(|&n| rec(n)).collect();
            let windows = plan_windows(&records, format, limit);
            let mut next = 0;
            for w in &windows {
                prop_assert_eq!(w.start, next);
                prop_assert!(w.end > w.start);
                next = w.end;
                let len = window_body(&records[w.clone()], format).len();
                prop_assert!(len <= limit || w.len() == 1, "window {:?} is {} > {}", w, len, limit);
            }
            prop_assert_eq!(next, records.len());
        }
    }
}

#[cfg(test)]
mod line_tests {
    use super::*;
    use crate::transaction::{Body, BodyEncoding, Source, Transaction};

    /// Records whose strings need escapes, with several header values, bodies of both encodings,
    /// a cut body and no method: what the owned encoders see, the borrowed path must write alike.
    fn records() -> Vec<Transaction> {
        let mut plain = Transaction::new("r-1".into(), 1_686_411_388_007, Source::default());
        plain.request.method = Some("GET".into());
        plain.request.path = Some("/pets/1".into());
        plain.request.query = Some("a=1&b=\"x\"".into());
        plain.request.protocol = Some("HTTP/1.1".into());
        plain.request.client_ip = Some("10.0.0.1".into());
        plain.request.headers.insert(
            "user-agent".into(),
            vec!["Mozilla/5.0 \"quoted\" \\ tab\there é".into()],
        );
        plain.request.headers.insert(
            "x-forwarded-for".into(),
            vec!["1.1.1.1".into(), "2.2.2.2".into()],
        );
        plain.response.status = Some(200);
        plain.api.id = Some("a1".into());
        plain.api.stage = Some("prod".into());
        plain.api.domain = Some("a1.execute-api.us-east-1.amazonaws.com".into());
        let mut bodies = plain.clone();
        bodies.id = "r-\"2\"".into();
        bodies.flags.discovery_only = false;
        bodies.request.method = None;
        bodies.request.body = Some(Body {
            data: "{\"name\":\"rex\"}\n".into(),
            encoding: BodyEncoding::Utf8,
            truncated: false,
        });
        bodies.response.body = Some(Body {
            data: "AAEC/w==".into(),
            encoding: BodyEncoding::Base64,
            truncated: false,
        });
        let mut cut = bodies.clone();
        cut.id = "r-3".into();
        cut.request.body.as_mut().unwrap().truncated = true;
        cut.response.body = Some(Body {
            data: "not base64!".into(),
            encoding: BodyEncoding::Base64,
            truncated: false,
        });
        vec![plain, bodies, cut]
    }

    fn line(t: &Transaction) -> Vec<u8> {
        crate::ship::bridge::ndjson::encode(t)
            .strip_suffix(b"\n")
            .unwrap()
            .to_vec()
    }

    #[test]
    fn a_line_encodes_as_its_owned_record_does() {
        for t in records() {
            for format in [Format::Uap, Format::Ndjson] {
                let owned = encode_record(format, &t, 3, 1 << 20);
                match encode_line(format, &line(&t), 3, 1 << 20).unwrap() {
                    Some(fast) => assert_eq!(fast, owned, "{format} {}", t.id),
                    // Only an id with escapes makes the ndjson prefix check step aside.
                    None => assert!(format == Format::Ndjson && t.id.contains('"'), "{}", t.id),
                }
            }
        }
    }

    #[test]
    fn a_line_too_large_for_a_window_goes_the_owned_way() {
        let t = &records()[1];
        let l = line(t);
        for format in [Format::Uap, Format::Ndjson] {
            assert_eq!(encode_line(format, &l, 0, 200).unwrap(), None);
            assert!(encode_record(format, t, 0, 200).truncated);
        }
    }

    #[test]
    fn ndjson_passes_only_the_canonical_shape_through() {
        let t = &records()[0];
        // Another key order (a hand-written record): re-encoded from an owned record.
        let v: serde_json::Value = serde_json::from_slice(&line(t)).unwrap();
        let reordered = serde_json::to_vec(&v).unwrap();
        assert_ne!(reordered, line(t));
        assert_eq!(
            encode_line(Format::Ndjson, &reordered, 0, 1 << 20).unwrap(),
            None
        );
        // An id with escapes is read by a parse, not passed by the prefix check.
        assert_eq!(
            encode_line(Format::Ndjson, &line(&records()[1]), 0, 1 << 20)
                .unwrap()
                .map(|r| r.id),
            None
        );
    }

    #[test]
    fn a_line_that_is_no_record_is_an_error_for_uap() {
        assert!(encode_line(Format::Uap, br#"{"id":"x"}"#, 0, 1 << 20).is_err());
        assert!(encode_line(Format::Uap, b"{not json", 0, 1 << 20).is_err());
    }
}
