//! Stitching through moto's SQS server: the stitch queue is a real FIFO queue (message groups,
//! deduplication ids, visibility changes; group exclusivity and a group served together enforced
//! as SQS does, where moto 5.2 does not: `stitch_support::FaithfulFifo`), the main queue a
//! standard one. Requests cut across two
//! payloads, in shuffled order, with two concurrent stitch consumers, reach the Bridge once and
//! whole. Truth from the generator and the receiver.

mod common;
mod e2e_support;
mod stitch_support;

use std::sync::Arc;
use std::time::Duration;

use apigw_stream::control::pipeline::{Input, LocalPipeline, Stitching};
use apigw_stream::decode::JoinRule;
use apigw_stream::stitch::StitchOptions;
use apigw_stream::transport::queue::{Queue, SqsQueue};
use stitch_support::*;

/// Visibility 30 s: long enough that a batch on a loaded 2-core machine is settled before it
/// could come back (a re-send would be at-least-once at work, not the stitching under test).
fn stitch_queue(fifo: bool) -> common::QueueOptions<'static> {
    common::QueueOptions {
        visibility_secs: Some(30),
        fifo,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_requests_meet_in_moto_fifo_queue() {
    let moto = common::Moto::start_ext(&[]);
    let client = aws_sdk_sqs::Client::new(&moto.sdk_config());
    let queue_url = common::create_queue(&client, "stitch-e2e-queue", stitch_queue(false)).await;
    let stitch_url = common::create_queue(&client, "stitch-e2e.fifo", stitch_queue(true)).await;

    let mut payloads = split_payloads(240, 17, 0.3);
    let truth = Truth::of(&payloads);
    assert!(!truth.split.is_empty());
    shuffle(&mut payloads, 5);

    let out = tempfile::tempdir().unwrap();
    let receiver = receiver(out.path()).await;
    let shipper = e2e_support::shipper(&receiver, &[("BRIDGE_FORMAT", "ndjson")]);
    let queue: Arc<dyn Queue> = Arc::new(SqsQueue::new(client.clone(), queue_url));
    // moto's FIFO queue, with SQS's group rules enforced (see FaithfulFifo).
    let stitch_queue: Arc<dyn Queue> =
        Arc::new(FaithfulFifo::new(SqsQueue::new(client.clone(), stitch_url)));
    let mut opts = e2e_support::fast_options(Duration::from_secs(30));
    opts.receive_wait = Duration::from_millis(200);
    opts.drain_timeout = Duration::from_secs(90);
    let pipeline = LocalPipeline::new(queue, None, shipper, Some(receiver.clone()), opts);
    pipeline.set_stitch(Stitching {
        queue: stitch_queue.clone(),
        options: StitchOptions {
            // Longer than the run: every part must meet its other half.
            hold: Duration::from_secs(120),
            step: Duration::from_secs(1),
        },
        join: JoinRule::default(),
        workers: 2,
        flush_at_end: false,
    });
    let (tx, rx) = tokio::sync::mpsc::channel(payloads.len());
    for (i, p) in payloads.iter().enumerate() {
        tx.try_send(Input {
            name: format!("payload #{i}"),
            bytes: p.event.clone(),
            logged_ms: None,
        })
        .unwrap();
    }
    drop(tx);
    let summary = pipeline.clone().run(rx).await;

    assert_exactly_once(&truth, &counts(receiver.accepted_ids()));
    for r in received_records(out.path()) {
        assert_whole(&r, &truth.expected[&r.id]);
    }
    assert!(summary.stitch.stitched > 0, "{summary:#?}");
    assert_eq!(summary.stitch.delivered_alone, 0, "{summary:#?}");
    assert_eq!(summary.lost, 0, "{summary:#?}");
    assert_eq!(stitch_queue.approximate_len().await.unwrap(), 0);
}
