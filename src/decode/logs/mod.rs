//! CloudWatch Logs subscription payloads: every form a user or a Lambda meets, detected
//! automatically, decoded to [`LogData`] with a cap on decompressed size.
//!
//! Forms: the Lambda event `{"awslogs":{"data":"<base64>"}}` (padded or not), a bare base64 string,
//! raw gzip (several concatenated members, as Firehose writes to S3), decompressed LogData JSON,
//! a file with one Lambda event (or LogData) per line, and the events of the other subscription
//! destinations: Kinesis Data Streams (`{"Records":[{"kinesis":{"data":…}}]}`) and a Firehose
//! transformation Lambda (`{"records":[{"recordId":…,"data":…}]}`), each record one gzip LogData.

mod detect;
mod envelope;
mod gunzip;
mod logdata;
mod surrogates;

pub use detect::{decode_payload, MAX_EVENTS_PER_PAYLOAD};
pub use gunzip::gunzip_capped;
pub use logdata::{LogData, LogEvent, MessageType};
pub use surrogates::repair_lone_surrogates;

/// Default cap on decompressed bytes per input, all its gzip members and events together
/// (`MAX_PAYLOAD_BYTES`).
pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 64 * 1024 * 1024;

/// Why a payload could not be decoded. Display names the cause; callers add which input it was.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("empty payload")]
    Empty,
    #[error("invalid base64: {0}")]
    Base64(String),
    #[error("invalid gzip data: {0}")]
    Gzip(String),
    #[error("decompressed data exceeds the limit of {limit} bytes (MAX_PAYLOAD_BYTES); refusing a possible gzip bomb")]
    TooLarge { limit: usize },
    #[error("more than {limit} log events in one input; refusing it whole (split the file)")]
    TooManyEvents { limit: usize },
    #[error("invalid JSON: {0}")]
    Json(String),
    #[error("not a CloudWatch Logs payload: {0}")]
    NotAPayload(String),
}
