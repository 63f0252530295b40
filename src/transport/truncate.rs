//! Cutting a record too large for where it must go (one queue message, one collector window, one
//! archive line), so it travels cut instead of being dropped. One rule for every place, in this
//! order, each step taken only when the record still does not fit:
//!
//! 1. raw lines (`execution.lines`, carried by a request not seen whole): each line to
//!    [`CUT_VALUE_BYTES`], then only the first lines within 256 KiB, 64 KiB, 16 KiB of text, then
//!    none (`execution.lines_truncated`);
//! 2. bodies: each to [`CUT_VALUE_BYTES`], then emptied (`truncated` on each, `flags.body_truncated`);
//! 3. header values: each to [`CUT_VALUE_BYTES`]; then only the first headers (in name order)
//!    within 16 KiB, 4 KiB of names and values, then none;
//! 4. the skeleton: every other text field (query, path, error, ids…) to [`SKELETON_BYTES`].
//!
//! A cut record carries `flags.partial` (and the per-step flags above), so the collector can tell
//! it from a whole one. Text is cut on a character boundary, base64 on a 4-character boundary.
//! Should even the skeleton not fit, [`Fitted::oversize`] says so and the caller decides (send
//! alone, or keep it aside: see [`crate::transport::frame::pack_isolating`]).

use crate::transaction::{Body, BodyEncoding, Headers, Transaction};

/// Bytes kept of each raw line, body and header value by the first cut of each kind.
pub const CUT_VALUE_BYTES: usize = 1024;
/// Bytes kept of each remaining text field by the last step.
pub const SKELETON_BYTES: usize = 256;
/// Raw-line text kept by the successive line steps.
const LINE_BUDGETS: [usize; 3] = [256 * 1024, 64 * 1024, 16 * 1024];
/// Header text (names and values) kept by the successive header steps.
const HEADER_BUDGETS: [usize; 2] = [16 * 1024, 4 * 1024];

/// The result of [`fit`]: the encoded record, and what it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Fitted<T> {
    pub encoded: T,
    /// The record was cut.
    pub truncated: bool,
    /// Even fully cut it does not fit (the caller decides: send alone, or refuse).
    pub oversize: bool,
}

/// One step of the rule, in the order taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    LinesEach,
    LinesWithin(usize),
    LinesNone,
    BodiesEach,
    BodiesEmpty,
    HeaderValues,
    HeadersWithin(usize),
    HeadersNone,
    Skeleton,
}

const STEPS: [Step; 12] = [
    Step::LinesEach,
    Step::LinesWithin(LINE_BUDGETS[0]),
    Step::LinesWithin(LINE_BUDGETS[1]),
    Step::LinesWithin(LINE_BUDGETS[2]),
    Step::LinesNone,
    Step::BodiesEach,
    Step::BodiesEmpty,
    Step::HeaderValues,
    Step::HeadersWithin(HEADER_BUDGETS[0]),
    Step::HeadersWithin(HEADER_BUDGETS[1]),
    Step::HeadersNone,
    Step::Skeleton,
];

/// `encode(txn)` if `fits`, else the encoding of the first cut step that fits (see the module
/// documentation for the order), else of the last. A step that changes nothing is not encoded.
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
    let mut last = whole;
    let mut cut = txn.clone();
    let mut truncated = false;
    for step in STEPS {
        if !apply(&mut cut, step) {
            continue;
        }
        truncated = true;
        cut.flags.partial = true;
        // Free the previous encoding before making the next (a large record's is large).
        drop(last);
        let encoded = encode(&cut);
        if fits(&encoded) {
            return Fitted {
                encoded,
                truncated,
                oversize: false,
            };
        }
        last = encoded;
    }
    Fitted {
        encoded: last,
        truncated,
        oversize: true,
    }
}

