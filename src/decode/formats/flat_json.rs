//! The common shape of a JSON access line, read without a JSON parser: one flat object whose
//! values are strings without escapes, plain integers, `true`, `false` or `null`, as API Gateway
//! writes the recommended formats. On the bench's 830-byte line serde's visitors cost about
//! 1.0 µs against 0.46 µs for a bare skim (`IgnoredAny`); this scan about 0.65 µs, key lookups
//! included (profiles of `cargo bench --bench decode`, docs/performance.md).
//!
//! It accepts only text that is valid JSON and that serde_json reads the same way (a test in
//! `json.rs` holds the two readings equal): anything else (an escape, a nested value, a
//! fraction, a control byte, a broken line) is `None`, and the caller parses with serde_json.

use super::fields::{Fields, Var};

/// The line's fields, or `None` when the line is not of that shape. `key` tells what a top-level
/// key means (its variable, and whether it names a delivered event's text), by position.
pub fn scan<'a>(
    line: &'a str,
    mut key: impl FnMut(usize, &str) -> (Option<Var>, bool),
) -> Option<Fields<'a>> {
    let b = line.as_bytes();
    let mut quotes = Quotes::new(b);
    let mut fields = Fields::default();
    let mut at = skip_spaces(b, 0);
    if b.get(at) != Some(&b'{') {
        return None;
    }
    at = skip_spaces(b, at + 1);
    if b.get(at) == Some(&b'}') {
        at = skip_spaces(b, at + 1);
        return (at == b.len() && quotes.clean_to(b.len())).then_some(fields);
    }
    for position in 0.. {
        let (name, next) = string(line, at, &mut quotes)?;
        at = skip_spaces(b, next);
        if b.get(at) != Some(&b':') {
            return None;
        }
        at = skip_spaces(b, at + 1);
        let (value, next) = match b.get(at)? {
            b'"' => string(line, at, &mut quotes).map(|(v, n)| (Some(v), n))?,
            b'0'..=b'9' => integer(line, at).map(|(v, n)| (Some(v), n))?,
            b't' if b[at..].starts_with(b"true") => (Some("true"), at + 4),
            b'f' if b[at..].starts_with(b"false") => (Some("false"), at + 5),
            b'n' if b[at..].starts_with(b"null") => (None, at + 4),
            _ => return None,
        };
        let (var, names_text) = key(position, name);
        fields.names_text |= names_text;
        if let (Some(var), Some(value)) = (var, value) {
            fields.set(var, value);
        }
        at = skip_spaces(b, next);
        match b.get(at)? {
            b',' => at = skip_spaces(b, at + 1),
            b'}' => {
                at = skip_spaces(b, at + 1);
                return (at == b.len() && quotes.clean_to(b.len())).then_some(fields);
            }
            _ => return None,
        }
    }
    None
}

/// The string that opens at `at` (a quote) and the index after its closing quote.
#[inline]
fn string<'a>(line: &'a str, at: usize, quotes: &mut Quotes) -> Option<(&'a str, usize)> {
    if line.as_bytes().get(at) != Some(&b'"') {
        return None;
    }
    let end = quotes.next_after(at)?;
    Some((&line[at + 1..end], end + 1))
}

/// The line's quotes in order, found 16 bytes at a time ([`crate::json::scan16`]). A backslash or a
/// control byte anywhere before the quote asked for ends the scan: without them, every quote in a
/// JSON line delimits a string, so a string ends at the next quote.
struct Quotes<'a> {
    b: &'a [u8],
    /// Start of the block whose quotes are in `mask`.
    base: usize,
    /// Quotes of that block not yet handed out, bit `i` for byte `base + i`.
    mask: u16,
    /// Bytes before this were checked.
    checked: usize,
}

impl<'a> Quotes<'a> {
    fn new(b: &'a [u8]) -> Self {
        Quotes {
            b,
            base: 0,
            mask: 0,
            checked: 0,
        }
    }

    /// The first quote after index `at`; `None` when there is none or the bytes before it are
    /// not clean.
    #[inline]
    fn next_after(&mut self, at: usize) -> Option<usize> {
        loop {
            while self.mask != 0 {
                let q = self.base + self.mask.trailing_zeros() as usize;
                self.mask &= self.mask - 1;
                if q > at {
                    return Some(q);
                }
            }
            if self.checked >= self.b.len() {
                return None;
            }
            let (quotes, clean) = block(self.b, self.checked);
            if !clean {
                return None;
            }
            self.base = self.checked;
            self.mask = quotes;
            self.checked += 16;
        }
    }

    /// Are the bytes up to `end` free of backslashes and control bytes?
    fn clean_to(&mut self, end: usize) -> bool {
        while self.checked < end {
            if !block(self.b, self.checked).1 {
                return false;
            }
            self.checked += 16;
        }
        true
    }
}

/// The quotes of the 16 bytes from `from` (bit `i` for byte `from + i`), and whether none of them
/// is a backslash or a control byte. Past the end reads as spaces.
fn block(b: &[u8], from: usize) -> (u16, bool) {
    let m = crate::json::scan16::masks(&crate::json::scan16::load(b, from));
    (m.quotes, m.backslashes | m.controls == 0)
}

/// A non-negative integer as serde_json would print it back: no sign, no leading zero, no
/// fraction or exponent (those are left to serde_json, whose reading reformats them), and short
/// enough for a `u64`.
fn integer(line: &str, at: usize) -> Option<(&str, usize)> {
    let b = line.as_bytes();
    let len = b[at..].iter().take_while(|c| c.is_ascii_digit()).count();
    let end = at + len;
    let plain = len <= 19 && (len == 1 || b[at] != b'0');
    let ends = !matches!(b.get(end), Some(b'.' | b'e' | b'E'));
    (plain && ends).then(|| (&line[at..end], end))
}

/// Past the spaces from `at` (the only whitespace these lines can hold).
fn skip_spaces(b: &[u8], mut at: usize) -> usize {
    while b.get(at) == Some(&b' ') {
        at += 1;
    }
    at
}
