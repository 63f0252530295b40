//! apigw-stream: Amazon API Gateway traffic, from CloudWatch Logs subscription payloads to an
//! API-security collector.
//!
//! The folders follow the data, and each stage is one type that the Lambda functions and
//! `apigw-stream local` both run:
//!
//! ```text
//! decode::DecodeStage   payload → logs → formats | execution → normalize → filter → frames
//!   │ transport: frame (NDJSON+gzip+base64 bodies) → queue (SQS | embedded)
//!   ├─ parts of requests not seen whole → stitch::StitchStage (FIFO stitch queue) → frames
//!   ▼
//! ship::ShipStage       frames → bridge (encode, windows, OAuth, POST) → settle (partial batch)
//! ```
//!
//! Beside the flow: `archive` (the Firehose tee and backfill), `config` (the settings registry and
//! the stages' settings), `runtime` (what the functions share: logs, metrics, init errors), and,
//! in CLI builds only, the control plane (`cli`, `ops`, `pipeline` for `local`, `generate`).
//! Everything here runs without AWS; the binaries under `functions/` only read their environment
//! and call into this crate. The design is in `docs/architecture.md`.

pub mod archive;
pub mod b64;
pub mod config;
#[cfg(feature = "ops")]
pub mod control;
pub mod decode;
pub mod gzip;
pub mod json;
pub mod runtime;
pub mod scratch;
pub mod ship;
pub mod stitch;
pub mod transaction;
pub mod transport;

pub use transaction::Transaction;
