//! End to end through moto's SQS server (the real SQS API: visibility timeouts, receive counts,
//! redrive to a dead-letter queue) instead of the embedded queue, with a faulty Bridge.

mod common;
mod e2e_support;

use std::sync::Arc;
use std::time::Duration;

use apigw_stream::control::pipeline::LocalPipeline;
use apigw_stream::ship::bridge::receiver::Faults;
use apigw_stream::transport::queue::{Queue, SqsQueue};
use aws_sdk_sqs::types::QueueAttributeName;
use e2e_support::*;

/// Visibility 5 s; with `redrive_to`, the DLQ's ARN and `maxReceiveCount`.
fn e2e_queue(redrive_to: Option<(&str, u32)>) -> common::QueueOptions<'_> {
    common::QueueOptions {
        visibility_secs: Some(5),
        redrive_to,
        ..Default::default()
    }
}

async fn queue_arn(client: &aws_sdk_sqs::Client, url: &str) -> String {
    let out = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("queue attributes");
    out.attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .expect("QueueArn")
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_moto_sqs_loses_nothing() {
    let moto = common::Moto::start();
    let client = aws_sdk_sqs::Client::new(&moto.sdk_config());
    let dlq_url = common::create_queue(&client, "e2e-dlq", e2e_queue(None)).await;
    let dlq_arn = queue_arn(&client, &dlq_url).await;
    let queue_url =
        common::create_queue(&client, "e2e-queue", e2e_queue(Some((&dlq_arn, 10)))).await;

    let payloads = payloads(2_000, 33, 64 * 1024);
    // A shipper batch gets 4.5 s for its retries (Retry-After 1 s, 20% failures).
    let mut opts = fast_options(Duration::from_secs(5));
    opts.receive_wait = Duration::from_millis(200);
    let expected = expected(&payloads);

    let receiver = receiver(Faults {
        fail_rate: 0.2,
        fail_status: 503,
        token_ttl_secs: 2,
        statuses: [429].into_iter().collect(),
        retry_after_secs: Some(1),
        latency: Duration::from_millis(20),
        ..Faults::default()
    })
    .await;
    let shipper = shipper(&receiver, &[("WINDOW_BYTES", "65536")]);
    let queue: Arc<dyn Queue> = Arc::new(SqsQueue::new(client.clone(), queue_url));
    let dlq: Arc<dyn Queue> = Arc::new(SqsQueue::new(client.clone(), dlq_url));
    let pipeline = LocalPipeline::new(
        queue.clone(),
        Some(dlq.clone()),
        shipper,
        Some(receiver.clone()),
        opts,
    );

    let summary = pipeline.clone().run(inputs(&payloads)).await;

    assert_eq!(summary.lost, 0, "{summary:#?}");
    assert_delivered_exactly(&expected, &receiver);
    assert_eq!(summary.records_delivered, expected.delivered.len() as u64);
    assert_eq!(summary.filtered, expected.static_files.len() as u64);
    assert_eq!(summary.records_in, expected.requests);
    assert_eq!(summary.dead_lettered, 0, "{summary:#?}");
    assert!(
        summary.retries > 0 && summary.messages_sent > 10,
        "{summary:#?}"
    );
    assert!(receiver.stats().faults_injected > 0);
    assert_eq!(queue.approximate_len().await.unwrap(), 0);
    assert_eq!(dlq.approximate_len().await.unwrap(), 0);
}
