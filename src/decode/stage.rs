//! The decode stage: the one implementation of "a subscription payload → frames on the main queue,
//! fragments on the stitch queue, records to the archive", called by the decode Lambda and by
//! `apigw-stream local` alike.
//!
//! What differs between the two is only where things go ([`DecodeOutputs`]): the Lambda sends to
//! SQS; `local` sends to its queue through sinks that also keep its ledger. The CPU work
//! ([`DecodeStage::decode`]) and the sends ([`DecodeStage::deliver`]) are two steps so that a caller
//! with an async runtime can keep the first off its workers.

use async_trait::async_trait;

use super::{decode_bytes, decode_split, DecodeError, DecodeOptions, DecodeStats, Split};
use super::{Fragment, FragmentError, JoinRule};
use crate::archive::Archiver;
use crate::transaction::Transaction;
use crate::transport::frame::{self, Frame, FrameError};
use crate::transport::queue::{send_all, FrameSink, Queue, QueueError, SendPolicy, SendReport};

/// Why a payload was not forwarded. Every variant names the payload's source; any of them fails
/// the Lambda invocation, so Lambda retries it and finally keeps it in the decode DLQ.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("payload from {source_name}: {cause}")]
    Payload {
        source_name: String,
        cause: DecodeError,
    },
    #[error("payload from {source_name}: {cause}")]
    Frame {
        source_name: String,
        cause: FrameError,
    },
    #[error("payload from {source_name}: sending to the queue failed: {cause}")]
    Queue {
        source_name: String,
        cause: QueueError,
    },
    #[error("payload from {source_name}: {cause}")]
    Fragment {
        source_name: String,
        cause: FragmentError,
    },
    #[error("payload from {source_name}: {count} request parts to stitch but no stitch queue")]
    NoStitchQueue { source_name: String, count: usize },
}

/// Where the stitch parts of a payload go.
#[async_trait]
pub trait FragmentSink: Send + Sync {
    async fn send(
        &self,
        fragments: Vec<Fragment>,
        message_bytes: usize,
    ) -> Result<SendReport, FragmentSendError>;
}

/// A fragment could not be encoded, or its messages not sent.
#[derive(Debug, thiserror::Error)]
pub enum FragmentSendError {
    #[error(transparent)]
    Encode(#[from] FragmentError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// The stitch queue as a [`FragmentSink`] (the decode Lambda's).
pub struct QueueFragments<'a> {
    pub queue: &'a dyn Queue,
    pub policy: &'a SendPolicy,
}

#[async_trait]
impl FragmentSink for QueueFragments<'_> {
    async fn send(
        &self,
        fragments: Vec<Fragment>,
        message_bytes: usize,
    ) -> Result<SendReport, FragmentSendError> {
        let messages = crate::decode::fragment::to_messages(fragments, message_bytes)?;
        Ok(send_all(self.queue, messages, self.policy).await?)
    }
}

/// Where a decoded payload goes.
pub struct DecodeOutputs<'a> {
    /// The main queue.
    pub frames: &'a dyn FrameSink,
    /// The Firehose tee, when on: the records the main queue accepted.
    pub archive: Option<&'a Archiver>,
    /// The stitch queue, when the stage stitches.
    pub fragments: Option<&'a dyn FragmentSink>,
}

/// One payload decoded and framed, not yet sent.
#[derive(Debug)]
pub struct Decoded {
    pub source_name: String,
    /// The records that fit a message, in frame order.
    pub records: Vec<Transaction>,
    pub frames: Vec<Frame>,
    /// Requests not seen whole, for the stitch queue.
    pub fragments: Vec<Fragment>,
    pub stats: DecodeStats,
}

/// The decode stage, built once from its settings.
#[derive(Debug, Clone)]
pub struct DecodeStage {
    pub options: DecodeOptions,
    /// `MESSAGE_BYTES`: the bound on one queue message.
    pub message_bytes: usize,
    /// Stitching on: which stages join their access logs with their execution logs. `None`:
    /// stitching off, each payload's requests are delivered as they are.
    pub join: Option<JoinRule>,
}

impl DecodeStage {
    pub fn new(options: DecodeOptions, message_bytes: usize, join: Option<JoinRule>) -> Self {
        DecodeStage {
            options,
            message_bytes,
            join,
        }
    }

