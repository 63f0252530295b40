//! A frame's NDJSON line read by hand when it is exactly what the decoder writes
//! ([`Transaction::write_json`](crate::transaction::Transaction::write_json): every key, in that
//! order, no spaces). Through serde's visitors the shipper spent almost half its time reading
//! these lines back. Anything else (another key order, spaces, a surrogate or invalid escape,
//! a number the writer would not write, invalid UTF-8) gives `None`, and the line takes serde_json
//! as before, which also names its error. Whatever this reader takes, serde takes too and reads
//! the same view from it (a property test holds the two together).

use std::borrow::Cow;

use super::{ApiView, BodyView, FlagsView, HeaderList, RecordView, RequestView, ResponseView};
use crate::json::cursor::Cursor;
use crate::transaction::BodyEncoding;

/// The view of a line in the decoder's own shape, or `None` (read it with serde_json).
pub(super) fn read(line: &[u8]) -> Option<RecordView<'_>> {
    let text = std::str::from_utf8(line).ok()?;
    let mut c = Line(Cursor::new(text));
    let view = c.record()?;
    c.is_at_end().then_some(view)
}

/// The line's reader: the shared cursor, with the record's shape.
struct Line<'a>(Cursor<'a>);

impl<'a> std::ops::Deref for Line<'a> {
    type Target = Cursor<'a>;
    fn deref(&self) -> &Cursor<'a> {
        &self.0
    }
}

