//! The shipper Lambda: SQS event → `apigw_stream::ship` → partial batch response.
//!
//! Configuration comes from the environment (see `ShipConfig::from_lookup`); the HTTP client,
//! token cache and secret cache live in the handler state, so they survive across invocations.

// The handler's future (shipping, then settling with SQS) is deep for the layout query.
#![recursion_limit = "256"]

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use apigw_stream::metrics;
use apigw_stream::queue::SqsClient;
use apigw_stream::settle::{Received, SqsSettler};
use apigw_stream::ship::{ConfigError, ShipConfig, ShipMessage, Shipper};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    apigw_stream::telemetry::init_lambda();
    let (config, shipper, settler) = match init().await {
        Ok(ready) => ready,
        Err(e) => {
            apigw_stream::lambda_init::report_init_error("ConfigError", &e.to_string()).await;
            return Err(e.into());
        }
    };
    let shipper = Arc::new(shipper);
    let settler = Arc::new(settler);
    tracing::info!(
        format = %config.format,
        window_bytes = config.window_bytes,
        gzip = config.gzip,
        "shipper ready"
    );
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let shipper = shipper.clone();
        let settler = settler.clone();
        async move { handle(&shipper, &settler, event).await }
    }))
    .await
}

/// Settings, the shipper and the queue settler built from them; an error names the variable at fault.
async fn init() -> Result<(ShipConfig, Shipper, SqsSettler), ConfigError> {
    let config = ShipConfig::from_env()?;
    // SQS (back off failed messages, requeue rejected records, redrive) and Secrets Manager.
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let shipper = Shipper::from_config(&config, Some(&aws))?;
    let settler = SqsSettler::new(SqsClient::new(&aws), &config);
    Ok((config, shipper, settler))
}

async fn handle(
    shipper: &Shipper,
    settler: &SqsSettler,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Error> {
    let deadline = deadline_instant(event.context.deadline());
    let mut response = SqsBatchResponse::default();
    let mut messages = Vec::with_capacity(event.payload.records.len());
    let mut received = Vec::with_capacity(event.payload.records.len());
    let source_arn = event
        .payload
        .records
        .iter()
        .find_map(|r| r.event_source_arn.clone());
    for record in event.payload.records {
        match (record.message_id, record.body) {
            (Some(id), Some(body)) => {
                received.push(Received {
                    message_id: id.clone(),
                    receipt_handle: record.receipt_handle.unwrap_or_default(),
                    receive_count: record
                        .attributes
                        .get("ApproximateReceiveCount")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(1),
                });
                messages.push(ShipMessage {
                    message_id: id,
                    body,
                });
            }
            (Some(id), None) => {
                tracing::error!(message_id = %id, "queue message without a body; reporting it failed");
                response.add_failure(id);
            }
            // Without an id it cannot be reported; failing the invocation retries the whole batch.
            (None, _) => return Err("an SQS record has no messageId".into()),
        }
    }

    let started = Instant::now();
    let mut report = shipper.ship(&messages, deadline).await;
    settler
        .settle(source_arn.as_deref(), &received, &mut report)
        .await;
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
        records_rejected = s.records_rejected,
        requeued_messages = report.requeue.len(),
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
