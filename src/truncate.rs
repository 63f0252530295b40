//! Cutting a record too large for where it must go (one queue message, one collector window), so
//! it travels cut instead of being dropped. One rule for every place:
//!
//! 1. header values and body data are cut to [`CUT_VALUE_BYTES`] (on a character boundary);
//! 2. if that is still too large, body data is emptied.
//!
//! A cut record carries `flags.partial`, and `flags.body_truncated` plus each cut body's
//! `truncated` when a body was touched, so the collector can tell it from a whole one.

use crate::transaction::{Body, Transaction};

/// Header and body bytes kept by the first step.
pub const CUT_VALUE_BYTES: usize = 1024;

/// The result of [`fit`]: the encoded record, and what it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Fitted<T> {
    pub encoded: T,
    /// The record was cut.
    pub truncated: bool,
    /// Even fully cut it does not fit (the caller decides: send alone, or refuse).
    pub oversize: bool,
}

/// `encode(txn)` if `fits`, else the encoding of the first cut step that fits, else of the last.
pub fn fit<T>(
    txn: &Transaction,
    encode: impl Fn(&Transaction) -> T,
    fits: impl Fn(&T) -> bool,
) -> Fitted<T> {
    let whole = encode(txn);
    if fits(&whole) {
        return Fitted {
            encoded: whole,
            truncated: false,
            oversize: false,
        };
    }
    drop(whole);
    let mut cut = txn.clone();
    cut_values(&mut cut);
    let encoded = encode(&cut);
    if fits(&encoded) || !has_body_data(&cut) {
        let oversize = !fits(&encoded);
        return Fitted {
            encoded,
            truncated: true,
            oversize,
        };
    }
    drop(encoded);
    empty_bodies(&mut cut);
    let encoded = encode(&cut);
    let oversize = !fits(&encoded);
    Fitted {
        encoded,
        truncated: true,
        oversize,
    }
}

fn bodies(t: &mut Transaction) -> impl Iterator<Item = &mut Body> {
    [&mut t.request.body, &mut t.response.body]
        .into_iter()
        .flatten()
}

fn has_body_data(t: &Transaction) -> bool {
    [&t.request.body, &t.response.body]
        .into_iter()
        .flatten()
        .any(|b| !b.data.is_empty())
}

/// Step 1: every header value and body to [`CUT_VALUE_BYTES`].
fn cut_values(t: &mut Transaction) {
    for body in bodies(t) {
        if body.data.len() > CUT_VALUE_BYTES {
            truncate_utf8(&mut body.data, CUT_VALUE_BYTES);
            body.truncated = true;
        }
    }
    for headers in [&mut t.request.headers, &mut t.response.headers] {
        for v in headers.values_mut().flatten() {
            truncate_utf8(v, CUT_VALUE_BYTES);
        }
    }
    mark(t);
}

/// Step 2: no body data at all.
fn empty_bodies(t: &mut Transaction) {
    for body in bodies(t) {
        body.data.clear();
        body.truncated = true;
    }
    mark(t);
}

fn mark(t: &mut Transaction) {
    t.flags.body_truncated =
        t.flags.body_truncated || t.request.body.is_some() || t.response.body.is_some();
    t.flags.partial = true;
}

/// Truncate to at most `max` bytes on a character boundary.
pub fn truncate_utf8(s: &mut String, max: usize) {
    if s.len() <= max {
        return;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::{BodyEncoding, Source};

    fn big() -> Transaction {
        let mut t = Transaction::new("req-1".into(), 1_700_000_000_000, Source::default());
        t.request.body = Some(Body {
            data: "é".repeat(5000),
            encoding: BodyEncoding::Utf8,
            truncated: false,
        });
        t.request
            .headers
            .insert("x-big".into(), vec!["h".repeat(5000)]);
        t
    }

    fn size(t: &Transaction) -> usize {
        serde_json::to_vec(t).map(|v| v.len()).unwrap_or(usize::MAX)
    }

    #[test]
    fn a_record_that_fits_is_untouched() {
        let t = big();
        let f = fit(&t, size, |_| true);
        assert!(!f.truncated && !f.oversize);
        assert_eq!(f.encoded, size(&t));
    }

    #[test]
    fn first_step_cuts_values_on_char_boundaries() {
        let t = big();
        let whole = size(&t);
        let f = fit(&t, |c| c.clone(), |c| size(c) < whole / 2 && size(c) > 2000);
        assert!(f.truncated && !f.oversize);
        let body = f.encoded.request.body.as_ref().unwrap();
        assert!(body.truncated && body.data.len() <= CUT_VALUE_BYTES);
        assert!(body.data.chars().all(|c| c == 'é'));
        assert_eq!(f.encoded.request.headers["x-big"][0].len(), CUT_VALUE_BYTES);
        assert!(f.encoded.flags.partial && f.encoded.flags.body_truncated);
    }

    #[test]
    fn second_step_empties_bodies_and_reports_oversize() {
        let t = big();
        let f = fit(&t, |c| c.clone(), |c| size(c) < 1500);
        assert!(f.truncated);
        assert!(f.encoded.request.body.as_ref().unwrap().data.is_empty());
        let f = fit(&t, |c| c.clone(), |_| false);
        assert!(f.truncated && f.oversize);
    }
}