impl std::ops::DerefMut for Line<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl<'a> Line<'a> {
    fn record(&mut self) -> Option<RecordView<'a>> {
        self.expect(b"{\"schema\":")?;
        self.skip_string()?;
        self.expect(b",\"id\":")?;
        let id = self.string()?;
        self.expect(b",\"time_ms\":")?;
        let time_ms = self.integer()?;
        self.expect(b",\"api\":{\"kind\":")?;
        self.skip_string()?;
        self.expect(b",\"id\":")?;
        let api_id = self.optional()?;
        self.expect(b",\"stage\":")?;
        let stage = self.optional()?;
        self.expect(b",\"account\":")?;
        self.skip_optional()?;
        self.expect(b",\"region\":")?;
        self.skip_optional()?;
        self.expect(b",\"domain\":")?;
        let domain = self.optional()?;
        self.expect(b"},\"request\":")?;
        let request = self.request()?;
        self.expect(b",\"response\":")?;
        let response = self.response()?;
        self.expect(b",\"flags\":")?;
        let flags = self.flags()?;
        self.expect(b",\"source\":{\"log_group\":")?;
        self.skip_string()?;
        self.expect(b",\"log_stream\":")?;
        self.skip_string()?;
        self.expect(b",\"event_id\":")?;
        self.skip_string()?;
        self.expect(b",\"format\":")?;
        self.skip_string()?;
        self.expect(b"}")?;
        if self.eat(b",\"execution\":") {
            self.execution()?;
        }
        self.expect(b"}")?;
        Some(RecordView {
            _schema: serde::de::IgnoredAny,
            id,
            time_ms,
            api: ApiView {
                id: api_id,
                stage,
                domain,
            },
            request,
            response,
            flags,
            _source: serde::de::IgnoredAny,
        })
    }

    fn request(&mut self) -> Option<RequestView<'a>> {
        self.expect(b"{\"method\":")?;
        let method = self.optional()?;
        self.expect(b",\"scheme\":")?;
        let scheme = self.optional()?;
        self.expect(b",\"host\":")?;
        let host = self.optional()?;
        self.expect(b",\"path\":")?;
        let path = self.optional()?;
        self.expect(b",\"query\":")?;
        let query = self.optional()?;
        self.expect(b",\"route\":")?;
        self.skip_optional()?;
        self.expect(b",\"protocol\":")?;
        let protocol = self.optional()?;
        self.expect(b",\"client_ip\":")?;
        let client_ip = self.optional()?;
        let (headers, body) = self.headers_and_body()?;
        Some(RequestView {
            method,
            scheme,
            host,
            path,
            query,
            protocol,
            client_ip,
            headers,
            body,
        })
    }

    fn response(&mut self) -> Option<ResponseView<'a>> {
        self.expect(b"{\"status\":")?;
        let status = if self.eat(b"null") {
            None
        } else {
            Some(u16::try_from(self.integer()?).ok()?)
        };
        for key in [
            &b",\"length\":"[..],
            b",\"latency_ms\":",
            b",\"integration_latency_ms\":",
        ] {
            self.expect(key)?;
            if !self.eat(b"null") {
                u64::try_from(self.integer()?).ok()?;
            }
        }
        let (headers, body) = self.headers_and_body()?;
        Some(ResponseView {
            status,
            headers,
            body,
        })
    }

    fn headers_and_body(&mut self) -> Option<(HeaderList<'a>, Option<BodyView<'a>>)> {
        self.expect(b",\"headers\":{")?;
        let mut headers = Vec::new();
        if !self.eat(b"}") {
            loop {
                let name = self.string()?;
                self.expect(b":[")?;
                let mut values = Vec::new();
                if !self.eat(b"]") {
                    loop {
                        values.push(self.string()?);
                        if self.eat(b"]") {
                            break;
                        }
                        self.expect(b",")?;
                    }
                }
                headers.push((name, values));
                if self.eat(b"}") {
                    break;
                }
                self.expect(b",")?;
            }
        }
        self.expect(b",\"body\":")?;
        let body = if self.eat(b"null") {
            None
        } else {
            self.expect(b"{\"data\":")?;
            let data = self.string()?;
            let encoding = if self.eat(b",\"encoding\":\"utf8\"") {
                BodyEncoding::Utf8
            } else {
                self.expect(b",\"encoding\":\"base64\"")?;
                BodyEncoding::Base64
            };
            self.expect(b",\"truncated\":")?;
            let truncated = self.boolean()?;
            self.expect(b"}")?;
            Some(BodyView {
                data,
                encoding,
                truncated,
            })
        };
        self.expect(b"}")?;
        Some((HeaderList(headers), body))
    }

    fn flags(&mut self) -> Option<FlagsView> {
        self.expect(b"{\"discovery_only\":")?;
        let discovery_only = self.boolean()?;
        self.expect(b",\"body_truncated\":")?;
        self.boolean()?;
        self.expect(b",\"partial\":")?;
        self.boolean()?;
        // Written only when set.
        self.eat(b",\"headers_truncated\":true");
        self.eat(b",\"body_lossy\":true");
        self.expect(b"}")?;
        Some(FlagsView { discovery_only })
    }

    /// The execution object, skipped (no collector format reads it), in the writer's shape.
    fn execution(&mut self) -> Option<()> {
        self.expect(b"{")?;
        if self.eat(b"\"extended_request_id\":") {
            self.skip_string()?;
            self.expect(b",")?;
        }
        if self.eat(b"\"error\":") {
            self.skip_string()?;
            self.expect(b",")?;
        }
        self.expect(b"\"authorizer_denied\":")?;
        self.boolean()?;
        self.expect(b",\"throttled\":")?;
        self.boolean()?;
        self.expect(b",\"complete\":")?;
        self.boolean()?;
        if self.eat(b",\"lines\":[") {
            loop {
                self.expect(b"{\"event_id\":")?;
                self.skip_string()?;
                self.expect(b",\"timestamp\":")?;
                self.integer()?;
                self.expect(b",\"message\":")?;
                self.skip_string()?;
                self.expect(b"}")?;
                if self.eat(b"]") {
                    break;
                }
                self.expect(b",")?;
            }
        }
        self.eat(b",\"lines_truncated\":true");
        self.expect(b"}")
    }

    fn boolean(&mut self) -> Option<bool> {
        if self.eat(b"true") {
            Some(true)
        } else {
            self.expect(b"false").map(|()| false)
        }
    }

    /// An integer as the writer writes one: `-`? then `0` or digits without a leading zero,
    /// within i64 (serde_json reads anything longer as a float, which these fields refuse).
    fn integer(&mut self) -> Option<i64> {
        let negative = self.eat(b"-");
        let digits = self.digits();
        // serde_json reads `-0` as a float, which these fields refuse.
        if digits.is_empty()
            || digits.len() > 19
            || (digits.len() > 1 && digits.starts_with('0'))
            || (negative && digits == "0")
        {
            return None;
        }
        // At most 19 digits: fits an i128 whatever they are.
        let magnitude = digits
            .bytes()
            .fold(0i128, |n, d| n * 10 + i128::from(d - b'0'));
        i64::try_from(if negative { -magnitude } else { magnitude }).ok()
    }

    fn optional(&mut self) -> Option<Option<Cow<'a, str>>> {
        if self.eat(b"null") {
            Some(None)
        } else {
            self.string().map(Some)
        }
    }

    fn skip_optional(&mut self) -> Option<()> {
        if self.eat(b"null") {
            Some(())
        } else {
            self.skip_string()
        }
    }

    /// A string: borrowed from the line when it has no escapes, else unescaped into its own.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        match self.string_raw()? {
            (raw, false) => Some(Cow::Borrowed(raw)),
            (raw, true) => unescape(raw).map(Cow::Owned),
        }
    }

    fn skip_string(&mut self) -> Option<()> {
        let (raw, escaped) = self.string_raw()?;
        if escaped {
            // Checked as `string` would read it: a surrogate or a bad escape is serde's to judge.
            unescape(raw)?;
        }
        Some(())
    }
}

