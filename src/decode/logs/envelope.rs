//! LogData in the shape CloudWatch Logs writes it, read without serde's visitors: one object of
//! the documented keys, events of `id` (a string), `timestamp` (an integer) and `message` (a
//! string). Every access line travels as such a message, its quotes escaped (`{\"requestId\":…`,
//! an escape every 8 to 15 bytes), so unescaping the messages is the largest single cost of a
//! decode. Here it copies 16 bytes at a time and stops only at the next quote, backslash or
//! control byte ([`crate::json::scan16`]).
//!
//! It accepts only text that serde_json reads the same way (a property test holds the two
//! readings equal). Anything else is `None` and the caller parses with serde_json, which also
//! names the error: an unknown or repeated key, a `null`, a number where a string is usual, a
//! `\u` escape of a surrogate, a control byte, more events than allowed, broken JSON.

use super::{LogData, LogEvent, MessageType, MAX_EVENTS_PER_PAYLOAD};
use crate::json::scan16;

/// The LogData object that is all of `text`, or `None` when `text` is not of that shape.
pub fn read(text: &str) -> Option<LogData> {
    let b = text.as_bytes();
    let mut out = Unescaped::default();
    let mut at = skip_ws(b, 0);
    if b.get(at) != Some(&b'{') {
        return None;
    }
    let mut data = LogData::default();
    let mut seen = 0u8;
    let mut have_type = false;
    let mut have_events = false;
    at = skip_ws(b, at + 1);
    if b.get(at) != Some(&b'}') {
        loop {
            let (key, next) = key(text, at)?;
            at = colon(b, next)?;
            let bit = match key {
                "messageType" => {
                    at = out.string(b, at)?;
                    data.message_type = match out.as_bytes() {
                        b"DATA_MESSAGE" => MessageType::Data,
                        b"CONTROL_MESSAGE" => MessageType::Control,
                        _ => MessageType::Unknown,
                    };
                    have_type = true;
                    1
                }
                "owner" => {
                    at = out.string(b, at)?;
                    data.owner = out.to_string()?;
                    2
                }
                "logGroup" => {
                    at = out.string(b, at)?;
                    data.log_group = out.to_string()?;
                    4
                }
                "logStream" => {
                    at = out.string(b, at)?;
                    data.log_stream = out.to_string()?;
                    8
                }
                "subscriptionFilters" => {
                    at = filters(b, at, &mut out, &mut data.subscription_filters)?;
                    16
                }
                "policyLevel" => {
                    at = out.string(b, at)?;
                    data.policy_level = Some(out.to_string()?);
                    32
                }
                "logEvents" => {
                    at = events(text, at, &mut out, &mut data.log_events)?;
                    have_events = true;
                    64
                }
                _ => return None,
            };
            // serde refuses a repeated field; let it say so.
            if seen & bit != 0 {
                return None;
            }
            seen |= bit;
            match separator(b, at, b'}')? {
                Next::Item(next) => at = next,
                Next::Closed(end) => {
                    at = end;
                    break;
                }
            }
        }
    } else {
        at += 1;
    }
    // Neither key: not a payload, which serde's path explains.
    let whole = skip_ws(b, at) == b.len();
    (whole && (have_type || have_events)).then_some(data)
}

/// `[` log events `]`, at most [`MAX_EVENTS_PER_PAYLOAD`].
fn events(text: &str, at: usize, out: &mut Unescaped, events: &mut Vec<LogEvent>) -> Option<usize> {
    let b = text.as_bytes();
    if b.get(at) != Some(&b'[') {
        return None;
    }
    let mut at = skip_ws(b, at + 1);
    if b.get(at) == Some(&b']') {
        return Some(at + 1);
    }
    // Access lines run 300 to 1,000 bytes; a guess spares most regrowth of a big payload.
    events.reserve((b.len() / 600).min(4096));
    loop {
        if events.len() == MAX_EVENTS_PER_PAYLOAD {
            return None;
        }
        let (event, next) = event(text, at, out)?;
        events.push(event);
        match separator(b, next, b']')? {
            Next::Item(next) => at = next,
            Next::Closed(end) => return Some(end),
        }
    }
}

