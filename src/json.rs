//! The JSON codec of the record paths, in one place. Records are written with sonic-rs, whose SIMD
//! escaping serialized our records 1.4x faster than serde_json in the same run
//! (`cargo bench --bench decode -- codec`; docs/performance.md). Parsing stays on serde_json: sonic-rs
//! measured no faster at it on this target (x86_64 without AVX2 at compile time), and serde_json's
//! raw-bytes strings let one invalid UTF-8 message be decoded lossily instead of failing a payload.
//! Both speak serde, so the record types and visitors do not depend on the choice.

pub use serde_json::Error;

use std::borrow::Cow;

/// A JSON string borrowed from the input when it has no escapes. serde borrows a bare `Cow<str>`
/// field marked `borrow`, but copies one inside an `Option`, a `Vec` or a map key; this newtype
/// borrows there too.
#[derive(Debug, serde::Deserialize)]
#[serde(transparent)]
pub struct Text<'a>(#[serde(borrow)] pub Cow<'a, str>);

/// `value` as JSON appended to `out`.
pub fn append<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Plain data (strings, numbers, maps with string keys) written to a Vec cannot fail.
    let _ = sonic_rs::to_writer(&mut *out, value);
}

/// `value` as JSON.
pub fn to_vec<T: serde::Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    append(&mut out, value);
    out
}

/// A value from JSON text, strings borrowed from it where the type allows.
pub fn from_slice<'a, T: serde::Deserialize<'a>>(json: &'a [u8]) -> Result<T, Error> {
    serde_json::from_slice(json)
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
    fn append_writes_json() {
        let mut out = b"x".to_vec();
        append(&mut out, &serde_json::json!({"a": "q\"\n", "b": [1, 2]}));
        let back: serde_json::Value = serde_json::from_slice(&out[1..]).unwrap();
        assert_eq!(back, serde_json::json!({"a": "q\"\n", "b": [1, 2]}));
    }
}
