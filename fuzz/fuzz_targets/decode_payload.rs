#![no_main]
//! Any bytes as a subscription payload: decoding must return records or an error, never panic,
//! and never hold more than the cap in memory.

use apigw_stream::decode::{decode_bytes, DecodeOptions, DecodeStats};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let opts = DecodeOptions {
        max_payload_bytes: 1 << 20,
        ..DecodeOptions::default()
    };
    let mut stats = DecodeStats::default();
    if let Ok(records) = decode_bytes(data, &opts, &mut stats) {
        assert_eq!(records.len() as u64, stats.records);
        assert_eq!(
            stats.log_events,
            stats.records + stats.lines_unparsed + stats.lines_not_api + stats.filtered
        );
    }
});