/// One `{"id":…,"timestamp":…,"message":…}`; a missing key keeps its default, as in serde's path.
fn event(text: &str, at: usize, out: &mut Unescaped) -> Option<(LogEvent, usize)> {
    let b = text.as_bytes();
    if b.get(at) != Some(&b'{') {
        return None;
    }
    let mut event = LogEvent::default();
    let mut at = skip_ws(b, at + 1);
    if b.get(at) == Some(&b'}') {
        return Some((event, at + 1));
    }
    let mut seen = 0u8;
    loop {
        let (key, next) = key(text, at)?;
        at = colon(b, next)?;
        let bit = match key {
            "id" => {
                at = out.string(b, at)?;
                event.id = out.to_string()?;
                1
            }
            "timestamp" => {
                let (t, next) = millis(b, at)?;
                event.timestamp = t;
                at = next;
                2
            }
            "message" => {
                at = out.string(b, at)?;
                event.message = out.to_string()?;
                4
            }
            _ => return None,
        };
        if seen & bit != 0 {
            return None;
        }
        seen |= bit;
        match separator(b, at, b'}')? {
            Next::Item(next) => at = next,
            Next::Closed(end) => return Some((event, end)),
        }
    }
}

/// `[` strings `]`.
fn filters(b: &[u8], at: usize, out: &mut Unescaped, names: &mut Vec<String>) -> Option<usize> {
    if b.get(at) != Some(&b'[') {
        return None;
    }
    let mut at = skip_ws(b, at + 1);
    if b.get(at) == Some(&b']') {
        return Some(at + 1);
    }
    loop {
        let next = out.string(b, at)?;
        names.push(out.to_string()?);
        match separator(b, next, b']')? {
            Next::Item(next) => at = next,
            Next::Closed(end) => return Some(end),
        }
    }
}

/// What follows a member of an object or an element of an array.
enum Next {
    /// A comma: the next one starts here.
    Item(usize),
    /// The closing bracket: the index after it.
    Closed(usize),
}

/// The comma or the closing `close` after the value that ended at `at` (whitespace around it).
fn separator(b: &[u8], at: usize, close: u8) -> Option<Next> {
    let at = skip_ws(b, at);
    match *b.get(at)? {
        b',' => Some(Next::Item(skip_ws(b, at + 1))),
        c if c == close => Some(Next::Closed(at + 1)),
        _ => None,
    }
}

/// A key without escapes (the documented keys have none) and the index after its quote.
fn key(text: &str, at: usize) -> Option<(&str, usize)> {
    let b = text.as_bytes();
    if b.get(at) != Some(&b'"') {
        return None;
    }
    let len = memchr::memchr2(b'"', b'\\', b.get(at + 1..)?)?;
    let end = at + 1 + len;
    (b[end] == b'"').then(|| (&text[at + 1..end], end + 1))
}

/// Past the `:` after a key (and the whitespace around it).
fn colon(b: &[u8], at: usize) -> Option<usize> {
    let at = skip_ws(b, at);
    (b.get(at) == Some(&b':')).then(|| skip_ws(b, at + 1))
}

/// Epoch milliseconds written as a plain integer, as CloudWatch writes them: no sign, no leading
/// zero, no fraction or exponent, at most 18 digits (an `i64` for sure).
fn millis(b: &[u8], at: usize) -> Option<(i64, usize)> {
    let digits = b
        .get(at..)?
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count();
    let end = at + digits;
    let plain = (1..=18).contains(&digits) && (digits == 1 || b[at] != b'0');
    if !plain || matches!(b.get(end), Some(b'.' | b'e' | b'E')) {
        return None;
    }
    let value = b[at..end]
        .iter()
        .fold(0i64, |v, d| v * 10 + i64::from(d - b'0'));
    Some((value, end))
}

/// The last string read, unescaped, in a buffer reused for every string of a payload.
#[derive(Default)]
struct Unescaped {
    /// Always initialised, and always 16 bytes longer than `len`, so that a whole 16-byte block
    /// can be stored at `len` and only its bytes before the first special one kept.
    buf: Vec<u8>,
    len: usize,
}

