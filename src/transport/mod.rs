//! Transport: how records travel between the stages. Frames (NDJSON, gzip, base64 SQS bodies)
//! within SQS's limits, the queue (SQS, or the embedded one of `apigw-stream local`), and the
//! size and retry rules both sides share (truncation, backoff).

pub mod backoff;
pub mod frame;
pub mod queue;
pub mod truncate;
