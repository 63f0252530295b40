//! `ndjson`: canonical `apigw-stream/v1` records, one JSON object per line, for any collector that
//! takes newline-delimited JSON.

use crate::transaction::Transaction;

/// One record as a line, newline included.
pub fn encode(txn: &Transaction) -> Vec<u8> {
    let mut line = Vec::with_capacity(1024);
    txn.write_json(&mut line);
    line.push(b'\n');
    line
}
