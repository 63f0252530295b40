//! JSON strings written by hand, escaped as serde_json escapes them: `\"`, `\\`, the short forms
//! of backspace, form feed, newline, carriage return and tab, `\u00XX` for the other control
//! bytes, everything else as it is. The record writer and the UAP writer share it; the tests of
//! `transaction/write.rs` hold it byte-equal to serde_json.

use super::scan16;

/// `s` as a JSON string (quotes included) appended to `out`.
pub(crate) fn string(out: &mut Vec<u8>, s: &str) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    content(out, s);
    out.push(b'"');
}

/// `s` escaped, without the quotes: for a string written in several pieces.
pub(crate) fn content(out: &mut Vec<u8>, s: &str) {
    let b = s.as_bytes();
    // Short values (a method, a stage, a status text) are most of a record's strings: a byte
    // test beats padding them into a block.
    if b.len() < 16 && !b.iter().any(|&c| c < 0x20 || c == b'"' || c == b'\\') {
        out.extend_from_slice(b);
        return;
    }
    out.reserve(b.len());
    let mut run = 0;
    let mut at = 0;
    // 16 bytes at a time; most strings have nothing to escape and go in one copy.
    while at < b.len() {
        let m = scan16::masks(&scan16::load(b, at));
        let mut special = m.quotes | m.backslashes | m.controls;
        while special != 0 {
            let p = at + special.trailing_zeros() as usize;
            special &= special - 1;
            out.extend_from_slice(&b[run..p]);
            escape(out, b[p]);
            run = p + 1;
        }
        at += 16;
    }
    out.extend_from_slice(&b[run..]);
}

fn escape(out: &mut Vec<u8>, c: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    match c {
        b'"' => out.extend_from_slice(b"\\\""),
        b'\\' => out.extend_from_slice(b"\\\\"),
        0x08 => out.extend_from_slice(b"\\b"),
        0x0c => out.extend_from_slice(b"\\f"),
        b'\n' => out.extend_from_slice(b"\\n"),
        b'\r' => out.extend_from_slice(b"\\r"),
        b'\t' => out.extend_from_slice(b"\\t"),
        _ => out.extend_from_slice(&[
            b'\\',
            b'u',
            b'0',
            b'0',
            HEX[usize::from(c >> 4)],
            HEX[usize::from(c & 0xf)],
        ]),
    }
}
