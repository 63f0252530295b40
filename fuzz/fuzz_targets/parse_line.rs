#![no_main]
//! Any text as an access-log line: a record or a line error, never a panic.

use apigw_stream::decode::formats::parse_line;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(line) = std::str::from_utf8(data) {
        let _ = parse_line(line);
    }
});