/// Take one step; whether it changed anything.
fn apply(t: &mut Transaction, step: Step) -> bool {
    match step {
        Step::LinesEach => cut_lines(t, |lines| {
            let mut changed = false;
            for l in lines.iter_mut() {
                changed |= truncate_utf8(&mut l.message, CUT_VALUE_BYTES);
            }
            changed
        }),
        Step::LinesWithin(budget) => cut_lines(t, |lines| {
            let mut used = 0usize;
            let keep = lines
                .iter()
                .take_while(|l| {
                    used += l.message.len() + l.event_id.len();
                    used <= budget
                })
                .count();
            let changed = keep < lines.len();
            lines.truncate(keep);
            changed
        }),
        Step::LinesNone => cut_lines(t, |lines| {
            let changed = !lines.is_empty();
            lines.clear();
            changed
        }),
        Step::BodiesEach => cut_bodies(t, |b| cut_body(b, CUT_VALUE_BYTES)),
        Step::BodiesEmpty => cut_bodies(t, |b| {
            let changed = !b.data.is_empty() || !b.truncated;
            b.data.clear();
            changed
        }),
        Step::HeaderValues => cut_headers(t, |h| {
            let mut changed = false;
            for v in h.values_mut().flatten() {
                changed |= truncate_utf8(v, CUT_VALUE_BYTES);
            }
            changed
        }),
        Step::HeadersWithin(budget) => cut_headers(t, |h| keep_headers_within(h, budget)),
        Step::HeadersNone => cut_headers(t, |h| {
            let changed = !h.is_empty();
            h.clear();
            changed
        }),
        Step::Skeleton => skeleton(t),
    }
}

fn cut_lines(
    t: &mut Transaction,
    f: impl FnOnce(&mut Vec<crate::transaction::ExecutionLine>) -> bool,
) -> bool {
    let Some(exec) = t.execution.as_mut() else {
        return false;
    };
    let changed = f(&mut exec.lines);
    exec.lines_truncated |= changed;
    changed
}

fn cut_bodies(t: &mut Transaction, f: impl Fn(&mut Body) -> bool) -> bool {
    let mut changed = false;
    for body in [&mut t.request.body, &mut t.response.body]
        .into_iter()
        .flatten()
    {
        if f(body) {
            body.truncated = true;
            changed = true;
        }
    }
    t.flags.body_truncated |= changed;
    changed
}

fn cut_headers(t: &mut Transaction, f: impl Fn(&mut Headers) -> bool) -> bool {
    let changed = f(&mut t.request.headers) | f(&mut t.response.headers);
    t.flags.headers_truncated |= changed;
    changed
}

/// Keep the first headers (in name order) and values whose names and values add up to at most
/// `budget` bytes.
fn keep_headers_within(h: &mut Headers, budget: usize) -> bool {
    let mut used = 0usize;
    let mut changed = false;
    h.retain(|name, values| {
        used += name.len();
        if used > budget {
            changed = true;
            return false;
        }
        let had = values.len();
        let keep = values
            .iter()
            .take_while(|v| {
                used += v.len();
                used <= budget
            })
            .count();
        if keep < had {
            changed = true;
            values.truncate(keep);
        }
        // A name whose every value was left out goes too.
        had == 0 || keep > 0
    });
    changed
}

/// A body to at most `max` bytes: text on a character boundary, base64 on a 4-character one.
fn cut_body(b: &mut Body, max: usize) -> bool {
    match b.encoding {
        BodyEncoding::Utf8 => truncate_utf8(&mut b.data, max),
        BodyEncoding::Base64 => truncate_utf8(&mut b.data, max - max % 4),
    }
}

/// The last step: every text field left to [`SKELETON_BYTES`] (the record's id excepted: it names
/// the record wherever it goes).
fn skeleton(t: &mut Transaction) -> bool {
    let mut changed = false;
    let mut cut = |s: &mut String| changed |= truncate_utf8(s, SKELETON_BYTES);
    let r = &mut t.request;
    for s in [
        &mut r.method,
        &mut r.scheme,
        &mut r.host,
        &mut r.path,
        &mut r.query,
        &mut r.route,
        &mut r.protocol,
        &mut r.client_ip,
        &mut t.api.id,
        &mut t.api.stage,
        &mut t.api.account,
        &mut t.api.region,
        &mut t.api.domain,
    ]
    .into_iter()
    .flatten()
    {
        cut(s);
    }
    if let Some(e) = t.execution.as_mut() {
        for s in [&mut e.extended_request_id, &mut e.error]
            .into_iter()
            .flatten()
        {
            cut(s);
        }
    }
    cut(&mut t.source.log_group);
    cut(&mut t.source.log_stream);
    cut(&mut t.source.event_id);
    changed
}

