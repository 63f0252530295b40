//! A shipper killed in the middle of a window: its messages come back after the visibility
//! timeout and are delivered; what the Bridge got twice is counted as duplicates.

mod e2e_support;

use std::sync::Arc;
use std::time::Duration;

use apigw_stream::control::pipeline::LocalPipeline;
use apigw_stream::ship::bridge::receiver::Faults;
use apigw_stream::transport::queue::{MemoryQueue, Queue};
use e2e_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aborted_shipper_messages_return_and_are_delivered() {
    let payloads = payloads(2_000, 9, 64 * 1024);
    let opts = fast_options(Duration::from_secs(2));
    let expected = expected(&payloads);

    let receiver = receiver(Faults {
        latency: Duration::from_millis(250),
        ..Faults::default()
    })
    .await;
    // One window at a time, small windows: a batch takes several round trips.
    let shipper = shipper(
        &receiver,
        &[("WINDOW_BYTES", "16384"), ("BRIDGE_CONCURRENCY", "1")],
    );
    let dlq = Arc::new(MemoryQueue::new("dlq"));
    let queue = Arc::new(MemoryQueue::with_dead_letter_queue("queue", dlq.clone(), 5));
    let pipeline = LocalPipeline::new(
        queue.clone(),
        Some(dlq.clone() as Arc<dyn Queue>),
        shipper,
        Some(receiver.clone()),
        opts,
    );
    for (i, p) in payloads.iter().enumerate() {
        pipeline.decode_payload(input(p, i)).await.unwrap();
    }
    let queued = queue.approximate_len().await.unwrap();

    // One shipper, killed while its third window is in flight.
    let worker = tokio::spawn(
        pipeline
            .clone()
            .ship_worker(tokio_util::sync::CancellationToken::new()),
    );
    // Wait for two windows to be accepted: the third is then in flight (250 ms each).
    let waited = tokio::time::Instant::now();
    while receiver.stats().accepted_windows < 2 {
        assert!(
            waited.elapsed() < Duration::from_secs(20),
            "no window accepted"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    worker.abort();
    let _ = worker.await;
    let before = receiver.stats().accepted_records;
    assert!(before > 0, "some windows were accepted before the abort");
    assert!(
        queue.stats().in_flight > 0,
        "the aborted batch is still in flight"
    );
    assert_eq!(
        queue.approximate_len().await.unwrap(),
        queued,
        "nothing was deleted"
    );

    let mut f = receiver.faults();
    f.latency = Duration::ZERO;
    receiver.set_faults(f);
    let (_tx, rx) = tokio::sync::mpsc::channel(1);
    drop(_tx);
    let summary = pipeline.clone().run(rx).await;

    assert_eq!(summary.lost, 0, "{summary:#?}");
    assert_delivered_exactly(&expected, &receiver);
    assert_eq!(summary.records_delivered, expected.delivered.len() as u64);
    let accepted = receiver.accepted_ids();
    let unique: std::collections::HashSet<&String> = accepted.iter().collect();
    assert_eq!(summary.duplicates, (accepted.len() - unique.len()) as u64);
    assert!(
        summary.duplicates >= before,
        "the aborted batch's delivered windows came again: {summary:#?}"
    );
    assert_eq!(summary.dead_lettered, 0);
}
