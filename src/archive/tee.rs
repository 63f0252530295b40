//! The archiver the decode path calls after the queue accepted a payload's frames: pack, put,
//! retry failed entries with backoff, and report; it never returns an error, so the archive can't
//! fail a delivery.
//!
//! Waits between attempts follow the crate's one backoff policy (`crate::transport::backoff`, equal jitter).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;

use super::chunk::{self, Chunk, MAX_RECORD_BYTES};
use super::sink::ArchiveSink;
use crate::transaction::Transaction;
use crate::transport::backoff::{Backoff, Jitter};

#[derive(Debug, Clone)]
pub struct ArchivePolicy {
    /// Attempts per entry, the first included.
    pub attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Firehose record size bound (tests use a small one to exercise packing).
    pub record_bytes: usize,
}

impl Default for ArchivePolicy {
    fn default() -> Self {
        // Short: a slow archive must not hold the decode Lambda long (≈ 0.7 s at worst per batch).
        ArchivePolicy {
            attempts: 4,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            record_bytes: MAX_RECORD_BYTES,
        }
    }
}

/// What one `archive` call did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ArchiveReport {
    /// Transactions accepted by the archive.
    pub records: u64,
    /// Firehose records (chunks) accepted.
    pub chunks: u64,
    pub bytes: u64,
    pub calls: u64,
    /// Entries put again after a failure.
    pub retried: u64,
    /// Transactions not archived after every attempt (or too large even cut).
    pub failed_records: u64,
    /// Records cut to fit one Firehose record.
    pub cut_records: u64,
}

impl ArchiveReport {
    pub fn add(&mut self, o: &ArchiveReport) {
        self.records += o.records;
        self.chunks += o.chunks;
        self.bytes += o.bytes;
        self.calls += o.calls;
        self.retried += o.retried;
        self.failed_records += o.failed_records;
        self.cut_records += o.cut_records;
    }
}

/// The tee: a sink and a retry policy.
#[derive(Clone)]
pub struct Archiver {
    sink: Arc<dyn ArchiveSink>,
    policy: ArchivePolicy,
}

impl Archiver {
    pub fn new(sink: Arc<dyn ArchiveSink>, policy: ArchivePolicy) -> Self {
        Archiver { sink, policy }
    }

    pub fn name(&self) -> &str {
        self.sink.name()
    }

    /// Archive `records`. Failures are counted and logged, never returned.
    pub async fn archive(&self, records: &[Transaction]) -> ArchiveReport {
        let packed = chunk::pack(records, self.policy.record_bytes.min(MAX_RECORD_BYTES));
        let mut report = ArchiveReport {
            failed_records: packed.too_large as u64,
            cut_records: packed.cut as u64,
            ..ArchiveReport::default()
        };
        for batch in chunk::batches(packed.chunks) {
            self.put_with_retry(batch, &mut report).await;
        }
        if report.failed_records > 0 {
            tracing::error!(
                archive = self.sink.name(),
                failed_records = report.failed_records,
                archived_records = report.records,
                "records not archived; they were still sent to the queue"
            );
        }
        report
    }

