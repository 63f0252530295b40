//! A cursor over JSON text whose shape is known in advance, for the hand readers of our own
//! output (a frame line in the decoder's shape, a UAP window in our encoder's): fixed tokens are
//! matched as bytes and strings found 16 bytes at a time. Anything unexpected is `None`, and the
//! caller takes serde_json instead.

use super::scan16;

pub(crate) struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Cursor { text, at: 0 }
    }

    /// Every byte has been read.
    pub(crate) fn is_at_end(&self) -> bool {
        self.at == self.text.len()
    }

    /// Consume `token` if the text goes on with it.
    pub(crate) fn eat(&mut self, token: &[u8]) -> bool {
        let on = self
            .text
            .as_bytes()
            .get(self.at..)
            .is_some_and(|b| b.starts_with(token));
        if on {
            self.at += token.len();
        }
        on
    }

    pub(crate) fn expect(&mut self, token: &[u8]) -> Option<()> {
        self.eat(token).then_some(())
    }

    /// The ASCII digits at the cursor (maybe none), consumed.
    pub(crate) fn digits(&mut self) -> &'a str {
        let rest = self.text.get(self.at..).unwrap_or_default();
        let n = rest.bytes().take_while(u8::is_ascii_digit).count();
        self.at += n;
        // ASCII digits: `n` is a character boundary.
        &rest[..n]
    }

    /// The string at the cursor: its text between the quotes, as written, and whether it has
    /// escapes (judging them is the caller's). A raw control byte or no closing quote: `None`.
    pub(crate) fn string_raw(&mut self) -> Option<(&'a str, bool)> {
        self.expect(b"\"")?;
        let b = self.text.as_bytes();
        let start = self.at;
        let mut escaped = false;
        let mut at = start;
        // 16 bytes at a time to the first quote, backslash or control byte. Past an escape the
        // scan starts again after the escaped byte.
        while at < b.len() {
            let m = scan16::masks(&scan16::load(b, at));
            let special = m.quotes | m.backslashes | m.controls;
            if special == 0 {
                at += 16;
                continue;
            }
            let p = at + special.trailing_zeros() as usize;
            match b.get(p)? {
                b'"' => {
                    self.at = p + 1;
                    return Some((self.text.get(start..p)?, escaped));
                }
                b'\\' => {
                    escaped = true;
                    at = p + 2;
                }
                _ => return None,
            }
        }
        None
    }

    /// A string without escapes, borrowed (the embedded receiver's reader; the CLI builds it).
    #[cfg(any(feature = "cli", test))]
    pub(crate) fn plain_string(&mut self) -> Option<&'a str> {
        match self.string_raw()? {
            (text, false) => Some(text),
            (_, true) => None,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use proptest::prelude::*;

    /// Up to three byte edits (insert, remove, replace) from `alphabet`, for mutation tests.
    pub(crate) fn edits(
        alphabet: &'static [u8],
    ) -> impl Strategy<Value = Vec<(prop::sample::Index, u8, u8)>> {
        proptest::collection::vec(
            (
                any::<prop::sample::Index>(),
                0u8..3,
                prop::sample::select(alphabet.to_vec()),
            ),
            1..4,
        )
    }

    /// `text` with `edits` applied.
    pub(crate) fn mutate(text: &mut Vec<u8>, edits: &[(prop::sample::Index, u8, u8)]) {
        for &(ref at, kind, byte) in edits {
            let i = at.index(text.len() + 1);
            match kind {
                0 => text.insert(i, byte),
                1 if i < text.len() => {
                    text.remove(i);
                }
                _ if i < text.len() => text[i] = byte,
                _ => text.push(byte),
            }
        }
    }

    #[test]
    fn strings_digits_and_tokens() {
        let mut c = super::Cursor::new(r#""a\"b","c",12x"#);
        assert_eq!(c.string_raw(), Some((r#"a\"b"#, true)));
        assert!(c.eat(b","));
        assert_eq!(c.plain_string(), Some("c"));
        assert!(c.expect(b",").is_some());
        assert_eq!(c.digits(), "12");
        assert_eq!(c.digits(), "");
        assert!(!c.is_at_end());
        assert!(c.eat(b"x") && c.is_at_end());
        for bad in ["\"a", "\"a\u{1}\"", "\"a\\", "x"] {
            assert_eq!(super::Cursor::new(bad).string_raw(), None, "{bad:?}");
        }
        assert_eq!(super::Cursor::new(r#""a\"""#).plain_string(), None);
    }
}
