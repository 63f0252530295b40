//! Access-log lines in JSON: the recommended format, the console templates, and any JSON whose
//! keys name known `$context` variables. Values may be strings or numbers; nested objects are
//! flattened (`{"identity":{"sourceIp":..}}`). A line broken by an unescaped quote (a user agent
//! with `"` in it) is recovered by a lenient scan and flagged `partial`.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::fields::{Fields, Var};
use super::{flat_json, LineError};

/// Parse one JSON line. `Ok((fields, partial))`.
pub fn parse(line: &str) -> Result<(Fields<'_>, bool), LineError> {
    let err = match strict(line) {
        Ok(fields) if fields.count() > 0 => return Ok((fields, false)),
        Ok(_) => return Err(LineError::NoKnownFields),
        Err(e) => e,
    };
    // A template that leaves a number unquoted (`"status":$context.status`) renders an empty
    // variable as a bare `-`: that is API Gateway's "absent", not a broken line.
    if let Some(fixed) = bare_dashes_as_null(line) {
        if let Ok(fields) = strict(&fixed) {
            if fields.count() > 0 {
                return Ok((fields.into_owned(), false));
            }
        }
    }
    lenient(line)
        .map(|f| (f, true))
        .ok_or_else(|| LineError::Json(err.to_string()))
}

fn strict(line: &str) -> Result<Fields<'_>, crate::json::Error> {
    thread_local! {
        static MEMO: RefCell<KeyMemo> = const { RefCell::new(KeyMemo(Vec::new())) };
    }
    // Borrowed once per line, not once per key: a line has two dozen keys.
    MEMO.with(|memo| {
        let mut memo = memo.try_borrow_mut().ok();
        let key = |position, key: &str| top_level_key(memo.as_deref_mut(), position, key);
        match flat_json::scan(line, key) {
            Some(fields) => Ok(fields),
            None => strict_with(line, memo.as_deref_mut()),
        }
    })
}

fn strict_with<'a>(
    line: &'a str,
    memo: Option<&mut KeyMemo>,
) -> Result<Fields<'a>, crate::json::Error> {
    let mut fields = Fields::default();
    let mut de = crate::json::deserializer(line);
    (ObjectSeed {
        fields: &mut fields,
        prefix: None,
        memo,
    })
    .deserialize(&mut de)
    .and_then(|()| de.end())?;
    Ok(fields)
}

/// `"key": -,` → `"key": null,` outside strings; `None` when there is no such value.
fn bare_dashes_as_null(line: &str) -> Option<String> {
    let b = line.as_bytes();
    let mut out = String::with_capacity(line.len() + 16);
    let mut in_str = false;
    let mut escaped = false;
    let mut changed = false;
    let mut last = 0;
    for (i, &c) in b.iter().enumerate() {
        if in_str {
            match c {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            b'"' => in_str = true,
            b'-' => {
                let before = line[..i].trim_end();
                let after = line[i + 1..].trim_start();
                if before.ends_with(':') && (after.starts_with(',') || after.starts_with('}')) {
                    out.push_str(&line[last..i]);
                    out.push_str("null");
                    last = i + 1;
                    changed = true;
                }
            }
            _ => {}
        }
    }
    out.push_str(&line[last..]);
    changed.then_some(out)
}

/// Deserializes one JSON object into `fields`, keys under `prefix` when nested.
struct ObjectSeed<'f, 'a> {
    fields: &'f mut Fields<'a>,
    prefix: Option<String>,
    /// The top-level keys' memo (none for nested objects, whose keys are prefixed).
    memo: Option<&'f mut KeyMemo>,
}

impl<'de> DeserializeSeed<'de> for ObjectSeed<'_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ObjectSeed<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        let mut position = 0;
        while let Some(key) = map.next_key::<crate::json::Text>()? {
            let (full, var): (Cow<str>, _) = match &self.prefix {
                Some(p) => {
                    let full = format!("{p}.{}", key.0);
                    let var = Var::from_key(&full);
                    (Cow::Owned(full), var)
                }
                None => {
                    let (var, names_text) =
                        top_level_key(self.memo.as_deref_mut(), position, &key.0);
                    self.fields.names_text |= names_text;
                    (key.0, var)
                }
            };
            position += 1;
            map.next_value_seed(ValueSeed {
                fields: self.fields,
                key: full,
                var,
            })?;
        }
        Ok(())
    }
}

