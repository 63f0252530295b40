//! The decode Lambda: CloudWatch Logs subscription event → canonical records → SQS frames.
//! Configuration from the environment; all logic lives in the `apigw_stream` library.

use std::sync::Arc;

use apigw_stream::config::{DecodeConfig, ProcessEnv};
use apigw_stream::decode::{forward, summary_emf};
use apigw_stream::queue::{SendPolicy, SqsQueue};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

/// Kept across invocations: configuration and the SQS client (its connection pool).
struct State {
    config: DecodeConfig,
    queue: SqsQueue,
    policy: SendPolicy,
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    apigw_stream::telemetry::init_lambda();
    let config = DecodeConfig::from_env(&ProcessEnv)?;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let queue = SqsQueue::new(aws_sdk_sqs_client(&sdk), config.queue_url.clone());
    let state = Arc::new(State {
        config,
        queue,
        policy: SendPolicy::default(),
    });
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let state = Arc::clone(&state);
        async move { handle(&state, event).await }
    }))
    .await
}

fn aws_sdk_sqs_client(sdk: &aws_config::SdkConfig) -> apigw_stream::queue::SqsClient {
    apigw_stream::queue::SqsClient::new(sdk)
}

async fn handle(state: &State, event: LambdaEvent<Value>) -> Result<(), Error> {
    // The event is `{"awslogs":{"data":"…"}}`; our decoder takes it as bytes so it can apply
    // its size cap and name the cause of any failure.
    let input = serde_json::to_vec(&event.payload)?;
    let request_id = event.context.request_id;
    match forward(
        &input,
        "lambda event",
        &state.config.options,
        state.config.message_bytes,
        &state.queue,
        &state.policy,
    )
    .await
    {
        Ok(summary) => {
            tracing::info!(request_id, summary = %serde_json::to_string(&summary)?, "decode summary");
            apigw_stream::metrics::print_emf(&summary_emf(&summary, chrono_now_ms()));
            Ok(())
        }
        Err(e) => {
            tracing::error!(request_id, error = %e, "decode failed; Lambda will retry, then keep the event in the decode DLQ");
            Err(e.into())
        }
    }
}

fn chrono_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
