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
pub mod backoff;
pub mod bridge;
#[cfg(feature = "cli")]
pub mod cli;
pub mod clock;
pub mod config;
pub mod decode;
pub mod docs;
pub mod execution;
pub mod filter;
pub mod formats;
pub mod frame;
#[cfg(feature = "cli")]
pub mod generate;
pub mod lambda_init;
pub mod logs;
pub mod metrics;
pub mod normalize;
#[cfg(feature = "ops")]
pub mod ops;
#[cfg(feature = "cli")]
pub mod pipeline;
pub mod queue;
pub mod ship;
pub mod stitch;
pub mod telemetry;
pub mod transaction;
pub mod truncate;

pub use transaction::Transaction;
