//! Custom `key: value, …` and `key=value …` access-log formats whose keys name `$context`
//! variables. The Serverless Framework's default REST format is one:
//! `requestId: $context.requestId, ip: $context.identity.sourceIp, caller: …, responseLength: …`.
//!
//! Values are not quoted by API Gateway and may hold spaces, commas and colons (`requestTime:
//! 27/Nov/2019:14:02:30 +0000`, a user agent), so a value runs up to the next `<sep> key:`: when
//! the line separates pairs with commas, only a comma starts a new key; otherwise whitespace does.
//! A value in double quotes runs to its closing quote.

use std::borrow::Cow;

use super::fields::{Fields, Var};

/// The character between a key and its value.
#[derive(Clone, Copy, PartialEq)]
enum Assign {
    Colon,
    Equals,
}

/// Does the line start like `key:` / `key=`? (An IPv4/IPv6 address or a date does not.)
pub fn looks_like(line: &str) -> bool {
    let b = line.as_bytes();
    let n = ident_len(b, 0);
    n > 0 && assign_at(b, n).is_some()
}

/// Parse the line's pairs; `None` when it is not a key/value line with a known variable.
pub fn parse(line: &str) -> Option<Fields<'_>> {
    let b = line.as_bytes();
    let first = ident_len(b, 0);
    let assign = assign_at(b, first)?;
    let commas = separated_by_commas(b, assign);
    let mut fields = Fields::default();
    let mut known = 0;
    let mut pos = 0;
    while pos < b.len() {
        let key_len = ident_len(b, pos);
        if key_len == 0 || assign_at(b, pos + key_len) != Some(assign) {
            break;
        }
        let key = &line[pos..pos + key_len];
        let mut v = pos + key_len + 1;
        while v < b.len() && b[v] == b' ' {
            v += 1;
        }
        let (value, next) = if b.get(v) == Some(&b'"') {
            quoted(line, v)
        } else {
            let end = next_key(b, v, assign, commas).unwrap_or(b.len());
            (Cow::Borrowed(&line[v..end]), end)
        };
        let value = match value {
            Cow::Borrowed(s) => Cow::Borrowed(s.trim().trim_end_matches(',').trim_end()),
            Cow::Owned(s) => Cow::Owned(s),
        };
        if let Some(var) = Var::from_key(key) {
            fields.set(var, value);
            known += 1;
        }
        pos = next;
        while pos < b.len() && (b[pos] == b',' || b[pos].is_ascii_whitespace()) {
            pos += 1;
        }
    }
    (known > 0).then_some(fields)
}

/// Length of the identifier starting at `i` (a letter, `$` or `_`, then word characters, `.`, `-`).
fn ident_len(b: &[u8], i: usize) -> usize {
    match b.get(i) {
        Some(c) if c.is_ascii_alphabetic() || *c == b'$' || *c == b'_' => {}
        _ => return 0,
    }
    b[i..]
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-' | b'$'))
        .count()
}

/// The assignment right after a key ending at `i`: `=`, or `:` not followed by `/` or `:` (a URL,
/// an IPv6 address).
fn assign_at(b: &[u8], i: usize) -> Option<Assign> {
    match b.get(i)? {
        b'=' => Some(Assign::Equals),
        b':' if !matches!(b.get(i + 1), Some(b'/' | b':')) => Some(Assign::Colon),
        _ => None,
    }
}

/// Is a key preceded by `<sep>` at `i`? Then `i` is where that key starts.
fn key_at(b: &[u8], i: usize, assign: Assign) -> bool {
    let n = ident_len(b, i);
    n > 0 && assign_at(b, i + n) == Some(assign)
}

/// Do pairs end with `,`? True when a comma is followed by another `key:` anywhere on the line.
fn separated_by_commas(b: &[u8], assign: Assign) -> bool {
    b.iter().enumerate().any(|(i, c)| {
        *c == b',' && {
            let mut j = i + 1;
            while j < b.len() && b[j] == b' ' {
                j += 1;
            }
            key_at(b, j, assign)
        }
    })
}

/// Start of the separator before the next key after `from`, if any.
fn next_key(b: &[u8], from: usize, assign: Assign, commas: bool) -> Option<usize> {
    let mut i = from;
    while i < b.len() {
        let sep = if commas {
            b[i] == b','
        } else {
            b[i].is_ascii_whitespace()
        };
        if sep {
            let mut j = i + 1;
            while j < b.len() && b[j].is_ascii_whitespace() {
                j += 1;
            }
            if key_at(b, j, assign) {
                return Some(i);
            }
        }
        i += 1;
    }
    None
}

