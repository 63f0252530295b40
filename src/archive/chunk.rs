//! Packing records for Firehose: NDJSON chunks close to the 1,000 KiB record limit (Firehose bills
//! each record rounded up to 5 KB, so one record per transaction would cost far more), and chunks
//! into `PutRecordBatch` calls of at most 500 records and 4 MiB.

use bytes::Bytes;

use crate::transaction::Transaction;

/// Largest Firehose record (1,000 KiB, before base64).
pub const MAX_RECORD_BYTES: usize = 1000 * 1024;
/// Records per `PutRecordBatch` call.
pub const MAX_BATCH_RECORDS: usize = 500;
/// Bytes per `PutRecordBatch` call.
pub const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;

/// One Firehose record: whole NDJSON lines, each ending in `\n`.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    pub data: Bytes,
    /// Transactions in it.
    pub records: usize,
}

/// The chunks of some records, and what packing had to do to them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Packed {
    pub chunks: Vec<Chunk>,
    /// Records whose bodies and headers were cut to fit one Firehose record.
    pub cut: usize,
    /// Records that did not fit even cut (logged by id and counted as not archived).
    pub too_large: usize,
}

/// Pack records, in order, into chunks of at most `limit` bytes (normally [`MAX_RECORD_BYTES`]).
pub fn pack(records: &[Transaction], limit: usize) -> Packed {
    let mut out = Packed::default();
    let mut buf: Vec<u8> = Vec::new();
    let mut in_buf = 0;
    for r in records {
        // One cutting rule for every destination (crate::transport::truncate).
        let fitted =
            crate::transport::truncate::fit(r, Transaction::json_line, |l| l.len() <= limit);
        let l = fitted.encoded;
        if fitted.oversize {
            out.too_large += 1;
            tracing::warn!(id = %r.id, bytes = l.len(), "record too large for the archive even cut");
            continue;
        }
        if fitted.truncated {
            out.cut += 1;
        }
        if buf.len() + l.len() > limit {
            out.chunks.push(Chunk {
                data: Bytes::from(std::mem::take(&mut buf)),
                records: in_buf,
            });
            in_buf = 0;
        }
        buf.extend_from_slice(&l);
        in_buf += 1;
    }
    if in_buf > 0 {
        out.chunks.push(Chunk {
            data: Bytes::from(buf),
            records: in_buf,
        });
    }
    out
}

/// Split chunks into call batches within Firehose's per-call limits, in order.
pub fn batches(chunks: Vec<Chunk>) -> Vec<Vec<Chunk>> {
    let mut out: Vec<Vec<Chunk>> = Vec::new();
    let mut size = 0;
    for c in chunks {
        let s = c.data.len();
        match out.last_mut() {
            Some(b) if b.len() < MAX_BATCH_RECORDS && size + s <= MAX_BATCH_BYTES => {
                size += s;
                b.push(c);
            }
            _ => {
                size = s;
                out.push(vec![c]);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::Source;

    fn rec(i: usize, ua: usize) -> Transaction {
        let mut t = Transaction::new(
            format!("r{i}"),
            1_700_000_000_000 + i as i64,
            Source::default(),
        );
        t.request
            .headers
            .insert("user-agent".into(), vec!["u".repeat(ua)]);
        t
    }

    #[test]
    fn chunks_are_full_lines_within_the_limit_and_keep_every_record() {
        let recs: Vec<_> = (0..3000).map(|i| rec(i, i % 700)).collect();
        let packed = pack(&recs, MAX_RECORD_BYTES);
        assert!(packed.chunks.len() > 1);
        let mut back = Vec::new();
        for c in &packed.chunks {
            assert!(c.data.len() <= MAX_RECORD_BYTES);
            assert!(c.data.ends_with(b"\n"));
            let lines: Vec<Transaction> = c
                .data
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| serde_json::from_slice(l).unwrap())
                .collect();
            assert_eq!(lines.len(), c.records);
            back.extend(lines);
        }
        assert_eq!(back, recs);
        // Every chunk but the last is close to the limit (no one-record-per-call waste).
        for c in &packed.chunks[..packed.chunks.len() - 1] {
            assert!(c.data.len() > MAX_RECORD_BYTES - 2_000, "{}", c.data.len());
        }
    }

    #[test]
    fn an_oversized_record_is_cut_not_dropped() {
        let packed = pack(&[rec(1, 10), rec(2, 50_000)], 8 * 1024);
        assert_eq!(packed.cut, 1);
        assert_eq!(packed.chunks.iter().map(|c| c.records).sum::<usize>(), 2);
    }

    #[test]
    fn batches_respect_count_and_bytes() {
        let small = |n| Chunk {
            data: Bytes::from(vec![b'x'; n]),
            records: 1,
        };
        let b = batches((0..1200).map(|_| small(10)).collect());
        assert_eq!(
            b.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![500, 500, 200]
        );
        let b = batches((0..9).map(|_| small(MAX_RECORD_BYTES)).collect());
        for batch in &b {
            assert!(batch.iter().map(|c| c.data.len()).sum::<usize>() <= MAX_BATCH_BYTES);
        }
        assert_eq!(b.iter().map(Vec::len).sum::<usize>(), 9);
    }
}
