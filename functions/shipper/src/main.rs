//! The shipper Lambda: SQS event → `apigw_stream::ship` → partial batch response.
//!
//! Configuration comes from the environment (see `ShipConfig::from_lookup`); the HTTP client,
//! token cache and secret cache live in the handler state, so they survive across invocations.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use apigw_stream::metrics;
use apigw_stream::ship::{ShipConfig, ShipMessage, Shipper};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    apigw_stream::telemetry::init_lambda();
    let config = ShipConfig::from_env()?;
    let aws = if config.needs_aws() {
        Some(aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await)
    } else {
        None
    };
    let shipper = Arc::new(Shipper::from_config(&config, aws.as_ref())?);
    tracing::info!(
        format = %config.format,
        window_bytes = config.window_bytes,
        gzip = config.gzip,
        "shipper ready"
    );
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let shipper = shipper.clone();
        async move { handle(&shipper, event).await }
    }))
    .await
}

async fn handle(
    shipper: &Shipper,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Error> {
    let deadline = deadline_instant(event.context.deadline());
    let mut response = SqsBatchResponse::default();
    let mut messages = Vec::with_capacity(event.payload.records.len());
    for record in event.payload.records {
        match (record.message_id, record.body) {
            (Some(id), Some(body)) => messages.push(ShipMessage {
                message_id: id,
                body,
            }),
            (Some(id), None) => {
                tracing::error!(message_id = %id, "queue message without a body; reporting it failed");
                response.add_failure(id);
            }
            // Without an id it cannot be reported; failing the invocation retries the whole batch.
            (None, _) => return Err("an SQS record has no messageId".into()),
        }
    }

    let started = Instant::now();
    let report = shipper.ship(&messages, deadline).await;
    let s = &report.stats;
    tracing::info!(
        request_id = %event.context.request_id,
        messages = s.messages,
        records = s.records,
        delivered = s.records_delivered,
        windows = s.windows,
        windows_failed = s.windows_failed,
        splits = s.splits,
        retries = s.retries,
        bytes = s.bytes,
        unpack_failures = s.unpack_failures,
        failed_messages = s.failed_messages,
        duration_ms = started.elapsed().as_millis() as u64,
        "shipped"
    );
    metrics::print_emf(&metrics::emf(
        apigw_stream::clock::now_ms(),
        &[("Function", "shipper")],
        &s.metrics(),
    ));

    for id in report.failed {
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
