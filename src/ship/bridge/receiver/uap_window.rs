//! A UAP window checked by hand when it is exactly what our encoder writes (`uap.rs`: keys in
//! that order, no spaces, no escapes). It makes the checks `validate_uap` makes, while reading:
//! through serde, checking the windows was the embedded receiver's whole cost, a tenth of
//! `local`'s CPU. Anything else (a check that fails, another shape, an escape) gives `None`, and
//! the window takes serde's path, which names what is wrong. Whatever this takes, serde takes
//! with the same ids (a property test holds the two together).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use crate::json::cursor::Cursor;

/// The transaction ids of a window in our encoder's shape that passes every check; `None`
/// otherwise (check it with serde).
pub(super) fn check(body: &[u8]) -> Option<Vec<String>> {
    let text = std::str::from_utf8(body).ok()?;
    let mut c = Window(Cursor::new(text));
    c.expect(b"{\"data\":[")?;
    let mut ids = Vec::new();
    if !c.eat(b"]") {
        loop {
            ids.push(c.transaction()?.to_string());
            if c.eat(b"]") {
                break;
            }
            c.expect(b",")?;
        }
    }
    c.expect(b"}")?;
    c.is_at_end().then_some(ids)
}

/// The window's reader: the shared cursor, with the UAP shape.
struct Window<'a>(Cursor<'a>);

impl<'a> std::ops::Deref for Window<'a> {
    type Target = Cursor<'a>;
    fn deref(&self) -> &Cursor<'a> {
        &self.0
    }
}

