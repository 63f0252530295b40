//! What the Lambda functions share beyond the stages: logging (tracing, JSON in Lambda), metrics
//! (CloudWatch embedded metric format), reporting an init error to the Runtime API, the clock.

pub mod clock;
pub mod lambda_init;
pub mod metrics;
pub mod telemetry;
