//! `ndjson`: canonical `apigw-stream/v1` records, one JSON object per line, for any collector that
//! takes newline-delimited JSON.

use crate::transaction::Transaction;

/// One record as a line, newline included.
pub fn encode(txn: &Transaction) -> Vec<u8> {
    txn.json_line()
}
