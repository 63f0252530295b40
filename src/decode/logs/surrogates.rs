//! JSON text inside a log event (a delivered execution-log event, a JSON access-log line) may carry
//! `\uXXXX` escapes of lone UTF-16 surrogates (`"\udc80"`), which a strict JSON parser refuses
//! whole. Rather than lose the event, such escapes are replaced by `\ufffd` (U+FFFD, the
//! replacement character), as invalid UTF-8 is: the text is kept lossily, and the record flagged.

use memchr::memchr_iter;

/// The JSON text with every escape of a lone surrogate replaced by `\ufffd`, or `None` when it
/// has none (the common case: no allocation). Only `\u` escapes are touched; an escaped backslash
/// (`\\udc80`, the text `\udc80`) is left alone.
pub fn repair_lone_surrogates(json: &str) -> Option<String> {
    let b = json.as_bytes();
    // Cheap check first: no `\u` followed by d/D, no surrogate escape.
    if !memchr_iter(b'\\', b)
        .any(|i| b.get(i + 1) == Some(&b'u') && matches!(b.get(i + 2), Some(b'd' | b'D')))
    {
        return None;
    }
    let mut out: Option<String> = None;
    let mut copied = 0; // bytes of `json` already in `out`
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        if b.get(i + 1) != Some(&b'u') {
            // Any other escape: two bytes (`\\`, `\"`, `\n`…).
            i += 2;
            continue;
        }
        let Some(n) = hex4(b, i + 2) else {
            i += 2;
            continue;
        };
        let lone = match n {
            0xD800..=0xDBFF => {
                // A high surrogate must be followed at once by an escaped low one.
                let low = (b.get(i + 6) == Some(&b'\\') && b.get(i + 7) == Some(&b'u'))
                    .then(|| hex4(b, i + 8))
                    .flatten();
                if matches!(low, Some(0xDC00..=0xDFFF)) {
                    i += 12;
                    continue;
                }
                true
            }
            0xDC00..=0xDFFF => true,
            _ => false,
        };
        if lone {
            let o = out.get_or_insert_with(|| String::with_capacity(json.len()));
            o.push_str(&json[copied..i]);
            o.push_str("\\ufffd");
            copied = i + 6;
        }
        i += 6;
    }
    let mut o = out?;
    o.push_str(&json[copied..]);
    Some(o)
}

fn hex4(b: &[u8], at: usize) -> Option<u32> {
    let digits = b.get(at..at + 4)?;
    let text = std::str::from_utf8(digits).ok()?;
    u32::from_str_radix(text, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lone_surrogates_become_replacement_characters() {
        let j = r#"{"message":"a\udc80b\uD800","x":"\ud83d\ude00"}"#;
        let fixed = repair_lone_surrogates(j).unwrap();
        assert_eq!(fixed, r#"{"message":"a\ufffdb\ufffd","x":"\ud83d\ude00"}"#);
        let v: serde_json::Value = serde_json::from_str(&fixed).unwrap();
        assert_eq!(v["message"], "a\u{fffd}b\u{fffd}");
        assert_eq!(v["x"], "😀");
        assert!(serde_json::from_str::<serde_json::Value>(j).is_err());
    }

    #[test]
    fn text_without_lone_surrogates_is_left_alone() {
        assert_eq!(
            repair_lone_surrogates(r#"{"a":"\ud83d\ude00 \u00e9"}"#),
            None
        );
        // An escaped backslash followed by `udc80` is text, not an escape.
        assert_eq!(repair_lone_surrogates(r#"{"a":"\\udc80"}"#), None);
        assert_eq!(repair_lone_surrogates("plain \\u"), None);
        assert_eq!(repair_lone_surrogates("é\\udc8"), None);
    }
}
