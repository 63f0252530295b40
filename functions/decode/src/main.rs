//! The decode Lambda: CloudWatch Logs subscription event → canonical records → SQS frames.
//! With `STITCH_QUEUE_URL` set it also consumes the stitch queue (its SQS events), joining the
//! parts of requests that arrived in different deliveries (docs/stitching.md).
//! Configuration from the environment; all logic lives in the `apigw_stream` library.

/// mimalloc, as the CLI: the allocator bench measures it faster on the decode and encode paths.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;

use apigw_stream::archive::{ArchivePolicy, Archiver, FirehoseClient, FirehoseSink};
use apigw_stream::config::{DecodeConfig, ProcessEnv};
use apigw_stream::decode::{summary_emf, DecodeOutputs, DecodeStage, QueueFragments};
use apigw_stream::stitch::StitchStage;
use apigw_stream::transport::queue::{
    in_messages, is_sqs_event, QueueSink, SendPolicy, SqsClient, SqsQueue,
};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

/// Kept across invocations: the stages and the SQS client (its connection pool).
struct State {
    decode: DecodeStage,
    stitch: StitchStage,
    queue: SqsQueue,
    policy: SendPolicy,
    /// The Firehose tee, when `ARCHIVE_STREAM` is set.
    archive: Option<Archiver>,
    /// The stitch queue, when `STITCH_QUEUE_URL` is set.
    stitch_queue: Option<SqsQueue>,
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    apigw_stream::config::init_lambda_logging();
    let config = match DecodeConfig::from_env(&ProcessEnv) {
        Ok(c) => c,
        Err(e) => {
            apigw_stream::runtime::lambda_init::report_init_error("ConfigError", &e.to_string())
                .await;
            return Err(e.into());
        }
    };
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let stitch_queue = config
        .stitch_queue_url
        .as_ref()
        .map(|url| SqsQueue::new(SqsClient::new(&sdk), url.clone()));
    let archive = config.archive_stream.as_ref().map(|stream| {
        let sink = FirehoseSink::new(FirehoseClient::new(&sdk), stream.clone());
        Archiver::new(Arc::new(sink), ArchivePolicy::default())
    });
    let join = stitch_queue.as_ref().map(|_| config.join.clone());
    let state = Arc::new(State {
        decode: DecodeStage::new(config.options.clone(), config.message_bytes, join),
        stitch: StitchStage::new(
            config.stitch.clone(),
            config.options.clone(),
            config.message_bytes,
        ),
        queue: SqsQueue::new(SqsClient::new(&sdk), config.queue_url.clone()),
        policy: SendPolicy::default(),
        archive,
        stitch_queue,
    });
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let state = Arc::clone(&state);
        async move { handle(&state, event).await }
    }))
    .await
}

async fn handle(state: &State, event: LambdaEvent<Value>) -> Result<Value, Error> {
    if is_sqs_event(&event.payload) {
        return stitch(state, event).await;
    }
    decode(state, event).await.map(|()| Value::Null)
}

/// A batch of the stitch queue: whole requests go on to the queue, the rest are reported failed
/// (held back, or left to the stitch queue's redrive policy).
async fn stitch(state: &State, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let Some(stitch_queue) = &state.stitch_queue else {
        return Err("an SQS event, but STITCH_QUEUE_URL is not set".into());
    };
    let request_id = event.context.request_id;
    let sqs: SqsEvent = serde_json::from_value(event.payload)?;
    let (messages, bodiless) = in_messages(sqs)?;
    let sink = QueueSink {
        queue: &state.queue,
        policy: &state.policy,
    };
    let outcome = state
        .stitch
        .run(
            &messages,
            stitch_queue,
            &sink,
            apigw_stream::runtime::clock::now_ms(),
        )
        .await;
    tracing::info!(request_id, stats = %serde_json::to_string(&outcome.stats)?, failed = outcome.failed.len(), unsendable = outcome.unsendable.len(), "stitch summary");
    apigw_stream::runtime::metrics::print_emf(&apigw_stream::runtime::metrics::emf(
        apigw_stream::runtime::clock::now_ms(),
        &[("Function", "stitch")],
        &outcome.stats.metrics(),
    ));
    let mut response = SqsBatchResponse::default();
    for id in outcome.failed_ids(&messages).into_iter().chain(bodiless) {
        response.add_failure(id);
    }
    Ok(serde_json::to_value(response)?)
}

async fn decode(state: &State, event: LambdaEvent<Value>) -> Result<(), Error> {
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
    let frames = QueueSink {
        queue: &state.queue,
        policy: &state.policy,
    };
    let fragments = state.stitch_queue.as_ref().map(|queue| QueueFragments {
        queue,
        policy: &state.policy,
    });
    let outputs = DecodeOutputs {
        frames: &frames,
        archive: state.archive.as_ref(),
        fragments: fragments
            .as_ref()
            .map(|f| f as &dyn apigw_stream::decode::FragmentSink),
    };
    match state.decode.run(input, "lambda event", &outputs).await {
        Ok(summary) => {
            tracing::info!(request_id, summary = %serde_json::to_string(&summary)?, "decode summary");
            apigw_stream::runtime::metrics::print_emf(&summary_emf(
                &summary,
                apigw_stream::runtime::clock::now_ms(),
            ));
            Ok(())
        }
        Err(e) => {
            tracing::error!(request_id, error = %e, "decode failed; Lambda will retry, then keep the event in the decode DLQ");
            Err(e.into())
        }
    }
}