    /// Decode, filter and frame one payload (CPU work, no I/O). A record that fits no message even
    /// cut is left out, named in an error line and counted (`records_unfit`).
    pub fn decode(&self, input: &[u8], source_name: &str) -> Result<Decoded, ForwardError> {
        let mut stats = DecodeStats::default();
        let mut fragments = Vec::new();
        let decoded = match &self.join {
            Some(join) => {
                let mut split = Split {
                    fragments: &mut fragments,
                    join,
                };
                decode_split(input, &self.options, &mut stats, &mut split)
            }
            None => decode_bytes(input, &self.options, &mut stats),
        };
        let records = decoded.map_err(|cause| ForwardError::Payload {
            source_name: source_name.to_string(),
            cause,
        })?;
        let (records, frames) = self.frame(records, source_name, &mut stats)?;
        Ok(Decoded {
            source_name: source_name.to_string(),
            records,
            frames,
            fragments,
            stats,
        })
    }

    /// Frames for the records; returns the records that fit, in frame order.
    fn frame(
        &self,
        records: Vec<Transaction>,
        source_name: &str,
        stats: &mut DecodeStats,
    ) -> Result<(Vec<Transaction>, Vec<Frame>), ForwardError> {
        if records.is_empty() {
            return Ok((records, Vec::new()));
        }
        let packed = frame::pack_isolating(&records, self.message_bytes).map_err(|cause| {
            ForwardError::Frame {
                source_name: source_name.to_string(),
                cause,
            }
        })?;
        for u in &packed.unfit {
            tracing::error!(
                source = source_name,
                record = %u.id,
                bytes = u.bytes,
                limit = self.message_bytes,
                "record too large for a message even cut; not sent (counted in records_unfit), the payload's other records are"
            );
        }
        stats.records_unfit = packed.unfit.len() as u64;
        Ok((packed.fitting(records), packed.frames))
    }

    /// Send a decoded payload: frames to the main queue, then (once it accepted them all) the
    /// same records to the archive, then the fragments to the stitch queue. The archive never
    /// fails the payload (see [`crate::archive`]).
    pub async fn deliver(
        &self,
        decoded: Decoded,
        out: &DecodeOutputs<'_>,
    ) -> Result<DecodeStats, ForwardError> {
        let Decoded {
            source_name,
            records,
            frames,
            fragments,
            mut stats,
        } = decoded;
        if !frames.is_empty() {
            let report =
                out.frames
                    .send(&records, frames)
                    .await
                    .map_err(|cause| ForwardError::Queue {
                        source_name: source_name.clone(),
                        cause,
                    })?;
            stats.messages_sent = report.messages as u64;
            stats.message_bytes = report.bytes as u64;
            stats.send_calls = report.calls as u64;
            stats.send_retried = report.retried as u64;
        }
        if let (Some(archiver), false) = (out.archive, records.is_empty()) {
            let a = archiver.archive(&records).await;
            stats.archived_records = a.records;
            stats.archive_failed_records = a.failed_records;
        }
        if fragments.is_empty() {
            return Ok(stats);
        }
        let Some(sink) = out.fragments else {
            return Err(ForwardError::NoStitchQueue {
                source_name,
                count: fragments.len(),
            });
        };
        let report = sink
            .send(fragments, self.message_bytes)
            .await
            .map_err(|e| match e {
                FragmentSendError::Encode(cause) => ForwardError::Fragment {
                    source_name: source_name.clone(),
                    cause,
                },
                FragmentSendError::Queue(cause) => ForwardError::Queue {
                    source_name: source_name.clone(),
                    cause,
                },
            })?;
        stats.fragment_messages = report.messages as u64;
        stats.send_calls += report.calls as u64;
        stats.send_retried += report.retried as u64;
        Ok(stats)
    }

    /// [`decode`](Self::decode), then [`deliver`](Self::deliver).
    pub async fn run(
        &self,
        input: &[u8],
        source_name: &str,
        out: &DecodeOutputs<'_>,
    ) -> Result<DecodeStats, ForwardError> {
        let decoded = self.decode(input, source_name)?;
        self.deliver(decoded, out).await
    }
}
