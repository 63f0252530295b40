//! `ndjson`: canonical `apigw-stream/v1` records, one JSON object per line, for any collector that
//! takes newline-delimited JSON.

use crate::transaction::Transaction;

/// One record as a line, newline included.
pub fn encode(txn: &Transaction) -> Vec<u8> {
    // The record is plain data: serialization cannot fail.
    let mut line = crate::json::to_vec(txn);
    line.push(b'\n');
    line
}
