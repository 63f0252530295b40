//! End to end over the embedded queue: a Bridge that fails 20% of requests with 503, answers some
//! 429 with Retry-After, lets tokens expire mid-run and has latency spikes — and nothing is lost.

mod e2e_support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use apigw_stream::control::pipeline::LocalPipeline;
use apigw_stream::ship::bridge::receiver::Faults;
use apigw_stream::transport::queue::{MemoryQueue, Queue};
use e2e_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faulty_bridge_loses_nothing() {
    let payloads = payloads(3_000, 21, 64 * 1024);
    // A shipper batch gets 4.5 s for its retries (Retry-After 1 s, 20% failures, spikes).
    let opts = fast_options(Duration::from_secs(5));
    let expected = expected(&payloads);
    assert!(
        !expected.static_files.is_empty(),
        "the mix includes static files"
    );

    let receiver = receiver(Faults {
        fail_rate: 0.2,
        fail_status: 503,
        retry_after_secs: Some(1),
        // Tokens are revoked mid-run (below): the Bridge answers 401 invalid_token, as for an
        // expired token, and the shipper must fetch a new one.
        statuses: [429, 429].into_iter().collect(),
        ..Faults::default()
    })
    .await;
    let shipper = shipper(
        &receiver,
        &[("WINDOW_BYTES", "65536"), ("BRIDGE_CONCURRENCY", "2")],
    );

    let dlq = Arc::new(MemoryQueue::new("dlq"));
    let queue = Arc::new(MemoryQueue::with_dead_letter_queue(
        "queue",
        dlq.clone(),
        20,
    ));
    let pipeline = LocalPipeline::new(
        queue.clone(),
        Some(dlq.clone() as Arc<dyn Queue>),
        shipper,
        Some(receiver.clone()),
        opts,
    );

    // Latency spikes and a revoked token while the run goes on.
    let done = Arc::new(AtomicBool::new(false));
    let chaos = {
        let receiver = receiver.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let mut spike = false;
            while !done.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(250)).await;
                spike = !spike;
                let mut f = receiver.faults();
                f.latency = if spike {
                    Duration::from_millis(400)
                } else {
                    Duration::ZERO
                };
                receiver.set_faults(f);
                if spike {
                    receiver.revoke_tokens();
                }
            }
        })
    };
    let summary = pipeline.clone().run(inputs(&payloads)).await;
    done.store(true, Ordering::Relaxed);
    chaos.await.unwrap();

    assert_eq!(summary.lost, 0, "{summary:#?}");
    assert_delivered_exactly(&expected, &receiver);
    assert_eq!(summary.records_delivered, expected.delivered.len() as u64);
    assert_eq!(summary.filtered, expected.static_files.len() as u64);
    assert_eq!(summary.lines_unparsed, 0);
    assert_eq!(summary.records_in, expected.requests);
    assert_eq!(summary.dead_lettered, 0);
    assert!(summary.retries > 0, "{summary:#?}");
    let stats = receiver.stats();
    assert!(
        stats.faults_injected > 0 && stats.unauthorized > 0,
        "{stats:#?}"
    );
    assert!(stats.tokens_issued >= 2, "{stats:#?}");
    assert!(summary.latency_ms.p99 >= summary.latency_ms.p50);
    assert_eq!(queue.approximate_len().await.unwrap(), 0);
}
