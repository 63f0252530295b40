//! A frame that cannot be unpacked is retried up to the receive limit, lands in the dead-letter
//! queue and is counted there; everything else is delivered.

mod e2e_support;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use apigw_stream::control::pipeline::LocalPipeline;
use apigw_stream::decode::{decode_bytes, DecodeStats};
use apigw_stream::ship::bridge::receiver::Faults;
use apigw_stream::transport::frame;
use apigw_stream::transport::queue::{MemoryQueue, Queue};
use e2e_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_frame_ends_in_the_dlq_and_is_counted() {
    let payloads = payloads(2_000, 5, 64 * 1024);
    let mut opts = fast_options(Duration::from_millis(800));
    opts.message_bytes = 4096;
    let expected_ids = expected(&payloads).delivered;

    let receiver = receiver(Faults::default()).await;
    let shipper = shipper(&receiver, &[]);
    let dlq = Arc::new(MemoryQueue::new("dlq"));
    let queue = Arc::new(MemoryQueue::with_dead_letter_queue("queue", dlq.clone(), 2));
    let pipeline = LocalPipeline::new(
        queue.clone(),
        Some(dlq.clone() as Arc<dyn Queue>),
        shipper,
        Some(receiver.clone()),
        opts.clone(),
    );

    // The first payload's first frame is corrupted on its way to the queue.
    let mut stats = DecodeStats::default();
    let records = decode_bytes(&payloads[0].event, &opts.decode, &mut stats).unwrap();
    let mut frames = frame::pack(&records, opts.message_bytes).unwrap();
    assert!(frames.len() > 1);
    let poisoned: HashSet<String> = records[..frames[0].records]
        .iter()
        .map(|r| r.id.clone())
        .collect();
    frames[0].body = format!("{}!!", &frames[0].body[..frames[0].body.len() / 2]);
    let ids: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
    pipeline
        .send_frames("payload #0", frames, &ids, payloads[0].logged_ms)
        .await
        .unwrap();

    let summary = pipeline.clone().run(inputs(&payloads[1..])).await;

    assert_eq!(summary.lost, 0, "{summary:#?}");
    assert_eq!(summary.dead_letter_messages, 1, "{summary:#?}");
    assert_eq!(summary.dead_lettered, poisoned.len() as u64, "{summary:#?}");
    assert!(
        summary.unpack_failures >= 2,
        "received twice before redrive: {summary:#?}"
    );
    assert_eq!(
        summary.records_delivered,
        (expected_ids.len() - poisoned.len()) as u64,
        "{summary:#?}"
    );
    let deliverable: HashSet<String> = expected_ids.difference(&poisoned).cloned().collect();
    assert_all_delivered(&deliverable, &receiver);
    let dead = dlq.peek_all();
    assert_eq!(dead.len(), 1);
    assert!(frame::unpack(&dead[0].body).is_err());
    assert_eq!(queue.approximate_len().await.unwrap(), 0);
}
