//! apigw-stream: Amazon API Gateway access logs, from CloudWatch Logs subscription payloads to an
//! API-security collector.
//!
//! The data flow, module by module:
//!
//! ```text
//! logs (payload → LogData) → formats (line → fields) → normalize (→ Transaction)
//!   | execution (REST execution-log lines → grouped by request → Transaction)
//!   → filter (drop on purpose, redact) → frame (NDJSON+gzip+base64 SQS bodies) → queue (SQS | embedded)
//!   → ship (unpack → bridge::encode → bridge::window → bridge::client POST) → SqsBatchResponse
//! ```
//!
//! Everything here runs without AWS; the Lambda binaries under `functions/` only read their
//! environment and call into this crate. The design, the record and the settings are described in
//! `docs/architecture.md`.

pub mod archive;
#[cfg(feature = "cli")]
pub mod aws;
#[cfg(feature = "cli")]
pub mod cli;
pub mod config;
pub mod decode;
pub mod docs;
#[cfg(feature = "cli")]
pub mod generate;
#[cfg(feature = "ops")]
pub mod ops;
#[cfg(feature = "cli")]
pub mod pipeline;
pub mod runtime;
pub mod ship;
pub mod stitch;
pub mod transaction;
pub mod transport;

pub use transaction::Transaction;