    async fn put_with_retry(&self, mut pending: Vec<Chunk>, report: &mut ArchiveReport) {
        let backoff = Backoff::new(
            self.policy.initial_backoff,
            self.policy.max_backoff,
            Jitter::Equal,
        );
        let attempts = self.policy.attempts.max(1);
        for attempt in 1..=attempts {
            let data: Vec<Bytes> = pending.iter().map(|c| c.data.clone()).collect();
            report.calls += 1;
            let retryable = match self.sink.put_batch(&data).await {
                Ok(results) => {
                    let mut failed = Vec::new();
                    let mut first = None;
                    for (c, r) in pending.into_iter().zip(results) {
                        match r {
                            None => {
                                report.records += c.records as u64;
                                report.chunks += 1;
                                report.bytes += c.data.len() as u64;
                            }
                            Some(e) => {
                                first.get_or_insert(e);
                                failed.push(c);
                            }
                        }
                    }
                    pending = failed;
                    if let Some(e) = first {
                        tracing::warn!(archive = self.sink.name(), attempt, failed = pending.len(), code = %e.code, message = %e.message, "archive entries failed");
                    }
                    true
                }
                Err(e) => {
                    tracing::warn!(archive = self.sink.name(), attempt, error = %e, "archive call failed");
                    e.retryable
                }
            };
            if pending.is_empty() {
                return;
            }
            if !retryable || attempt == attempts {
                break;
            }
            report.retried += pending.len() as u64;
            tokio::time::sleep(backoff.delay(attempt)).await;
        }
        report.failed_records += pending.iter().map(|c| c.records as u64).sum::<u64>();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::sink::{EntryError, SinkError};
    use crate::transaction::Source;
    use async_trait::async_trait;
    use std::sync::Mutex;

    /// A sink that fails the entries the script names, call by call, and keeps what it accepted.
    /// (The happy path and a dead stream run against moto's Firehose; moto cannot fail entries.)
    struct Scripted {
        fail: Mutex<Vec<Result<Vec<usize>, bool>>>,
        accepted: Mutex<Vec<Bytes>>,
    }

    #[async_trait]
    impl ArchiveSink for Scripted {
        fn name(&self) -> &str {
            "scripted"
        }
        async fn put_batch(&self, records: &[Bytes]) -> Result<Vec<Option<EntryError>>, SinkError> {
            let step = {
                let mut f = self.fail.lock().unwrap();
                if f.is_empty() {
                    Ok(vec![])
                } else {
                    f.remove(0)
                }
            };
            let failing = match step {
                Ok(v) => v,
                Err(retryable) => {
                    return Err(SinkError {
                        sink: "scripted".into(),
                        message: "down".into(),
                        retryable,
                    })
                }
            };
            let mut out = Vec::new();
            for (i, r) in records.iter().enumerate() {
                if failing.contains(&i) {
                    out.push(Some(EntryError {
                        code: "ServiceUnavailableException".into(),
                        message: "slow down".into(),
                    }));
                } else {
                    self.accepted.lock().unwrap().push(r.clone());
                    out.push(None);
                }
            }
            Ok(out)
        }
    }

    fn recs(n: usize) -> Vec<Transaction> {
        (0..n)
            .map(|i| {
                let mut t = Transaction::new(
                    format!("id-{i}"),
                    1_700_000_000_000 + i as i64,
                    Source::default(),
                );
                t.request.path = Some(format!("/p/{}", "x".repeat(200)));
                t
            })
            .collect()
    }

    fn archiver(script: Vec<Result<Vec<usize>, bool>>) -> (Archiver, Arc<Scripted>) {
        let sink = Arc::new(Scripted {
            fail: Mutex::new(script),
            accepted: Mutex::new(vec![]),
        });
        let policy = ArchivePolicy {
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(2),
            record_bytes: 4096,
            ..ArchivePolicy::default()
        };
        (Archiver::new(sink.clone(), policy), sink)
    }

    fn ids(sink: &Scripted) -> Vec<String> {
        let mut v: Vec<String> = sink
            .accepted
            .lock()
            .unwrap()
            .iter()
            .flat_map(|c| {
                c.split(|b| *b == b'\n')
                    .filter(|l| !l.is_empty())
                    .map(|l| serde_json::from_slice::<Transaction>(l).unwrap().id)
                    .collect::<Vec<_>>()
            })
            .collect();
        v.sort();
        v
    }

    #[tokio::test]
    async fn partial_failures_are_retried_until_every_record_is_in() {
        let records = recs(100);
        let (a, sink) = archiver(vec![Ok(vec![0, 2, 3]), Err(true), Ok(vec![1])]);
        let r = a.archive(&records).await;
        let mut want: Vec<String> = records.iter().map(|t| t.id.clone()).collect();
        want.sort();
        assert_eq!(ids(&sink), want);
        assert_eq!((r.records, r.failed_records, r.calls), (100, 0, 4));
        assert_eq!(r.retried, 3 + 3 + 1);
    }

    #[tokio::test]
    async fn persistent_failure_is_counted_not_returned() {
        let records = recs(50);
        let (a, sink) = archiver(vec![Ok(vec![0]); 10]);
        let r = a.archive(&records).await;
        let lost_chunk = 50 - ids(&sink).len() as u64;
        assert!(lost_chunk > 0);
        assert_eq!(r.failed_records, lost_chunk);
        assert_eq!(r.records + r.failed_records, 50);
        assert_eq!(r.calls, 4);
    }

    #[tokio::test]
    async fn a_permanent_error_is_not_retried() {
        let (a, _) = archiver(vec![Err(false)]);
        let r = a.archive(&recs(5)).await;
        assert_eq!((r.calls, r.failed_records, r.retried), (1, 5, 0));
    }
}
