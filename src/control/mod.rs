//! The control plane: what works on a deployed account or drives the pipeline from a terminal,
//! apart from the data path the Lambda functions run. The decode and shipper functions build
//! without it; the control function takes `ops` only.
//!
//! - `ops`: discover APIs, plan and apply enable/disable, replay, auto-enable, health;
//! - `cli` (CLI builds): one module per subcommand;
//! - `pipeline` (CLI builds): `apigw-stream local`, the stages in one process with a ledger;
//! - `generate` (CLI builds): synthetic access and execution logs;
//! - `docs` (CLI builds): documents generated from the code (the metrics table);
//! - `aws` (CLI builds): the SDK configuration of the command line and the emulators.

#[cfg(feature = "cli")]
pub mod aws;
#[cfg(feature = "cli")]
pub mod cli;
#[cfg(feature = "cli")]
pub mod docs;
#[cfg(feature = "cli")]
pub mod generate;
pub mod ops;
#[cfg(feature = "cli")]
pub mod pipeline;