/// Top-level keys under which a delivered execution-log event carries its line: `payload` (our
/// delivery's shape) and the lenient message keys of `execution::delivery` (a test there keeps
/// the two lists equal). A JSON line with none of them is no delivered event.
pub const LINE_TEXT_KEYS: &[&str] = &[
    "payload",
    "message",
    "Message",
    "msg",
    "logMessage",
    "log",
    "event_message",
];

/// What each position's top-level key meant in the last lines: (key, variable, is a text key).
struct KeyMemo(Vec<(String, Option<Var>, bool)>);

/// What a top-level key means: the variable it names, and whether it is a delivered event's text
/// key. Lines of one log group repeat their keys in the same order, so the answer is remembered by
/// the key's position: a line then costs one comparison per key instead of a lookup.
fn top_level_key(memo: Option<&mut KeyMemo>, position: usize, key: &str) -> (Option<Var>, bool) {
    /// Positions remembered; keys past it are looked up every time.
    const MEMO_KEYS: usize = 64;
    let lookup = |key: &str| (Var::from_key(key), LINE_TEXT_KEYS.contains(&key));
    let Some(KeyMemo(memo)) = memo.filter(|_| position < MEMO_KEYS) else {
        return lookup(key);
    };
    if let Some((k, var, text)) = memo.get(position) {
        if same_key(k.as_bytes(), key.as_bytes()) {
            return (*var, *text);
        }
    }
    let (var, text) = lookup(key);
    let len = memo.len();
    match memo.get_mut(position) {
        Some(slot) => {
            slot.0.clear();
            slot.0.push_str(key);
            slot.1 = var;
            slot.2 = text;
        }
        None if len == position => memo.push((key.to_string(), var, text)),
        None => {}
    }
    (var, text)
}

/// `a == b` for keys, without a call to `memcmp` for the short ones (that call was a third of
/// the memo's cost): two overlapping word loads from each end cover every byte.
#[inline]
fn same_key(a: &[u8], b: &[u8]) -> bool {
    fn word<const N: usize>(s: &[u8], at: usize) -> Option<[u8; N]> {
        s.get(at..).and_then(|s| s.first_chunk::<N>()).copied()
    }
    let n = a.len();
    if n != b.len() {
        return false;
    }
    match n {
        0 => true,
        // Bytes 0, n/2 and n-1 are every byte of a key this short.
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..=7 => word::<4>(a, 0) == word::<4>(b, 0) && word::<4>(a, n - 4) == word::<4>(b, n - 4),
        8..=16 => word::<8>(a, 0) == word::<8>(b, 0) && word::<8>(a, n - 8) == word::<8>(b, n - 8),
        _ => a == b,
    }
}