/// Truncate to at most `max` bytes on a character boundary; whether anything was cut.
pub fn truncate_utf8(s: &mut String, max: usize) -> bool {
    if s.len() <= max {
        return false;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::{Execution, ExecutionLine, Source};

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

    fn with_lines(n: usize, len: usize) -> Transaction {
        let mut t = big();
        t.execution = Some(Execution {
            lines: (0..n)
                .map(|i| ExecutionLine {
                    event_id: format!("e{i}"),
                    timestamp: i as i64,
                    message: "l".repeat(len),
                })
                .collect(),
            ..Execution::default()
        });
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
    fn bodies_are_cut_before_header_values_on_char_boundaries() {
        let t = big();
        let f = fit(&t, |c| c.clone(), |c| size(c) < 7000);
        assert!(f.truncated && !f.oversize);
        let body = f.encoded.request.body.as_ref().unwrap();
        assert!(body.truncated && body.data.len() <= CUT_VALUE_BYTES);
        assert!(body.data.chars().all(|c| c == 'é'));
        // The header was not needed: untouched.
        assert_eq!(f.encoded.request.headers["x-big"][0].len(), 5000);
        assert!(f.encoded.flags.partial && f.encoded.flags.body_truncated);
        assert!(!f.encoded.flags.headers_truncated);
        // Tighter: bodies emptied, then header values cut.
        let f = fit(&t, |c| c.clone(), |c| size(c) < 1800);
        assert!(f.encoded.request.body.as_ref().unwrap().data.is_empty());
        assert_eq!(f.encoded.request.headers["x-big"][0].len(), CUT_VALUE_BYTES);
        assert!(f.encoded.flags.headers_truncated);
    }

    #[test]
    fn raw_lines_go_first() {
        let t = with_lines(200_000, 40);
        let limit = size(&big()) + 70_000;
        let f = fit(&t, |c| c.clone(), |c| size(c) < limit);
        assert!(f.truncated && !f.oversize);
        let e = f.encoded.execution.as_ref().unwrap();
        assert!(e.lines_truncated && !e.lines.is_empty() && e.lines.len() < 2000);
        // Lines kept are the first ones, whole.
        assert_eq!(e.lines[0].event_id, "e0");
        assert_eq!(e.lines[0].message.len(), 40);
        assert_eq!(f.encoded.request.body, t.request.body);
        assert!(f.encoded.flags.partial && !f.encoded.flags.body_truncated);
    }

    #[test]
    fn a_huge_header_map_is_cut_to_a_budget() {
        let mut t = Transaction::new("req-2".into(), 1, Source::default());
        for i in 0..100_000 {
            t.request
                .headers
                .insert(format!("x-h-{i:06}"), vec![format!("v{i}")]);
        }
        let f = fit(&t, |c| c.clone(), |c| size(c) < 64 * 1024);
        assert!(f.truncated && !f.oversize);
        assert!(f.encoded.flags.headers_truncated && f.encoded.flags.partial);
        let n = f.encoded.request.headers.len();
        assert!(n > 100 && n < 2000, "{n}");
        assert!(f.encoded.request.headers.contains_key("x-h-000000"));
    }

    #[test]
    fn the_skeleton_is_last_and_oversize_is_reported() {
        let mut t = big();
        t.request.query = Some("q".repeat(100_000));
        let f = fit(&t, |c| c.clone(), |c| size(c) < 2000);
        assert!(f.truncated && !f.oversize);
        assert_eq!(
            f.encoded.request.query.as_ref().unwrap().len(),
            SKELETON_BYTES
        );
        assert!(f.encoded.request.headers.is_empty());
        assert_eq!(f.encoded.id, "req-1");
        let f = fit(&t, |c| c.clone(), |_| false);
        assert!(f.truncated && f.oversize);
    }

    #[test]
    fn base64_bodies_are_cut_on_a_quantum() {
        let mut t = big();
        t.request.body = Some(Body {
            data: "QUJD".repeat(1000),
            encoding: BodyEncoding::Base64,
            truncated: false,
        });
        let f = fit(&t, |c| c.clone(), |c| size(c) < 7000);
        let b = f.encoded.request.body.as_ref().unwrap();
        assert_eq!(b.data.len() % 4, 0);
        assert!(b.truncated);
    }
}
