//! The shipper Lambda: SQS event → `apigw_stream::ship` → partial batch response.
//!
//! Configuration comes from the environment (see `ShipConfig::from_lookup`); the HTTP client,
//! token cache and secret cache live in the handler state, so they survive across invocations.

// The handler's future (shipping, then settling with SQS) is deep for the layout query.
#![recursion_limit = "256"]

/// mimalloc, as the CLI: the allocator bench measures it faster on the decode and encode paths.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use apigw_stream::config::ShipConfigError;
use apigw_stream::runtime::metrics;
use apigw_stream::ship::settle::SourceQueues;
use apigw_stream::ship::stage::{NoObserver, ShipStage};
use apigw_stream::ship::ShipConfig;
use apigw_stream::transport::queue::{in_messages, SqsClient};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{service_fn, Error, LambdaEvent};

/// Kept across invocations: the stage (HTTP client, token and secret caches) and the source queue.
struct State {
    stage: ShipStage,
    sources: SourceQueues,
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    apigw_stream::config::init_lambda_logging();
    let (config, state) = match init().await {
        Ok(ready) => ready,
        Err(e) => {
            apigw_stream::runtime::lambda_init::report_init_error("ConfigError", &e.to_string())
                .await;
            return Err(e.into());
        }
    };
    let state = Arc::new(state);
    tracing::info!(
        format = %config.format,
        window_bytes = config.window_bytes,
        gzip = config.gzip,
        "shipper ready"
    );
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let state = state.clone();
        async move { handle(&state, event).await }
    }))
    .await
}

/// Settings, and the stage and source queue built from them; an error names the variable at fault.
async fn init() -> Result<(ShipConfig, State), ShipConfigError> {
    let config = ShipConfig::from_env()?;
    // SQS (back off failed messages, requeue rejected records, redrive) and Secrets Manager.
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let stage = ShipStage::from_config(&config, Some(&aws))?;
    let sources = SourceQueues::new(SqsClient::new(&aws));
    Ok((config, State { stage, sources }))
}

async fn handle(state: &State, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
    let deadline = deadline_instant(event.context.deadline());
    let request_id = event.context.request_id;
    let source_arn = event
        .payload
        .records
        .iter()
        .find_map(|r| r.event_source_arn.clone());
    let (messages, bodiless) = in_messages(event.payload)?;
    for id in &bodiless {
        tracing::error!(message_id = %id, "queue message without a body; reporting it failed");
    }
    let started = Instant::now();
    let source = state.sources.resolve(source_arn.as_deref()).await;
    let report = state
        .stage
        .run(&messages, source, deadline, &NoObserver)
        .await;
    let s = &report.stats;
    tracing::info!(
        request_id = %request_id,
        stats = %serde_json::to_string(s)?,
        requeued_messages = report.requeue.len(),
        duration_ms = started.elapsed().as_millis() as u64,
        "shipped"
    );
    metrics::print_emf(&metrics::emf(
        apigw_stream::runtime::clock::now_ms(),
        &[("Function", "shipper")],
        &s.metrics(),
    ));
    let mut response = SqsBatchResponse::default();
    for id in report.failed.into_iter().chain(bodiless) {
        response.add_failure(id);
    }
    Ok(response)
}

/// The invocation's wall-clock deadline as an `Instant`.
fn deadline_instant(deadline: SystemTime) -> Instant {
    let left = deadline
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO);
    Instant::now() + left
}
