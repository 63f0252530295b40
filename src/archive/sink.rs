//! Where archive chunks go: a Firehose delivery stream, or a directory with the same layout and
//! object format as the S3 bucket behind the stream (for `local --archive-dir` and tests).

use std::path::PathBuf;

use async_trait::async_trait;
use aws_sdk_firehose::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::Record;
use bytes::Bytes;

/// A failed call (every entry failed). `retryable` is false when trying again cannot help (the
/// stream does not exist, access denied, invalid request).
#[derive(Debug, thiserror::Error)]
#[error("{sink}: {message}")]
pub struct SinkError {
    pub sink: String,
    pub message: String,
    pub retryable: bool,
}

/// One entry's failure inside an accepted call (`PutRecordBatch`'s per-entry `ErrorCode`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryError {
    pub code: String,
    pub message: String,
}

#[async_trait]
pub trait ArchiveSink: Send + Sync {
    /// Named in logs and errors (the stream name, or the directory).
    fn name(&self) -> &str;
    /// Put one batch (≤ 500 records, ≤ 4 MiB). `Ok` holds one result per entry, in order.
    async fn put_batch(&self, records: &[Bytes]) -> Result<Vec<Option<EntryError>>, SinkError>;
}

/// An Amazon Data Firehose delivery stream.
pub struct FirehoseSink {
    client: aws_sdk_firehose::Client,
    stream: String,
}

impl FirehoseSink {
    pub fn new(client: aws_sdk_firehose::Client, stream: impl Into<String>) -> Self {
        FirehoseSink {
            client,
            stream: stream.into(),
        }
    }
}

/// Error codes after which the same call would fail again.
const PERMANENT_CODES: &[&str] = &[
    "ResourceNotFoundException",
    "InvalidArgumentException",
    "AccessDeniedException",
    "InvalidKMSResourceException",
    "ValidationException",
];

#[async_trait]
impl ArchiveSink for FirehoseSink {
    fn name(&self) -> &str {
        &self.stream
    }

    async fn put_batch(&self, records: &[Bytes]) -> Result<Vec<Option<EntryError>>, SinkError> {
        let entries = records
            .iter()
            .map(|d| Record::builder().data(Blob::new(d.to_vec())).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| SinkError {
                sink: self.stream.clone(),
                message: e.to_string(),
                retryable: false,
            })?;
        let out = self
            .client
            .put_record_batch()
            .delivery_stream_name(&self.stream)
            .set_records(Some(entries))
            .send()
            .await
            .map_err(|e| {
                let code = e.code().unwrap_or("").to_string();
                SinkError {
                    sink: self.stream.clone(),
                    message: format!("PutRecordBatch failed: {}", DisplayErrorContext(&e)),
                    retryable: !PERMANENT_CODES.contains(&code.as_str()),
                }
            })?;
        let mut results: Vec<Option<EntryError>> = out
            .request_responses()
            .iter()
            .map(|r| {
                r.error_code().map(|code| EntryError {
                    code: code.to_string(),
                    message: r.error_message().unwrap_or("").to_string(),
                })
            })
            .collect();
        // A response shorter than the request would leave entries unaccounted: count them failed.
        results.resize(
            records.len(),
            Some(EntryError {
                code: "MissingResponse".into(),
                message: "PutRecordBatch returned fewer responses than records".into(),
            }),
        );
        Ok(results)
    }
}

/// A directory laid out like the bucket: `DIR/apigw-stream/v1/year=…/hour=…/NAME.gz`, each object
/// the gzip of the concatenated chunks of one call, as Firehose writes them with GZIP on.
pub struct DirSink {
    dir: PathBuf,
    name: String,
}

impl DirSink {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        let name = dir.display().to_string();
        DirSink { dir, name }
    }
}

#[async_trait]
impl ArchiveSink for DirSink {
    fn name(&self) -> &str {
        &self.name
    }

    async fn put_batch(&self, records: &[Bytes]) -> Result<Vec<Option<EntryError>>, SinkError> {
        let dir = self.dir.clone();
        let records = records.to_vec();
        let n = records.len();
        let written = tokio::task::spawn_blocking(move || write_object(&dir, &records)).await;
        let fail = |message: String| SinkError {
            sink: self.name.clone(),
            message,
            retryable: true,
        };
        match written {
            Ok(Ok(())) => Ok(vec![None; n]),
            Ok(Err(e)) => Err(fail(e.to_string())),
            Err(e) => Err(fail(e.to_string())),
        }
    }
}

fn write_object(dir: &std::path::Path, records: &[Bytes]) -> std::io::Result<()> {
    use std::io::Write;
    let now = chrono::Utc::now();
    let folder = dir.join(super::partition(now.timestamp_millis()));
    std::fs::create_dir_all(&folder)?;
    let name = format!(
        "apigw-stream-archive-1-{}-{}.gz",
        now.format("%Y-%m-%d-%H-%M-%S"),
        uuid::Uuid::new_v4()
    );
    // Written under a temporary name and renamed, so a reader never sees half an object.
    let tmp = folder.join(format!(".{name}.tmp"));
    let mut gz = flate2::write::GzEncoder::new(
        std::io::BufWriter::new(std::fs::File::create(&tmp)?),
        flate2::Compression::default(),
    );
    for r in records {
        gz.write_all(r)?;
    }
    gz.finish()?.flush()?;
    std::fs::rename(&tmp, folder.join(name))
}