/// A `"…"` value starting at `start` (backslash escapes honoured); returns it and where it ends.
fn quoted(line: &str, start: usize) -> (Cow<'_, str>, usize) {
    let b = line.as_bytes();
    let mut i = start + 1;
    let mut escaped = false;
    while i < b.len() {
        match b[i] {
            _ if escaped => escaped = false,
            b'\\' => escaped = true,
            b'"' => {
                let inner = &line[start + 1..i];
                let value = if inner.contains('\\') {
                    Cow::Owned(inner.replace("\\\"", "\"").replace("\\\\", "\\"))
                } else {
                    Cow::Borrowed(inner)
                };
                return (value, i + 1);
            }
            _ => {}
        }
        i += 1;
    }
    // No closing quote: take the rest as it is.
    (Cow::Borrowed(&line[start..]), b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// mozilla-services/foxsec-pipeline: a production REST API (Serverless Framework's default format).
    const FOXSEC: &str = "requestId: c2c284c1-af50-457c-a0f8-5116dc789211, ip: 54.68.203.164, caller: -, user: -, requestTime: 27/Nov/2019:14:02:30 +0000, httpMethod: DELETE, resourcePath: /sub/{proxy+}, status: 404, protocol: HTTP/1.1, responseLength: 43";

    #[test]
    fn colon_comma_format() {
        assert!(looks_like(FOXSEC));
        let f = parse(FOXSEC).unwrap();
        assert_eq!(
            f.get(Var::RequestId),
            Some("c2c284c1-af50-457c-a0f8-5116dc789211")
        );
        assert_eq!(f.get(Var::SourceIp), Some("54.68.203.164"));
        assert_eq!(f.get(Var::Caller), None);
        assert_eq!(f.get(Var::RequestTime), Some("27/Nov/2019:14:02:30 +0000"));
        assert_eq!(f.get(Var::HttpMethod), Some("DELETE"));
        assert_eq!(f.get(Var::ResourcePath), Some("/sub/{proxy+}"));
        assert_eq!(f.get(Var::Status), Some("404"));
        assert_eq!(f.get(Var::Protocol), Some("HTTP/1.1"));
        assert_eq!(f.get(Var::ResponseLength), Some("43"));
        assert!(f.is_api_traffic());
    }

    #[test]
    fn equals_space_format_with_quotes_and_spaces() {
        let line = r#"requestId=48752d0f-c99d-4cfa-a5a7-f3c6834d19e5 ip=2001:db8::1 requestTime=10/Jun/2023:15:36:28 +0000 httpMethod=GET path=/prod/pets status=200 userAgent="Mozilla/5.0 (X11; Linux) x=1, y" responseLatency=31"#;
        let f = parse(line).unwrap();
        assert_eq!(f.get(Var::SourceIp), Some("2001:db8::1"));
        assert_eq!(f.get(Var::RequestTime), Some("10/Jun/2023:15:36:28 +0000"));
        assert_eq!(
            f.get(Var::UserAgent),
            Some("Mozilla/5.0 (X11; Linux) x=1, y")
        );
        assert_eq!(f.get(Var::ResponseLatency), Some("31"));
    }

    #[test]
    fn comma_format_keeps_spaces_and_colons_in_values() {
        let line = "requestId=r-1,userAgent=curl/8.4.0 (x86_64; a: b),status=200,httpMethod=GET";
        let f = parse(line).unwrap();
        assert_eq!(f.get(Var::UserAgent), Some("curl/8.4.0 (x86_64; a: b)"));
        assert_eq!(f.get(Var::Status), Some("200"));
    }

    #[test]
    fn not_key_value_lines() {
        for line in [
            "1.2.3.4 - - [10/Jun/2023:15:36:28 +0000] \"GET / HTTP/1.1\" 200 1 r",
            "2001:db8::1,10/Jun/2023:15:36:28 +0000,GET",
            "fe80::1 - - [x]",
            "START RequestId: 8f507cfc Version: $LATEST",
            "https://example.com/a",
            "[ERROR] First test message",
        ] {
            assert!(!looks_like(line), "{line}");
        }
        // Text with a colon parses, but names nothing of a request.
        assert!(parse("Error: connection reset, retrying").is_none_or(|f| !f.is_api_traffic()));
    }
}
