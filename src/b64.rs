//! Base64 (standard alphabet) for the large bodies: subscription payloads, SQS frames and the
//! generator's events. `base64-simd` picks AVX2, SSE4.1 or NEON at run time, about 5× the
//! `base64` crate on a 200 KB payload (and its callers no longer scan the alphabet first).
//! UAP's header values and bodies are appended straight into the object being written.

use base64_simd::{STANDARD, STANDARD_NO_PAD};

/// Why a text is not base64, naming the first offending byte when there is one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("invalid base64 character {byte:#04x} at offset {offset}")]
    Character { byte: u8, offset: usize },
    #[error("invalid base64: its length, padding or last character ({len} characters)")]
    Length { len: usize },
}

/// Decode standard base64, padding optional (CloudWatch pads; some tools, and
/// `aws_lambda_events`' serializer, do not).
pub fn decode(text: &[u8]) -> Result<Vec<u8>, Error> {
    // Up to two `=` end the text whatever its length (the `base64` crate's "indifferent" padding
    // took `QQ=` too); what is left must be unpadded base64.
    let pad = text
        .iter()
        .rev()
        .take(2)
        .take_while(|b| **b == b'=')
        .count();
    STANDARD_NO_PAD
        .decode_to_vec(&text[..text.len() - pad])
        .map_err(|_| explain(text))
}

/// Encode as standard base64 with padding.
pub fn encode(bytes: &[u8]) -> String {
    STANDARD.encode_to_string(bytes)
}

/// Standard base64 with padding appended to `out`, with no string of its own on the way.
pub fn append(out: &mut Vec<u8>, bytes: &[u8]) {
    STANDARD.encode_append(bytes, out);
}

/// The error of a text the decoder refused: its first byte outside the alphabet, else its shape.
fn explain(text: &[u8]) -> Error {
    // Padding is only allowed at the end: before it, only the alphabet.
    let body = text.len() - text.iter().rev().take_while(|b| **b == b'=').count();
    match text[..body]
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/')))
    {
        Some(offset) => Error::Character {
            byte: text[offset],
            offset,
        },
        None => Error::Length { len: text.len() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    #[test]
    fn agrees_with_the_base64_crate_padded_or_not() {
        let reference = base64::engine::general_purpose::STANDARD;
        for len in 0..70usize {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let padded = reference.encode(&bytes);
            assert_eq!(encode(&bytes), padded);
            assert_eq!(
                decode(padded.as_bytes()).unwrap(),
                bytes,
                "padded, {len} bytes"
            );
            let bare = padded.trim_end_matches('=');
            assert_eq!(
                decode(bare.as_bytes()).unwrap(),
                bytes,
                "unpadded, {len} bytes"
            );
        }
    }

    #[test]
    fn names_the_first_bad_character() {
        assert_eq!(
            decode(b"H4sI!AAA"),
            Err(Error::Character {
                byte: b'!',
                offset: 4
            })
        );
        assert_eq!(
            decode(b"ab=c"),
            Err(Error::Character {
                byte: b'=',
                offset: 2
            })
        );
        // Five characters cannot be base64 whatever they are.
        assert_eq!(decode(b"abcde"), Err(Error::Length { len: 5 }));
        assert!(decode(b"a===").is_err());
        assert!(decode(b"QQ===").is_err());
        // Partial padding, as the `base64` crate's indifferent mode took it.
        assert_eq!(decode(b"QQ=").unwrap(), b"A");
        assert_eq!(decode(b"QUJDRA=").unwrap(), b"ABCD");
        let msg = decode("é".as_bytes()).unwrap_err().to_string();
        assert!(msg.contains("0xc3") && msg.contains("offset 0"), "{msg}");
    }
}