impl std::ops::DerefMut for Window<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl<'a> Window<'a> {
    /// A string without escapes or control bytes, borrowed.
    fn string(&mut self) -> Option<&'a str> {
        self.plain_string()
    }

    fn non_empty(&mut self) -> Option<&'a str> {
        self.string().filter(|s| !s.is_empty())
    }

    /// One transaction; its id.
    fn transaction(&mut self) -> Option<&'a str> {
        self.expect(b"{\"timestamp\":")?;
        if !super::timestamp_ok(self.string()?) {
            return None;
        }
        self.expect(b",\"version\":")?;
        self.non_empty()?;
        self.expect(b",\"transaction-id\":")?;
        let id = self.non_empty()?;

        self.expect(b",\"request\":{\"http-scheme\":")?;
        self.string()?;
        if self.eat(b",\"http-version\":") {
            self.string()?;
        }
        self.expect(b",\"http-method\":")?;
        self.non_empty()?;
        self.expect(b",\"uri-query-fragment\":")?;
        if !self.string()?.starts_with('/') {
            return None;
        }
        if self.eat(b",\"host\":") {
            self.string()?;
        }
        if self.eat(b",\"client-ip\":") {
            self.string()?;
        }
        self.expect(b",\"connection\":{\"connection-ip\":")?;
        self.non_empty()?;
        self.expect(b",\"server-ip\":")?;
        self.non_empty()?;
        self.expect(b"},\"headers\":")?;
        self.headers()?;
        if self.eat(b",\"body\":") {
            self.body()?;
        }

        self.expect(b"},\"response\":{\"status-code\":")?;
        self.string()?.parse::<u16>().ok()?;
        self.expect(b",\"headers\":")?;
        self.headers()?;
        if self.eat(b",\"body\":") {
            self.body()?;
        }

        self.expect(b"},\"txn-meta-data\":{\"source_info\":{\"type\":")?;
        self.string()?;
        self.expect(b",\"version\":")?;
        self.string()?;
        self.expect(b",\"instance_id\":")?;
        self.string()?;
        self.expect(b"}}}")?;
        Some(id)
    }

    /// `["name:base64(value)", ...]`, each name non-empty and each value standard base64.
    fn headers(&mut self) -> Option<()> {
        self.expect(b"[")?;
        if self.eat(b"]") {
            return Some(());
        }
        loop {
            let (name, value) = self.string()?.split_once(':')?;
            if name.is_empty() || !super::is_base64(value) {
                return None;
            }
            if self.eat(b"]") {
                return Some(());
            }
            self.expect(b",")?;
        }
    }

    /// `{"length":n,"data":"base64"}` with `n` the decoded length.
    fn body(&mut self) -> Option<()> {
        self.expect(b"{\"length\":")?;
        let digits = self.digits();
        // The writer's integers: no leading zero, and short enough for any length in memory.
        if digits.is_empty() || digits.len() > 15 || (digits.len() > 1 && digits.starts_with('0')) {
            return None;
        }
        let length: usize = digits.parse().ok()?;
        self.expect(b",\"data\":")?;
        let raw = B64.decode(self.string()?).ok()?;
        self.expect(b"}")?;
        (raw.len() == length).then_some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ship::bridge::window::{encode_record, window_body};
    use crate::ship::bridge::Format;
    use crate::transaction::Transaction;
    use proptest::prelude::*;

    fn window(records: &[Transaction]) -> Vec<u8> {
        let encoded: Vec<_> = records
            .iter()
            .map(|t| encode_record(Format::Uap, t, 0, usize::MAX))
            .collect();
        window_body(&encoded, Format::Uap)
    }

    /// When the hand check takes a window, serde's check passes it with the same ids.
    fn agrees(body: &[u8]) -> Result<bool, TestCaseError> {
        let Some(ours) = check(body) else {
            return Ok(false);
        };
        prop_assert_eq!(
            Ok(ours),
            super::super::validate_uap_with_serde(body),
            "window {:?}",
            String::from_utf8_lossy(body)
        );
        Ok(true)
    }

    fn plain() -> Transaction {
        let mut t = crate::transaction::Transaction::new(
            "r-1".into(),
            1_686_411_388_007,
            crate::transaction::Source::default(),
        );
        t.request.method = Some("GET".into());
        t.request.path = Some("/pets/1".into());
        t.request.query = Some("a=1".into());
        t.request
            .headers
            .insert("user-agent".into(), vec!["curl/8 é".into()]);
        t.request.body = Some(crate::transaction::Body {
            data: "{\"a\":1}".into(),
            encoding: crate::transaction::BodyEncoding::Utf8,
            truncated: false,
        });
        t.response.status = Some(200);
        t
    }

    #[test]
    fn takes_our_windows_and_leaves_the_rest_to_serde() {
        let mut second = plain();
        second.id = "r-2".into();
        second.request.method = None;
        let body = window(&[plain(), second]);
        assert_eq!(check(&body), Some(vec!["r-1".into(), "r-2".into()]));
        assert_eq!(check(br#"{"data":[]}"#), Some(vec![]));
        let text = String::from_utf8(body).unwrap();
        // Each breaks a check or the shape: serde's path decides and names it.
        for (from, to) in [
            ("\"/pets/1?a=1\"", "\"pets\""),
            ("\"status-code\":\"200\"", "\"status-code\":\"2x\""),
            ("\"length\":7", "\"length\":8"),
            ("\"length\":7", "\"length\":07"),
            ("\"transaction-id\":\"r-1\"", "\"transaction-id\":\"\""),
            (
                "\"transaction-id\":\"r-1\"",
                "\"transaction-id\":\"r\\u002d1\"",
            ),
            (
                "\"timestamp\":\"1686411388.007\"",
                "\"timestamp\":\"1686411388.07\"",
            ),
            ("user-agent:", ":"),
            ("user-agent:", "user-agent:!"),
            ("{\"data\":[", "{ \"data\":["),
        ] {
            let changed = text.replacen(from, to, 1);
            assert_ne!(changed, text, "{from}");
            assert_eq!(check(changed.as_bytes()), None, "{to}");
        }
        assert_eq!(check(&text.as_bytes()[..text.len() - 1]), None);
    }

    proptest! {
        /// Every window our encoder writes is taken when no string in it needs an escape, and
        /// taken as serde takes it.
        #[test]
        fn takes_what_the_encoder_writes(
            records in proptest::collection::vec(crate::transaction::write::tests::record(), 0..4),
        ) {
            let body = window(&records);
            let took = agrees(&body)?;
            let serde = super::super::validate_uap_with_serde(&body);
            let escapes = body.contains(&b'\\');
            prop_assert_eq!(took, serde.is_ok() && !escapes, "{:?}", serde);
        }

        /// Mutated windows: whatever the hand check takes, serde takes with the same ids.
        #[test]
        fn mutated_windows_agree_with_serde(
            records in proptest::collection::vec(crate::transaction::write::tests::record(), 1..3),
            edits in crate::json::cursor::tests::edits(b"\"\\{}[],:0123456789-.=+/ Aa\x01"),
        ) {
            let mut body = window(&records);
            crate::json::cursor::tests::mutate(&mut body, &edits);
            agrees(&body)?;
        }
    }
}