impl Unescaped {
    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The string as an owned `String` of its exact size. The bytes are UTF-8 (runs of valid
    /// text cut at ASCII bytes, and whole characters); the check is cheap and keeps this safe.
    fn to_string(&self) -> Option<String> {
        std::str::from_utf8(self.as_bytes()).ok().map(str::to_owned)
    }

    /// Room for a 16-byte store at `len`.
    #[inline]
    fn room(&mut self) {
        if self.buf.len() < self.len + 16 {
            self.buf
                .resize((self.len + 16).max(self.buf.len() * 2).max(1024), 0);
        }
    }

    /// Reads the JSON string that opens at `at` (a quote) into the buffer, replacing what it
    /// held; the index after its closing quote. A control byte, a bad escape or a `\u` escape of
    /// a surrogate is `None`.
    ///
    /// Blocks of only `\"` escapes go whole ([`Self::quoted_blocks`]). Any other block's special
    /// bytes are taken in order from its mask, so the next load never waits for the escape
    /// before it.
    fn string(&mut self, b: &[u8], at: usize) -> Option<usize> {
        if b.get(at) != Some(&b'"') {
            return None;
        }
        self.len = 0;
        // `run`: the first byte not yet copied (past an escape that crossed into the block);
        // `base`: the block's start.
        let mut run = at + 1;
        loop {
            run = self.quoted_blocks(b, run);
            let base = run;
            let m = scan16::masks(&scan16::load(b, base));
            let mut special = after(u32::from(m.quotes | m.backslashes | m.controls), run - base);
            while special != 0 {
                let p = base + special.trailing_zeros() as usize;
                self.copy(b, run, p);
                match b[p] {
                    b'"' => return Some(p + 1),
                    b'\\' => {
                        run = self.escape(b, p)?;
                        // The escaped character may itself be a quote or a backslash.
                        special = after(special, run - base);
                    }
                    _ => return None,
                }
            }
            let end = base + 16;
            if end >= b.len() {
                return None;
            }
            if run < end {
                self.copy(b, run, end);
                run = end;
            }
        }
    }

    /// Appends the whole 16-byte blocks from `run` whose only escapes are `\"`, the blocks of an
    /// access line in a message (`{\"requestId\":\"…`); the index of the first block that is not
    /// one (the string's end, another escape, a control byte, or an escape across the block's
    /// edge), for [`Self::string`] to take byte by byte.
    #[inline]
    fn quoted_blocks(&mut self, b: &[u8], run: usize) -> usize {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("ssse3") && std::is_x86_feature_detected!("popcnt") {
            // SAFETY: the CPU has SSSE3 and POPCNT, checked just above.
            return unsafe { self.quoted_blocks_ssse3(b, run) };
        }
        run
    }

    /// [`Self::quoted_blocks`] with SSSE3: each half block's bytes but its backslashes are
    /// packed by one byte shuffle from a table of the 256 keep-masks.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "ssse3,popcnt")]
    unsafe fn quoted_blocks_ssse3(&mut self, b: &[u8], mut run: usize) -> usize {
        use std::arch::x86_64::*;
        while let Some(Ok(block)) = b.get(run..run + 16).map(<&[u8; 16]>::try_from) {
            let m = scan16::masks(block);
            let slashes = m.backslashes;
            // Every backslash escapes the quote right after it, inside the block, and every
            // quote is so escaped: the text is the block without its backslashes.
            if m.controls != 0 || slashes & 0x8000 != 0 || m.quotes != slashes << 1 {
                break;
            }
            if self.buf.len() < self.len + 32 {
                self.buf
                    .resize((self.len + 32).max(self.buf.len() * 2).max(1024), 0);
            }
            let keep = !slashes;
            let (low, high) = (usize::from(keep as u8), usize::from(keep >> 8));
            let v = _mm_loadu_si128(block.as_ptr().cast());
            let low_order = _mm_loadu_si128(PACK[low].as_ptr().cast());
            // The high half's indices are 8 on; an unused slot (0x80) stays at 0x88, still zero.
            let high_order = _mm_add_epi8(
                _mm_loadu_si128(PACK[high].as_ptr().cast()),
                _mm_set1_epi8(8),
            );
            let out = &mut self.buf[self.len..self.len + 32];
            _mm_storeu_si128(out.as_mut_ptr().cast(), _mm_shuffle_epi8(v, low_order));
            let kept_low = (keep as u8).count_ones() as usize;
            let out = &mut out[kept_low..kept_low + 16];
            _mm_storeu_si128(out.as_mut_ptr().cast(), _mm_shuffle_epi8(v, high_order));
            self.len += kept_low + (keep >> 8).count_ones() as usize;
            run += 16;
        }
        run
    }

    /// Appends what the escape at `at` (a backslash) stands for; the index after it.
    #[inline]
    fn escape(&mut self, b: &[u8], at: usize) -> Option<usize> {
        let letter = *b.get(at + 1)?;
        let short = SHORT_ESCAPES[usize::from(letter)];
        self.room();
        if short != 0 {
            self.buf[self.len] = short;
            self.len += 1;
            return Some(at + 2);
        }
        if letter != b'u' {
            return None;
        }
        let mut n = 0u32;
        for &h in b.get(at + 2..at + 6)? {
            n = n * 16 + char::from(h).to_digit(16)?;
        }
        // Surrogates (pairs or lone) are left to serde's path, which knows both.
        let c = char::from_u32(n)?;
        self.len += c.encode_utf8(&mut self.buf[self.len..]).len();
        Some(at + 6)
    }

    /// Appends `b[from..to]`, at most 16 bytes, with one 16-byte store.
    #[inline]
    fn copy(&mut self, b: &[u8], from: usize, to: usize) {
        self.room();
        self.buf[self.len..self.len + 16].copy_from_slice(&scan16::load(b, from));
        self.len += to - from;
    }
}

/// The bits of `mask` from bit `from` up.
#[inline]
fn after(mask: u32, from: usize) -> u32 {
    u32::try_from(from)
        .ok()
        .and_then(|s| u32::MAX.checked_shl(s))
        .map_or(0, |keep| mask & keep)
}

/// For each mask of the 8 bytes to keep, their indices in order, then 0x80 (a zero byte under
/// `pshufb`) in the unused slots.
#[cfg(target_arch = "x86_64")]
static PACK: [[u8; 16]; 256] = {
    let mut t = [[0x80u8; 16]; 256];
    let mut mask = 0;
    while mask < 256 {
        let (mut bit, mut slot) = (0, 0);
        while bit < 8 {
            if mask >> bit & 1 == 1 {
                t[mask][slot] = bit as u8;
                slot += 1;
            }
            bit += 1;
        }
        mask += 1;
    }
    t
};

/// What each one-letter escape stands for (`\n` is a newline); 0: not one (`\u`, or invalid).
const SHORT_ESCAPES: [u8; 256] = {
    let mut t = [0u8; 256];
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t[b'/' as usize] = b'/';
    t[b'n' as usize] = b'\n';
    t[b't' as usize] = b'\t';
    t[b'r' as usize] = b'\r';
    t[b'b' as usize] = 0x08;
    t[b'f' as usize] = 0x0c;
    t
};

/// Past JSON's whitespace from `at`.
#[inline]
fn skip_ws(b: &[u8], mut at: usize) -> usize {
    while matches!(b.get(at), Some(b' ' | b'\n' | b'\r' | b'\t')) {
        at += 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::logs::detect::serde_reading;

    /// `read` takes `text` (and then reads it as serde does), or leaves it to serde.
    pub(super) fn agrees(text: &str) -> Option<LogData> {
        let ours = read(text);
        if let Some(d) = &ours {
            assert_eq!(Ok(vec![d.clone()]), serde_reading(text), "{text}");
        }
        ours
    }

    /// The AWS documentation's sample (SubscriptionFilters, "Example 2"), as CloudWatch writes it.
    const AWS_SAMPLE: &str = r#"{"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"CloudTrail","logStream":"123456789012_CloudTrail_us-east-1","subscriptionFilters":["Destination"],"logEvents":[{"id":"31953106606966983378809025079804211143289615424298221568","timestamp":1432826855000,"message":"{\"eventVersion\":\"1.03\",\"userIdentity\":{\"type\":\"Root\"}"},{"id":"31953106606966983378809025079804211143289615424298221569","timestamp":1432826855000,"message":"{\"eventVersion\":\"1.03\",\"userIdentity\":{\"type\":\"Root\"}"}]}"#;

    #[test]
    fn cloudwatch_shapes_are_read_as_serde_reads_them() {
        let d = agrees(AWS_SAMPLE).expect("the documented shape");
        assert_eq!(d.log_events.len(), 2);
        assert_eq!(
            d.log_events[0].message,
            r#"{"eventVersion":"1.03","userIdentity":{"type":"Root"}"#
        );
        assert_eq!(d.log_events[1].timestamp, 1_432_826_855_000);
        assert_eq!(d.subscription_filters, ["Destination"]);
        // The health check, spaces and newlines between tokens, every escape but surrogates,
        // text past 16-byte blocks, raw UTF-8, empty strings and objects.
        for text in [
            r#"{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1600110003794,"message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}"#,
            " {\n \"logEvents\" : [ { \"id\" : \"1\" , \"timestamp\" : 0 , \"message\" : \"m\" } , {} ] ,\r\n\t\"messageType\" : \"X\" } \n",
            r#"{"logEvents":[{"message":"\" \\ \/ \b \f \n \r \t \u00e9 \u20AC \u0000 é ✓ 0123456789abcdefghijklmnopqrstuvwxyz\""}],"policyLevel":"ACCOUNT_LEVEL_POLICY"}"#,
            r#"{"logEvents":[{"message":""},{"message":"\\"},{"message":"0123456789abcde\""}]}"#,
            r#"{"messageType":"DATA_MESSAGE"}"#,
            r#"{"logEvents":[]}"#,
        ] {
            assert!(agrees(text).is_some(), "{text}");
        }
    }

    #[test]
    fn escapes_on_every_block_edge() {
        for escape in [
            r#"\""#, r"\\", r"\/", r"\n", r"\u00e9", r"\u20ac", "é", "✓", r#"\"\""#, r#"\\\""#,
        ] {
            for before in 0..40 {
                for after in [0, 1, 15, 16, 17] {
                    let message = format!("{}{escape}{}", "a".repeat(before), "b".repeat(after));
                    let text = format!(r#"{{"logEvents":[{{"message":"{message}"}}]}}"#);
                    assert!(agrees(&text).is_some(), "{text}");
                }
            }
        }
    }

    /// Messages that are access lines (an escaped quote every few bytes) go through the whole-block
    /// path; any other escape, at any offset, sends a block back to the byte path.
    #[test]
    fn access_lines_in_messages() {
        let line = r#"{"requestId":"c6af9ac6-7b61-11e6-9a41-93e8deadbeef","ip":"192.0.2.1","requestTime":"10/Jun/2023:14:36:28 +0000","httpMethod":"GET","resourcePath":"/pets/{petId}","status":"200","protocol":"HTTP/1.1","responseLength":"42","userAgent":"curl/8.4.0"}"#;
        let message = serde_json::to_string(line).unwrap();
        let inner = &message[1..message.len() - 1];
        for pad in 0..33 {
            let padded = format!("{}{inner}", "x".repeat(pad));
            let text = format!(r#"{{"logEvents":[{{"message":"{padded}"}}]}}"#);
            let d = agrees(&text).expect("an access line");
            assert_eq!(
                d.log_events[0].message,
                format!("{}{line}", "x".repeat(pad))
            );
            for at in (0..padded.len()).filter(|&i| padded.is_char_boundary(i)) {
                // Not inside an escape: `\"` split would make another string.
                if padded[..at].ends_with('\\') {
                    continue;
                }
                for extra in [r"\\", r"\n", r"\u00e9", r#"\""#, "é", r"\/"] {
                    let edited = format!("{}{extra}{}", &padded[..at], &padded[at..]);
                    let text = format!(r#"{{"logEvents":[{{"message":"{edited}"}}]}}"#);
                    assert!(agrees(&text).is_some(), "{edited}");
                }
                // A raw control byte is not strict JSON, wherever it falls in a block: the
                // reader leaves it to serde's path (which has its own rule for it).
                let edited = format!("{}\t{}", &padded[..at], &padded[at..]);
                let text = format!(r#"{{"logEvents":[{{"message":"{edited}"}}]}}"#);
                assert!(read(&text).is_none(), "{edited:?}");
            }
        }
    }

    #[test]
    fn other_shapes_are_left_to_serde() {
        for text in [
            // Not LogData, or LogData in a form CloudWatch does not write.
            r#"{"awslogs":{"data":"H4sI"}}"#,
            "{}",
            r#"{"logGroup":"g"}"#,
            r#"{"logEvents":null}"#,
            r#"{"logEvents":[{"id":1,"message":"m"}]}"#,
            r#"{"logEvents":[{"eventId":"e","message":"m"}]}"#,
            r#"{"logEvents":[{"timestamp":"1","message":"m"}]}"#,
            r#"{"logEvents":[{"timestamp":-1,"message":"m"}]}"#,
            r#"{"logEvents":[{"timestamp":1.5,"message":"m"}]}"#,
            r#"{"logEvents":[{"timestamp":01,"message":"m"}]}"#,
            r#"{"logEvents":[{"timestamp":1234567890123456789,"message":"m"}]}"#,
            r#"{"logEvents":[{"message":"m","message":"n"}]}"#,
            r#"{"logEvents":[],"logEvents":[]}"#,
            r#"{"logEvents":[{"message":"a\ud800b"}]}"#,
            r#"{"logEvents":[{"message":"\ud83d\ude00"}]}"#,
            "{\"logEvents\":[{\"message\":\"tab\there\"}]}",
            r#"{"owner":null,"logEvents":[]}"#,
            r#"{"subscriptionFilters":null,"logEvents":[]}"#,
            // Broken JSON: serde's error names it.
            r#"{"logEvents":[{"message":"m"}],}"#,
            r#"{"logEvents":[{"message":"m"}]} x"#,
            r#"{"logEvents":[{"message":"m"}]}{"logEvents":[]}"#,
            r#"{"logEvents":[{"message":"m\x"}]}"#,
            r#"{"logEvents":[{"message":"m\u12"}]}"#,
            r#"{"logEvents":[{"message":"m"#,
            r#"{"logEvents":[{"message":"m"}"#,
            r#"{"logEvents":[{"message" "m"}]}"#,
        ] {
            assert!(agrees(text).is_none(), "{text}");
        }
        let many = format!(
            r#"{{"logEvents":[{}]}}"#,
            vec!["{}"; MAX_EVENTS_PER_PAYLOAD + 1].join(",")
        );
        assert!(read(&many).is_none());
        assert!(serde_reading(&many).is_err());
    }

    proptest::proptest! {
        /// Payloads of access lines, cut and spliced with JSON's syntax bytes: whenever the scan
        /// takes one, serde reads the same LogData (which also means serde accepts it).
        #[test]
        fn the_envelope_scan_never_disagrees_with_serde(
            messages in proptest::collection::vec(
                proptest::sample::select(vec![
                    r#"{"requestId":"c6af9ac6-7b61-11e6-9a41-93e8deadbeef","ip":"192.0.2.1","requestTime":"07/Dec/2026:14:45:26 +0000","httpMethod":"GET","path":"/prod/pets","status":"200","userAgent":"curl/8.4.0 \"q\""}"#,
                    "192.0.2.1 - - [07/Dec/2026:14:45:26 +0000] \"GET /pets HTTP/1.1\" 200 43 c6af9ac6",
                    "(c6af9ac6) Method request body before transformations: {\n\t\"a\": \"é ✓ \\\\\"\n}",
                    "",
                    "\u{1}\u{1f}",
                ]),
                1..5,
            ),
            edits in proptest::collection::vec(
                (0usize..2000, proptest::sample::select(vec![
                    "", "\"", "\\", "{", "}", "[", "]", ":", ",", " ", "\n", "0", "12", "-", ".",
                    "e", "null", "\\u00e9", "\\ud800", "\\/", "\\u", "\u{1}", "é",
                    "\"id\":", "\"message\":\"x\",",
                ]), 0usize..3),
                0..4,
            )
        ) {
            let events: Vec<serde_json::Value> = messages
                .iter()
                .enumerate()
                .map(|(i, m)| serde_json::json!({"id": format!("{i:056}"), "timestamp": 1_765_118_726_000i64 + i as i64, "message": m}))
                .collect();
            let mut text = serde_json::json!({
                "messageType": "DATA_MESSAGE", "owner": "123456789012",
                "logGroup": "/aws/apigateway/petstore-prod", "logStream": "e369853df766fa44e1ed0ff613f563bd",
                "subscriptionFilters": ["apigw-stream/rest/asad15n3p0/prod"], "logEvents": events,
            })
            .to_string();
            proptest::prop_assert!(agrees(&text).is_some(), "{}", text);
            for (at, piece, cut) in edits {
                let mut at = at.min(text.len());
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                let mut end = (at + cut).min(text.len());
                while !text.is_char_boundary(end) {
                    end += 1;
                }
                text.replace_range(at..end, piece);
            }
            agrees(&text);
        }
    }
}

#[cfg(test)]
mod review_fuzz {
    use super::tests::agrees;
    use super::*;
    use crate::decode::logs::detect::serde_reading;
    use proptest::prelude::*;

    const PIECES: &[&str] = &[
        "a",
        "b",
        "0",
        " ",
        "é",
        "✓",
        "😀",
        "\u{7f}",
        "\"",
        "\\",
        "\\\"",
        "\\\\",
        "\\/",
        "\\b",
        "\\f",
        "\\n",
        "\\r",
        "\\t",
        "\\u0000",
        "\\u001f",
        "\\u0022",
        "\\u005c",
        "\\u00e9",
        "\\u20AC",
        "\\uFFFF",
        "\\ud800",
        "\\uDC00",
        "\\ud83d\\ude00",
        "\\u12",
        "\\u",
        "\\x",
        "\\",
        "\u{1}",
        "\n",
        "\t",
        "\u{1f}",
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
    ];

    fn wrap(message: &str, pad: usize) -> String {
        format!(
            r#"{{"messageType":"DATA_MESSAGE","owner":"{p}","logGroup":"g","logStream":"s","subscriptionFilters":["{message}"],"logEvents":[{{"id":"{message}","timestamp":12,"message":"{message}"}},{{"id":"1","timestamp":0,"message":"{p}{message}"}}]}}"#,
            p = "x".repeat(pad)
        )
    }

    proptest! {
        #[test]
        fn tokens_at_every_offset(
            parts in proptest::collection::vec(proptest::sample::select(PIECES), 0..12),
            pad in 0usize..48,
        ) {
            let message: String = parts.concat();
            let text = wrap(&message, pad);
            let ours = agrees(&text);
            // When serde reads it and it is all plain, ours should too (not required, but note).
            let _ = ours;
            // Every prefix.
            for cut in 0..text.len() {
                if text.is_char_boundary(cut) {
                    agrees(&text[..cut]);
                }
            }
        }

        #[test]
        fn byte_mutations(
            parts in proptest::collection::vec(proptest::sample::select(PIECES), 0..8),
            pad in 0usize..40,
            edits in proptest::collection::vec((0usize..400, proptest::sample::select(PIECES)), 1..4),
        ) {
            let mut text = wrap(&parts.concat(), pad);
            for (at, piece) in edits {
                let mut at = at.min(text.len());
                while !text.is_char_boundary(at) { at -= 1; }
                let mut end = (at + 1).min(text.len());
                while !text.is_char_boundary(end) { end += 1; }
                text.replace_range(at..end, piece);
            }
            agrees(&text);
        }
    }

    fn typed_string() -> impl Strategy<Value = String> {
        proptest::collection::vec(proptest::sample::select(&PIECES[..31]), 0..6)
            .prop_map(|p| format!("\"{}\"", p.concat()))
    }

    fn value() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            proptest::sample::select(vec![
                "0",
                "1",
                "01",
                "-1",
                "1.0",
                "1e3",
                "123456789012345678",
                "1234567890123456789",
                "null",
                "true",
                "\"\"",
                "\"DATA_MESSAGE\"",
                "\"CONTROL_MESSAGE\"",
                "\"DATA\\u005fMESSAGE\"",
                "\"x\\ud800\"",
                "\"\\u0000\"",
                "\"a\\\"b\"",
                "[]",
                "{}",
                "\"é\"",
            ])
            .prop_map(str::to_string),
            proptest::collection::vec(proptest::sample::select(PIECES), 0..6)
                .prop_map(|p| format!("\"{}\"", p.concat())),
        ];
        leaf.prop_recursive(3, 24, 5, |inner| {
            let key = proptest::sample::select(vec![
                "id",
                "timestamp",
                "message",
                "eventId",
                "messageType",
                "owner",
                "logGroup",
                "logStream",
                "subscriptionFilters",
                "policyLevel",
                "logEvents",
                "awslogs",
                "x",
                "log\\u0045vents",
                "",
            ]);
            let ws = proptest::sample::select(vec!["", " ", "\n", "\r\n\t", "\u{c}", "\u{a0}"]);
            prop_oneof![
                (proptest::collection::vec((inner.clone(), ws.clone()), 0..5)).prop_map(|v| {
                    format!(
                        "[{}]",
                        v.iter()
                            .map(|(x, w)| format!("{w}{x}{w}"))
                            .collect::<Vec<_>>()
                            .join(",")
                    )
                }),
                (proptest::collection::vec((key, inner, ws), 0..6)).prop_map(|v| {
                    format!(
                        "{{{}}}",
                        v.iter()
                            .map(|(k, x, w)| format!("{w}\"{k}\"{w}:{w}{x}"))
                            .collect::<Vec<_>>()
                            .join(",")
                    )
                }),
            ]
        })
    }

    proptest! {
        #[test]
        fn structural(v in value(), tail in proptest::sample::select(vec!["", " ", "\n", "x", "{}", ","])) {
            let text = format!("{v}{tail}");
            agrees(&text);
            for cut in 0..text.len() {
                if text.is_char_boundary(cut) { agrees(&text[..cut]); }
            }
        }

        #[test]
        fn structural_logdata(
            fields in proptest::collection::vec((proptest::sample::select(vec![
                "messageType", "owner", "logGroup", "logStream", "subscriptionFilters", "policyLevel", "logEvents", "x"]),
                typed_string(), value(), 0u8..10), 1..5),
            events in proptest::collection::vec(proptest::collection::vec((proptest::sample::select(vec![
                "id", "timestamp", "message", "eventId"]), typed_string(), value(),
                proptest::sample::select(vec!["0", "9", "10", "100000000000000000", "999999999999999999", "1000000000000000000", "00", "1 ", "1\n"]),
                0u8..10), 0..4), 0..4),
            ws in proptest::sample::select(vec!["", " ", "\n", "\r\n\t "]),
        ) {
            let pick = |k: &str, s: &String, v: &String, roll: u8| -> String {
                if roll == 0 { return v.clone(); }
                match k {
                    "subscriptionFilters" => format!("[{ws}{s}{ws},{ws}{s}{ws}]"),
                    _ => s.clone(),
                }
            };
            let mut parts: Vec<String> = fields.iter().filter(|f| f.0 != "logEvents").map(|(k, s, v, r)| format!("{ws}\"{k}\"{ws}:{ws}{}{ws}", pick(k, s, v, *r))).collect();
            let ev: Vec<String> = events.iter().map(|e| format!("{ws}{{{}}}{ws}", e.iter().map(|(k, s, v, t, r)| {
                let val = if *k == "timestamp" && *r != 0 { t.to_string() } else { pick(k, s, v, *r) };
                format!("{ws}\"{k}\"{ws}:{ws}{val}{ws}")
            }).collect::<Vec<_>>().join(","))).collect();
            parts.push(format!("\"logEvents\":[{}]", ev.join(",")));
            let text = format!("{ws}{{{}}}{ws}", parts.join(","));
            agrees(&text);
            for cut in 0..text.len() {
                if text.is_char_boundary(cut) { agrees(&text[..cut]); }
            }
        }
    }

    #[test]
    fn serde_accepted_plain_messages_are_taken() {
        // A message serde reads and that has no surrogate/control: we should take it (not a
        // contract, but a None here would be a missed fast path).
        for pad in 0..48 {
            for piece in PIECES {
                let text = wrap(&format!("{piece}{piece}{piece}"), pad);
                let s = serde_reading(&text);
                let ours = agrees(&text);
                if s.is_ok() && ours.is_none() {
                    // Expected only for surrogates or control bytes.
                    assert!(
                        piece.contains("\\ud")
                            || piece.contains("\\uD")
                            || piece.bytes().any(|c| c < 0x20),
                        "missed {piece:?} pad {pad}"
                    );
                }
            }
        }
    }

    #[test]
    fn long_strings() {
        for n in [65_535usize, 65_536, 65_537, 200_003] {
            for tail in ["", "\\\"", "\\u00e9", "é"] {
                let m = format!("{}{tail}", "ab\\\"cdé".repeat(n / 8));
                let text = wrap(&m, n % 17);
                assert!(agrees(&text).is_some());
                let big = format!("{}{tail}", "q".repeat(n));
                assert!(agrees(&wrap(&big, 3)).is_some());
            }
        }
    }

    #[test]
    fn event_cap() {
        let exactly = format!(
            r#"{{"logEvents":[{}]}}"#,
            vec!["{}"; MAX_EVENTS_PER_PAYLOAD].join(",")
        );
        let d = read(&exactly).expect("exactly the cap");
        assert_eq!(d.log_events.len(), MAX_EVENTS_PER_PAYLOAD);
        assert!(serde_reading(&exactly).is_ok());
    }
}
