//! The JSON codec of the record paths, in one place. Records and UAP objects are written by hand
//! (`transaction/write.rs`, byte for byte serde_json's output, and `ship/bridge/uap.rs`), their
//! strings escaped by `json/escape.rs`; through serde's per-field calls even sonic-rs, which
//! serialized our records 1.4x faster than serde_json (`cargo bench --bench decode -- codec`),
//! left a fifth of the decode Lambda's time and a third of the shipper's in writing.
//! Queued lines in the decoder's own shape are read by hand too (`ship/bridge/view/canonical.rs`).
//! CloudWatch's own LogData shape is read by `decode/logs/envelope.rs`. Parsing stays on serde_json, from
//! `&str` after one UTF-8 check of the whole text. sonic-rs measured no faster at records and lines
//! on this target (x86_64 without AVX2 at compile time). It read LogData about a sixth faster, but
//! its skipping of unknown fields does not check escapes (`"\uZZZZ"` passes), so malformed
//! payloads would decode where serde_json refuses them. serde_json's raw-bytes strings also let
//! one invalid UTF-8 message be decoded lossily instead of failing a payload.
//! Both speak serde, so the record types and visitors do not depend on the choice.

pub use serde_json::Error;

pub(crate) mod cursor;
pub(crate) mod escape;
pub(crate) mod scan16;

use std::borrow::Cow;

/// A JSON string borrowed from the input when it has no escapes. serde borrows a bare `Cow<str>`
/// field marked `borrow`, but copies one inside an `Option`, a `Vec` or a map key; this newtype
/// borrows there too.
#[derive(Debug, serde::Deserialize)]
#[serde(transparent)]
pub struct Text<'a>(#[serde(borrow)] pub Cow<'a, str>);

/// A value from JSON text, strings borrowed from it where the type allows.
pub fn from_slice<'a, T: serde::Deserialize<'a>>(json: &'a [u8]) -> Result<T, Error> {
    // One UTF-8 check of the whole text (SIMD in std for ASCII) spares serde_json one check per
    // string: an 800-byte record parsed a third faster. Invalid text takes the byte path, which
    // names the position (and lets a bytes visitor take its lossy route).
    match std::str::from_utf8(json) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(json),
    }
}

/// The lines of `text` (split at `\n`, found with memchr: `split` on a byte goes one byte at a
/// time, which cost a frame of 800-byte records 0.3 µs a line).
pub fn lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut start = 0;
    memchr::memchr_iter(b'\n', text)
        .chain(std::iter::once(text.len()))
        .map(move |end| {
            let line = &text[start..end];
            start = end + 1;
            line
        })
}

/// A deserializer over one JSON text, for seeds (`DeserializeSeed`) that fill a value in place.
pub fn deserializer(json: &str) -> serde_json::Deserializer<serde_json::de::StrRead<'_>> {
    serde_json::Deserializer::from_str(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_borrows_unless_escaped_in_lists_and_options() {
        let (plain, escaped): (Vec<Text>, Option<Text>) =
            from_slice(br#"[["a", "b"], "c\"d"]"#).unwrap();
        assert!(plain.iter().all(|t| matches!(t.0, Cow::Borrowed(_))));
        assert_eq!(plain[1].0, "b");
        let escaped = escaped.unwrap();
        assert!(matches!(escaped.0, Cow::Owned(_)));
        assert_eq!(escaped.0, "c\"d");
    }

    #[test]
    fn lines_are_split_at_newlines_like_split() {
        for text in [&b""[..], b"a", b"a\n", b"\n\nb\nc", b"{\"x\":1}\r\n{}\n\n"] {
            let ours: Vec<&[u8]> = lines(text).collect();
            let split: Vec<&[u8]> = text.split(|b| *b == b'\n').collect();
            assert_eq!(ours, split, "{:?}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn from_slice_reads_invalid_utf8_the_byte_way() {
        // Valid text: the str path, strings borrowed.
        let t: Text = from_slice(br#""abc""#).unwrap();
        assert!(matches!(t.0, Cow::Borrowed("abc")));
        // Invalid UTF-8 in a string: the same error serde_json gives, with its position.
        let bad = b"[\"ok\", \"\xff\"]";
        let ours = from_slice::<Vec<String>>(bad).unwrap_err().to_string();
        let theirs = serde_json::from_slice::<Vec<String>>(bad)
            .unwrap_err()
            .to_string();
        assert_eq!(ours, theirs);
        // A bytes visitor still gets the raw bytes.
        let raw: Vec<serde_bytes_like::Raw> = from_slice(b"[\"\xff\"]").unwrap();
        assert_eq!(raw[0].0, vec![0xff]);
    }

    mod serde_bytes_like {
        pub struct Raw(pub Vec<u8>);
        impl<'de> serde::Deserialize<'de> for Raw {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Raw, D::Error> {
                struct V;
                impl serde::de::Visitor<'_> for V {
                    type Value = Raw;
                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str("bytes")
                    }
                    fn visit_bytes<E>(self, v: &[u8]) -> Result<Raw, E> {
                        Ok(Raw(v.to_vec()))
                    }
                }
                d.deserialize_bytes(V)
            }
        }
    }
}
