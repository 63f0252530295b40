//! The decode Lambda: CloudWatch Logs subscription event → canonical records → SQS frames.
//! Configuration from the environment; all logic lives in the `apigw_stream` library.

use std::sync::Arc;

use apigw_stream::archive::{ArchivePolicy, Archiver, FirehoseClient, FirehoseSink};
use apigw_stream::config::{DecodeConfig, ProcessEnv};
use apigw_stream::decode::{forward_archived, summary_emf};
use apigw_stream::queue::{SendPolicy, SqsClient, SqsQueue};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

/// Kept across invocations: configuration and the SQS client (its connection pool).
struct State {
    config: DecodeConfig,
    queue: SqsQueue,
    policy: SendPolicy,
    /// The Firehose tee, when `ARCHIVE_STREAM` is set.
    archive: Option<Archiver>,
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    apigw_stream::telemetry::init_lambda();
    let config = match DecodeConfig::from_env(&ProcessEnv) {
        Ok(c) => c,
        Err(e) => {
            apigw_stream::lambda_init::report_init_error("ConfigError", &e.to_string()).await;
            return Err(e.into());
        }
    };
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let queue = SqsQueue::new(SqsClient::new(&sdk), config.queue_url.clone());
    let archive = config.archive_stream.as_ref().map(|stream| {
        let sink = FirehoseSink::new(FirehoseClient::new(&sdk), stream.clone());
        Archiver::new(Arc::new(sink), ArchivePolicy::default())
    });
    let state = Arc::new(State {
        config,
        queue,
        policy: SendPolicy::default(),
        archive,
    });
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let state = Arc::clone(&state);
        async move { handle(&state, event).await }
    }))
    .await
}

async fn handle(state: &State, event: LambdaEvent<Value>) -> Result<(), Error> {
    // The event is `{"awslogs":{"data":"…"}}`: hand the base64 string to our decoder as it is (it
    // applies the size cap and names the cause of a failure); anything else is passed whole.
    let reserialized;
    let input: &[u8] = match event
        .payload
        .pointer("/awslogs/data")
        .and_then(Value::as_str)
    {
        // An event with nothing in it (seen from test tools, never from CloudWatch Logs) holds
        // no records: counted as a success rather than retried into the DLQ.
        Some(data) if data.trim().is_empty() => {
            tracing::warn!(request_id = %event.context.request_id, "event with an empty awslogs.data; nothing to decode");
            return Ok(());
        }
        Some(data) => data.as_bytes(),
        None => {
            reserialized = serde_json::to_vec(&event.payload)?;
            &reserialized
        }
    };
    let request_id = event.context.request_id;
    match forward_archived(
        input,
        "lambda event",
        &state.config.options,
        state.config.message_bytes,
        &state.queue,
        &state.policy,
        state.archive.as_ref(),
    )
    .await
    {
        Ok(summary) => {
            tracing::info!(request_id, summary = %serde_json::to_string(&summary)?, "decode summary");
            apigw_stream::metrics::print_emf(&summary_emf(&summary, apigw_stream::clock::now_ms()));
            Ok(())
        }
        Err(e) => {
            tracing::error!(request_id, error = %e, "decode failed; Lambda will retry, then keep the event in the decode DLQ");
            Err(e.into())
        }
    }
}