/// The text of a JSON string with escapes, unescaped: the one-letter escapes and `\u` of a code
/// point outside the surrogates. A surrogate (half of a pair, or lone) or anything else: `None`.
fn unescape(raw: &str) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(p) = rest.find('\\') {
        out.push_str(rest.get(..p)?);
        let mut chars = rest.get(p + 1..)?.chars();
        let c = match chars.next()? {
            '"' => '"',
            '\\' => '\\',
            '/' => '/',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'u' => {
                let hex = chars.as_str().get(..4)?;
                if !hex.bytes().all(|h| h.is_ascii_hexdigit()) {
                    return None;
                }
                let code = u32::from_str_radix(hex, 16).ok()?;
                // `from_u32` refuses the surrogates, which serde pairs up or rejects.
                let c = char::from_u32(code)?;
                out.push(c);
                rest = chars.as_str().get(4..)?;
                continue;
            }
            _ => return None,
        };
        out.push(c);
        rest = chars.as_str();
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::Transaction;
    use proptest::prelude::*;

    /// What serde_json reads from `line`, as text to compare (the view has no `PartialEq`).
    fn serde_reading(line: &[u8]) -> Option<String> {
        crate::json::from_slice::<RecordView>(line)
            .ok()
            .map(|v| format!("{v:?}"))
    }

    /// When the hand reader takes a line, serde takes it too and reads the same view.
    fn agrees(line: &[u8]) -> Result<bool, TestCaseError> {
        let Some(ours) = read(line) else {
            return Ok(false);
        };
        prop_assert_eq!(
            Some(format!("{ours:?}")),
            serde_reading(line),
            "line {:?}",
            String::from_utf8_lossy(line)
        );
        Ok(true)
    }

    fn line_of(t: &Transaction) -> Vec<u8> {
        let mut line = Vec::new();
        t.write_json(&mut line);
        line
    }

    fn sample() -> Transaction {
        let mut t = crate::transaction::Transaction::new(
            "r-1".into(),
            1_686_411_388_007,
            crate::transaction::Source::default(),
        );
        t.request.method = Some("GET".into());
        t.request.path = Some("/pets/1".into());
        t.request.query = Some("a=\"1\"".into());
        t.request
            .headers
            .insert("user-agent".into(), vec!["curl/8 é \t".into(), "b".into()]);
        t.response.status = Some(200);
        t.response.length = Some(u64::MAX);
        t.execution = Some(crate::transaction::Execution {
            extended_request_id: Some("x".into()),
            lines: vec![crate::transaction::ExecutionLine {
                event_id: "1".into(),
                timestamp: -5,
                message: "body {\"a\":1}\n".into(),
            }],
            ..Default::default()
        });
        t
    }

    #[test]
    fn reads_the_writers_shape_and_borrows_plain_strings() {
        let mut t = sample();
        t.response.length = Some(48);
        let line = line_of(&t);
        let view = read(&line).expect("the writer's own line");
        assert!(matches!(view.id, Cow::Borrowed("r-1")));
        assert!(matches!(view.request.query, Some(Cow::Owned(ref q)) if q == "a=\"1\""));
        assert_eq!(view.response.status, Some(200));
        assert_eq!(view.request.headers.0[0].1.len(), 2);
        assert_eq!(
            Some(format!("{view:?}")),
            serde_reading(&line),
            "same view as serde"
        );
    }

    #[test]
    fn leaves_other_shapes_to_serde() {
        let line = line_of(&sample());
        // u64::MAX has 20 digits: serde reads it, this reader does not.
        assert!(read(&line).is_none());
        assert!(serde_reading(&line).is_some());
        let mut t = sample();
        t.response.length = None;
        let line = String::from_utf8(line_of(&t)).unwrap();
        for (from, to) in [
            ("{\"schema\":", "{ \"schema\":"),
            ("\"time_ms\":1686411388007", "\"time_ms\":1686411388007.0"),
            ("\"time_ms\":1686411388007", "\"time_ms\":01686411388007"),
            ("\"status\":200", "\"status\":70000"),
            ("\"status\":200", "\"status\":-1"),
            ("\"status\":200", "\"status\":-0"),
            ("\"time_ms\":1686411388007", "\"time_ms\":-0"),
            ("curl/8 é", "curl/8 \\u00e9"),
            ("curl/8 é", "curl/8 \\ud83d\\ude00"),
            ("curl/8 é", "curl/8 \\x"),
            ("\"method\":\"GET\"", "\"method\":\"G\u{1}T\""),
        ] {
            let changed = line.replacen(from, to, 1);
            assert_ne!(changed, line, "{from}");
            let took = read(changed.as_bytes());
            assert!(
                took.is_none()
                    || Some(format!("{:?}", took.unwrap())) == serde_reading(changed.as_bytes()),
                "{to}"
            );
        }
        // `\u` of a plain code point is read, as serde reads it.
        let changed = line.replacen("curl/8 é", "curl/8 \\u00e9", 1);
        assert!(read(changed.as_bytes()).is_some());
        // A lone or paired surrogate, a broken escape, a control byte: serde's to judge.
        for to in ["\\ud83d\\ude00", "\\ud83d", "\\x", "\u{1}"] {
            let changed = line.replacen("curl/8 é", to, 1);
            assert!(read(changed.as_bytes()).is_none(), "{to:?}");
        }
        // A cut line, trailing data.
        assert!(read(&line.as_bytes()[..line.len() - 1]).is_none());
        assert!(read(format!("{line} ").as_bytes()).is_none());
        assert!(read(b"").is_none());
    }

    proptest! {
        /// Every record the writer writes is read, and read as serde reads it.
        #[test]
        fn reads_every_written_record(t in crate::transaction::write::tests::record()) {
            let line = line_of(&t);
            let all_fit = t.response.length.is_none_or(|n| n <= i64::MAX as u64)
                && t.response.latency_ms.is_none_or(|n| n <= i64::MAX as u64)
                && t.response.integration_latency_ms.is_none_or(|n| n <= i64::MAX as u64);
            let took = agrees(&line)?;
            // The writer's only `\u` escapes are control bytes; only a number past i64 is left to serde.
            prop_assert_eq!(took, all_fit);
        }

        /// Mutated lines: whatever the reader takes, serde reads alike.
        #[test]
        fn mutated_lines_agree_with_serde(
            t in crate::transaction::write::tests::record(),
            edits in crate::json::cursor::tests::edits(b"\"\\{}[],:0123456789-.eE tfnul/bu \x01\x7f"),
        ) {
            let mut line = line_of(&t);
            crate::json::cursor::tests::mutate(&mut line, &edits);
            agrees(&line)?;
        }

        /// Every prefix of a line is refused (or, were it ever taken, read as serde reads it).
        #[test]
        fn prefixes_are_refused(t in crate::transaction::write::tests::record()) {
            let line = line_of(&t);
            for end in 0..line.len() {
                prop_assert!(!agrees(&line[..end])?, "prefix of {} taken", end);
            }
        }
    }
}
