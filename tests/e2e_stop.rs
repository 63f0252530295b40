//! Idle workers stop when the run stops them, not at the end of their long poll: with a 30 s
//! receive wait, a whole embedded run (stitch flush included) and a lone idle shipper worker
//! finish in seconds. Before, each waited out the poll.

mod e2e_support;

use std::sync::Arc;
use std::time::Duration;

use apigw_stream::control::pipeline::{LocalPipeline, Stitching};
use apigw_stream::decode::JoinRule;
use apigw_stream::ship::bridge::receiver::Faults;
use apigw_stream::stitch::StitchOptions;
use apigw_stream::transport::queue::MemoryQueue;
use e2e_support::*;
use tokio_util::sync::CancellationToken;

const LONG_POLL: Duration = Duration::from_secs(30);
/// Far under the long poll, far over the work (a second or two on a loaded CI machine).
const BOUND: Duration = Duration::from_secs(20);

fn pipeline(receiver: &Arc<apigw_stream::ship::bridge::receiver::Receiver>) -> Arc<LocalPipeline> {
    let mut opts = fast_options(Duration::from_secs(5));
    opts.receive_wait = LONG_POLL;
    LocalPipeline::new(
        Arc::new(MemoryQueue::new("queue")),
        None,
        shipper(receiver, &[]),
        Some(receiver.clone()),
        opts,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_with_stitching_ends_without_waiting_out_the_long_polls() {
    let payloads = payloads(2_000, 5, 64 * 1024);
    let expected = expected(&payloads);
    let receiver = receiver(Faults::default()).await;
    let pipeline = pipeline(&receiver);
    pipeline.set_stitch(Stitching {
        queue: Arc::new(MemoryQueue::new("stitch").fifo()),
        options: StitchOptions {
            hold: Duration::from_secs(60),
            step: Duration::from_millis(50),
        },
        join: JoinRule::default(),
        workers: 2,
        flush_at_end: true,
    });
    let summary = tokio::time::timeout(BOUND, pipeline.clone().run(inputs(&payloads)))
        .await
        .expect("the run ends without waiting out a 30 s long poll");
    assert!(!summary.drain_timed_out);
    assert_delivered_exactly(&expected, &receiver);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_shipper_worker_stops_when_told() {
    let receiver = receiver(Faults::default()).await;
    let pipeline = pipeline(&receiver);
    let stop = CancellationToken::new();
    let worker = tokio::spawn(pipeline.clone().ship_worker(stop.clone()));
    // Let it settle into its long poll on the empty queue.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!worker.is_finished(), "the worker waits for messages");
    stop.cancel();
    tokio::time::timeout(BOUND, worker)
        .await
        .expect("the worker stops at once, not after its 30 s poll")
        .expect("the worker does not panic");
    assert_eq!(pipeline.queue().approximate_len().await.unwrap(), 0);
}