struct ValueSeed<'f, 'k, 'a> {
    fields: &'f mut Fields<'a>,
    /// Kept only to prefix the keys of a nested object.
    key: Cow<'k, str>,
    var: Option<Var>,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_, '_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_, '_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<(), E> {
        if let Some(var) = self.var {
            self.fields.set(var, v);
        }
        Ok(())
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<(), E> {
        if let Some(var) = self.var {
            self.fields.set(var, v.to_string());
        }
        Ok(())
    }
    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<(), E> {
        if let Some(var) = self.var {
            self.fields.set(var, v);
        }
        Ok(())
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<(), E> {
        if let Some(var) = self.var {
            self.fields.set(var, v.to_string());
        }
        Ok(())
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<(), E> {
        if let Some(var) = self.var {
            self.fields.set(var, v.to_string());
        }
        Ok(())
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<(), E> {
        if let Some(var) = self.var {
            self.fields.set(var, v.to_string());
        }
        Ok(())
    }
    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<(), E> {
        if let Some(var) = self.var {
            self.fields.set(var, v.to_string());
        }
        Ok(())
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        ObjectSeed {
            fields: self.fields,
            prefix: Some(self.key.into_owned()),
            memo: None,
        }
        .visit_map(map)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
}

/// Recover `"key": value` pairs from a line that is not valid JSON. A key is a quoted identifier
/// followed by `:`; its value runs to the `,` before the next key (or the closing `}`), so an
/// unescaped quote inside a value does not end it.
fn lenient(line: &str) -> Option<Fields<'_>> {
    let b = line.as_bytes();
    let mut keys: Vec<(usize, usize, usize)> = Vec::new(); // (key start, key end, value start)
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'"' {
            i += 1;
            continue;
        }
        let start = i + 1;
        let mut j = start;
        while j < b.len()
            && (b[j].is_ascii_alphanumeric() || matches!(b[j], b'_' | b'.' | b'-' | b'$'))
        {
            j += 1;
        }
        if j > start && j < b.len() && b[j] == b'"' {
            let mut k = j + 1;
            while k < b.len() && b[k].is_ascii_whitespace() {
                k += 1;
            }
            if k < b.len() && b[k] == b':' {
                let mut v = k + 1;
                while v < b.len() && b[v].is_ascii_whitespace() {
                    v += 1;
                }
                keys.push((start, j, v));
                i = v;
                continue;
            }
        }
        i = start;
    }
    let mut fields = Fields::default();
    let mut known = 0;
    for (n, &(ks, ke, vs)) in keys.iter().enumerate() {
        let end = keys.get(n + 1).map_or(b.len(), |next| next.0 - 1);
        let raw = line.get(vs..end)?.trim_end();
        let raw = raw
            .strip_suffix(',')
            .or_else(|| raw.strip_suffix('}'))
            .unwrap_or(raw)
            .trim_end();
        let raw = if n + 1 == keys.len() {
            raw.strip_suffix('}').unwrap_or(raw).trim_end()
        } else {
            raw
        };
        let value = match raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
            Some(inner) => unescape(inner),
            None => Cow::Borrowed(raw),
        };
        if let Some(var) = Var::from_key(line.get(ks..ke)?) {
            fields.set(var, value);
            known += 1;
        }
    }
    // One stray pair is not a record.
    (known >= 2 && fields.is_api_traffic()).then_some(fields)
}

fn unescape(inner: &str) -> Cow<'_, str> {
    if !inner.contains('\\') {
        return Cow::Borrowed(inner);
    }
    serde_json::from_str::<String>(&format!("\"{inner}\"")).map_or(Cow::Borrowed(inner), Cow::Owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Real lines: the elastic/integrations apigateway_logs test pipeline.
    const REST: &str = r#"{"requestId":"c12d1542-b79e-4e79-a158-fdf36452a81b","ip":"1.128.0.0","caller":"-","user":"-","requestTime":"26/Jul/2023:12:07:03 +0000","httpMethod":"GET","resourcePath":"/pets/{petId}","status":"200","protocol":"HTTP/1.1","responseLength":"48","stage":"prod","apiId":"asad15n3p0","domainName":"asad15n3p0.execute-api.us-east-1.amazonaws.com"}"#;

    #[test]
    fn rest_line() {
        let (f, partial) = parse(REST).unwrap();
        assert!(!partial);
        assert_eq!(
            f.get(Var::RequestId),
            Some("c12d1542-b79e-4e79-a158-fdf36452a81b")
        );
        assert_eq!(f.get(Var::ResourcePath), Some("/pets/{petId}"));
        assert_eq!(f.get(Var::Caller), None);
        assert_eq!(f.get(Var::Status), Some("200"));
        assert_eq!(f.get(Var::ApiId), Some("asad15n3p0"));
    }

    #[test]
    fn numbers_and_nesting() {
        let (f, _) = parse(r#"{"requestId":"r1","status":404,"responseLatency":12.5,"identity":{"sourceIp":"2001:db8::1"},"tags":[1,2]}"#).unwrap();
        assert_eq!(f.get(Var::Status), Some("404"));
        assert_eq!(f.get(Var::ResponseLatency), Some("12.5"));
        assert_eq!(f.get(Var::SourceIp), Some("2001:db8::1"));
    }

    #[test]
    fn unescaped_quote_in_user_agent_is_recovered() {
        let line = r#"{"requestId":"abc-1","ip":"1.2.3.4","userAgent":"Mozilla/5.0 "Fancy" Bot, v2","httpMethod":"GET","status":"200","path":"/x"}"#;
        assert!(serde_json::from_str::<serde_json::Value>(line).is_err());
        let (f, partial) = parse(line).unwrap();
        assert!(partial);
        assert_eq!(
            f.get(Var::UserAgent),
            Some(r#"Mozilla/5.0 "Fancy" Bot, v2"#)
        );
        assert_eq!(f.get(Var::Status), Some("200"));
        assert_eq!(f.get(Var::Path), Some("/x"));
    }

    #[test]
    fn keys_are_read_right_whatever_the_order_of_the_lines_before() {
        // The memo keeps the key seen at each position; lines that reorder, rename or drop keys
        // in turn must each be read from their own keys.
        let lines = [
            r#"{"requestId":"a","status":"200","path":"/x"}"#,
            r#"{"status":"404","requestId":"b","path":"/y"}"#,
            r#"{"path":"/z","ip":"1.2.3.4","requestId":"c","status":"500"}"#,
            r#"{"requestId":"d","status":"201","path":"/w"}"#,
            r#"{"requestId":"e","statusCode":"202","uri":"/v"}"#,
        ];
        for _ in 0..2 {
            for (line, (id, status, path)) in lines.iter().zip([
                ("a", "200", "/x"),
                ("b", "404", "/y"),
                ("c", "500", "/z"),
                ("d", "201", "/w"),
                ("e", "202", "/v"),
            ]) {
                let (f, _) = parse(line).unwrap();
                assert_eq!(f.get(Var::RequestId), Some(id), "{line}");
                assert_eq!(f.get(Var::Status), Some(status), "{line}");
                assert_eq!(f.get(Var::Path), Some(path), "{line}");
                assert!(!f.names_text, "{line}");
            }
        }
        assert_eq!(
            parse(lines[2]).unwrap().0.get(Var::SourceIp),
            Some("1.2.3.4")
        );
    }

    #[test]
    fn a_key_that_carries_a_delivered_line_is_noted() {
        for line in [
            r#"{"requestId":"a","status":"200","message":"(a) Method completed with status: 200"}"#,
            r#"{"api_id":"a1","stage":"prod","http_method":"GET","resource_path":"/x","payload":"(a) x"}"#,
        ] {
            assert!(parse(line).unwrap().0.names_text, "{line}");
        }
        // Nested keys are not the object's own.
        let (f, _) =
            parse(r#"{"requestId":"a","status":"200","path":"/x","ctx":{"message":"m"}}"#).unwrap();
        assert!(!f.names_text);
    }

    /// The flat scan, where it answers, reads a line as serde_json does.
    fn same_as_serde(line: &str) -> bool {
        match flat_json::scan(line, |position, key| top_level_key(None, position, key)) {
            Some(flat) => {
                let serde = strict_with(line, None);
                assert_eq!(serde.as_ref().ok(), Some(&flat), "{line}");
                true
            }
            None => false,
        }
    }

    #[test]
    fn the_flat_scan_reads_plain_lines_as_serde_does() {
        for line in [
            REST,
            r#"{"requestId":"a","status":200,"path":"/x","ok":true,"no":false,"n":null}"#,
            r#"{ "requestId" : "a" , "status" : 0 , "message" : "m" }"#,
            r#"{"requestId":"a","status":"200","path":"/x","ua":"Mozilla/5.0 (X11; Linux) é ✓"}"#,
            r#"{"requestId":"a","requestId":"b","status":"-","path":" /x "}"#,
            "{}",
        ] {
            assert!(same_as_serde(line), "{line}");
        }
        // Everything else is left to serde_json, valid or not.
        for line in [
            r#"{"requestId":"a\"b","status":"200"}"#,
            r#"{"requestId":"a","latency":12.5}"#,
            r#"{"requestId":"a","latency":1e3}"#,
            r#"{"requestId":"a","latency":-1}"#,
            r#"{"requestId":"a","latency":007}"#,
            r#"{"requestId":"a","identity":{"sourceIp":"1.2.3.4"}}"#,
            r#"{"requestId":"a","tags":[1]}"#,
            "{\"requestId\":\"a\",\t\"status\":\"200\"}",
            r#"{"requestId":"a",}"#,
            r#"{"requestId":"a"} x"#,
            r#"{"requestId":"a","status":-}"#,
            r#"{"requestId":"a","ua":"x "Bot" y"}"#,
            r#"{"requestId":"a","status":truth}"#,
            r#"{"requestId" "a"}"#,
            // An escape or a control byte in the last bytes of a long line.
            r#"{"requestId":"a","status":"200","path":"/x","userAgent":"curl/8.4.0 \"x\""}"#,
            "{\"requestId\":\"a\",\"status\":\"200\",\"path\":\"/x\",\"userAgent\":\"curl\u{7}\"}",
        ] {
            assert!(!same_as_serde(line), "{line}");
        }
    }

    proptest::proptest! {
        /// Lines cut and spliced with JSON's syntax bytes: whenever the flat scan takes one, it
        /// reads it as serde_json does (which also means serde_json accepts it).
        #[test]
        fn the_flat_scan_never_disagrees_with_serde(
            edits in proptest::collection::vec(
                (0usize..400, proptest::sample::select(vec![
                    "", "\"", "\\", "{", "}", "[", ":", ",", " ", "0", "12", "-", ".", "e",
                    "true", "nul", "\"x\":", "\u{1}", "é",
                ]), 0usize..3),
                0..4,
            )
        ) {
            let mut line = REST.to_string();
            for (at, text, cut) in edits {
                let mut at = at.min(line.len());
                while !line.is_char_boundary(at) {
                    at -= 1;
                }
                let mut end = (at + cut).min(line.len());
                while !line.is_char_boundary(end) {
                    end += 1;
                }
                line.replace_range(at..end, text);
            }
            same_as_serde(&line);
        }
    }

    proptest::proptest! {
        /// Flat objects of every value kind the scan takes (and some it leaves), read through
        /// `strict` (the scan, with the key memo of the lines before) and through serde_json
        /// alone: the same fields.
        #[test]
        fn strict_reads_flat_objects_as_serde_json_alone_does(
            lines in proptest::collection::vec(
                proptest::collection::vec(
                    (
                        proptest::sample::select(vec![
                            "requestId", "status", "path", "ip", "message", "responseLength",
                            "userAgent", "x", "", "requestTimeEpoch", "httpMethod",
                        ]),
                        proptest::sample::select(vec![
                            "\"a\"", "\"-\"", "\" b \"", "\"é ✓\"", "\"\"", "0", "7", "404",
                            "18446744073709551615", "-3", "1.5", "2e3", "true", "false", "null",
                            "\"GET\"", "\"a\\\"b\"", "{\"sourceIp\":\"1.2.3.4\"}", "[1]",
                        ]),
                        proptest::sample::select(vec!["", " "]),
                    ),
                    0..8,
                ),
                1..4,
            )
        ) {
            for pairs in lines {
                let body: Vec<String> = pairs
                    .iter()
                    .map(|(k, v, sp)| format!("{sp}\"{k}\"{sp}:{sp}{v}{sp}"))
                    .collect();
                let line = format!("{{{}}}", body.join(","));
                proptest::prop_assert_eq!(strict(&line).ok(), strict_with(&line, None).ok(), "{}", line);
            }
        }
    }

    #[test]
    fn same_key_is_equality() {
        let keys = [
            "",
            "a",
            "ab",
            "abc",
            "abcd",
            "abcdefg",
            "abcdefgh",
            "requestId",
            "abcdefghijklmnop",
            "abcdefghijklmnopq",
        ];
        for a in keys {
            for b in keys {
                assert_eq!(same_key(a.as_bytes(), b.as_bytes()), a == b, "{a} {b}");
            }
            // One byte changed anywhere.
            for i in 0..a.len() {
                let mut c = a.as_bytes().to_vec();
                c[i] ^= 1;
                assert!(!same_key(a.as_bytes(), &c), "{a} {i}");
            }
        }
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse(r#"{"a": 1"#).is_err());
        assert!(matches!(
            parse(r#"{"colour":"red"}"#),
            Err(LineError::NoKnownFields)
        ));
    }
}
