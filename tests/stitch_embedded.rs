//! Stitching over the embedded queues: requests cut across two payloads, delivered in shuffled
//! order, reach the Bridge once and whole; a part that never gets its other half is delivered
//! alone after the hold, flagged partial; lines trailing a request delivered whole make no second
//! transaction; concurrent consumers and a consumer that crashes between sending and deleting.
//! Truth comes from the generator (ids, splits, what each request holds) and the receiver.

mod e2e_support;
mod stitch_support;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use apigw_stream::control::generate::{GenerateOptions, Generator, LogKind};
use apigw_stream::control::pipeline::{Input, LocalPipeline, Stitching};
use apigw_stream::decode::logs::decode_payload;
use apigw_stream::decode::{self as decode_mod, JoinRule};
use apigw_stream::decode::{decode_split, DecodeOptions, DecodeStats, Split};
use apigw_stream::stitch::{self, StitchOptions};
use apigw_stream::transport::frame;
use apigw_stream::transport::queue::{send_all, MemoryQueue, Queue, SendPolicy};
use stitch_support::*;

fn stitching(queue: Arc<MemoryQueue>, hold: Duration, flush_at_end: bool) -> Stitching {
    Stitching {
        queue,
        options: StitchOptions {
            hold,
            step: Duration::from_millis(50),
        },
        join: JoinRule::default(),
        workers: 3,
        flush_at_end,
    }
}

/// A local pipeline to `receiver` (ndjson) over embedded queues, and its stitching to set up.
fn joined_pipeline(
    receiver: &Arc<apigw_stream::ship::bridge::receiver::Receiver>,
    hold: Duration,
    flush_at_end: bool,
) -> (Arc<LocalPipeline>, Stitching) {
    let shipper = e2e_support::shipper(receiver, &[("BRIDGE_FORMAT", "ndjson")]);
    let pipeline = LocalPipeline::new(
        Arc::new(MemoryQueue::new("queue")),
        None,
        shipper,
        Some(receiver.clone()),
        e2e_support::fast_options(Duration::from_secs(5)),
    );
    let st = stitching(
        Arc::new(MemoryQueue::new("stitch").fifo()),
        hold,
        flush_at_end,
    );
    (pipeline, st)
}

fn inputs(payloads: &[Vec<u8>]) -> tokio::sync::mpsc::Receiver<Input> {
    let (tx, rx) = tokio::sync::mpsc::channel(payloads.len().max(1));
    for (i, p) in payloads.iter().enumerate() {
        tx.try_send(Input {
            name: format!("payload #{i}"),
            bytes: p.clone(),
            logged_ms: None,
        })
        .expect("channel sized for every payload");
    }
    rx
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_requests_in_shuffled_payloads_reach_the_bridge_once_and_whole() {
    let mut payloads = split_payloads(900, 12, 0.3);
    let truth = Truth::of(&payloads);
    assert!(
        truth.split.len() > 200,
        "about 30% of 900 requests are split: {}",
        truth.split.len()
    );
    shuffle(&mut payloads, 99);
    let events: Vec<Vec<u8>> = payloads.iter().map(|p| p.event.clone()).collect();

    let out = tempfile::tempdir().unwrap();
    let receiver = receiver(out.path()).await;
    let shipper = e2e_support::shipper(&receiver, &[("BRIDGE_FORMAT", "ndjson")]);
    let queue = Arc::new(MemoryQueue::new("queue"));
    let stitch_queue = Arc::new(MemoryQueue::new("stitch").fifo());
    let pipeline = LocalPipeline::new(
        queue.clone(),
        None,
        shipper,
        Some(receiver.clone()),
        e2e_support::fast_options(Duration::from_secs(5)),
    );
    // A hold longer than the run: every part must meet its other half, none may expire.
    pipeline.set_stitch(stitching(
        stitch_queue.clone(),
        Duration::from_secs(120),
        false,
    ));
    let summary = pipeline.clone().run(inputs(&events)).await;

    assert_exactly_once(&truth, &counts(receiver.accepted_ids()));
    let records = received_records(out.path());
    assert_eq!(records.len(), truth.deliverable().len());
    for r in &records {
        assert_whole(r, &truth.expected[&r.id]);
    }
    let s = &summary.stitch;
    // A cut after the completion line leaves only trailing lines: the first part was whole.
    assert_eq!(
        s.stitched + summary.trailers_dropped,
        truth.split.len() as u64,
        "{summary:#?}"
    );
    assert_eq!((s.delivered_alone, s.partial), (0, 0), "{summary:#?}");
    assert_eq!(summary.lost, 0, "{summary:#?}");
    assert_eq!(summary.records_delivered, truth.deliverable().len() as u64);
    assert_eq!(stitch_queue.approximate_len().await.unwrap(), 0);
    assert_eq!(summary.duplicates, 0);
}

/// One payload of LogData JSON holding `events` of a generated payload's log group and stream.
fn logdata_with(
    p: &apigw_stream::decode::logs::LogData,
    events: Vec<apigw_stream::decode::logs::LogEvent>,
) -> Vec<u8> {
    let mut d = p.clone();
    d.log_events = events;
    serde_json::to_vec(&d).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_part_without_its_other_half_is_delivered_once_after_the_hold_flagged_partial() {
    // Three whole requests of one payload that the filters keep: A, B, C.
    let kept = |p: &apigw_stream::control::generate::Payload| -> Vec<String> {
        p.request_ids
            .iter()
            .filter(|id| !p.static_request_ids.contains(id))
            .take(3)
            .cloned()
            .collect()
    };
    let generated = Generator::new(GenerateOptions {
        requests: 200,
        seed: 5,
        start_ms: None,
        logs: LogKind::Execution,
        ..GenerateOptions::default()
    })
    .find(|p| kept(p).len() == 3)
    .expect("a payload with three requests the filters keep");
    let ids = kept(&generated);
    let data = decode_payload(&generated.event, 1 << 24).unwrap().remove(0);
    let of = |id: &str| -> Vec<_> {
        data.log_events
            .iter()
            .filter(|e| e.message.starts_with(&format!("({id})")))
            .cloned()
            .collect()
    };
    let (a, b, c) = (of(&ids[0]), of(&ids[1]), of(&ids[2]));
    // A: only its first half ever arrives.
    let mut first = a[..a.len() / 2].to_vec();
    first.extend(b.iter().cloned());
    first.extend(c.iter().cloned());
    // B's last line again, alone (a trailing line of a request delivered whole), and C's
    // `Extended Request Id` line alone: neither may become a second transaction.
    let mut trailer = b.last().unwrap().clone();
    trailer.id = format!("{}9", trailer.id);
    trailer.message = format!(
        "({}) X-ray Tracing ID : 1-5c755b5d-07b29b94e632d3da19d88",
        ids[1]
    );
    let lone_start = c[0].clone();
    assert!(lone_start.message.contains("Extended Request Id"));
    let second = vec![trailer];
    let third = vec![lone_start];
    let payloads = vec![
        logdata_with(&data, first),
        logdata_with(&data, second),
        logdata_with(&data, third),
    ];

    let out = tempfile::tempdir().unwrap();
    let receiver = receiver(out.path()).await;
    let shipper = e2e_support::shipper(&receiver, &[("BRIDGE_FORMAT", "ndjson")]);
    let queue = Arc::new(MemoryQueue::new("queue"));
    let pipeline = LocalPipeline::new(
        queue,
        None,
        shipper,
        Some(receiver.clone()),
        e2e_support::fast_options(Duration::from_secs(5)),
    );
    let stitch_queue = Arc::new(MemoryQueue::new("stitch").fifo());
    pipeline.set_stitch(stitching(
        stitch_queue.clone(),
        Duration::from_secs(1),
        false,
    ));
    let started = std::time::Instant::now();
    let summary = pipeline.clone().run(inputs(&payloads)).await;

    let accepted = counts(receiver.accepted_ids());
    assert_eq!(accepted.len(), 3, "{accepted:?} {ids:?} {summary:#?}");
    assert!(accepted.values().all(|n| *n == 1), "{accepted:?}");
    let records = received_records(out.path());
    let a_rec = records.iter().find(|r| r.id == ids[0]).unwrap();
    assert!(a_rec.flags.partial, "A is delivered alone, flagged partial");
    assert!(!a_rec.execution.as_ref().unwrap().complete);
    for id in &ids[1..] {
        let r = records.iter().find(|r| &r.id == id).unwrap();
        assert!(!r.flags.partial && r.execution.as_ref().unwrap().complete);
    }
    let s = &summary.stitch;
    assert_eq!(
        (s.delivered_alone, s.partial, s.dropped_empty, s.stitched),
        (1, 1, 1, 0),
        "{summary:#?}"
    );
    assert!(s.held >= 1 && s.age_max_ms >= 1000, "{summary:#?}");
    assert_eq!(summary.trailers_dropped, 1);
    assert_eq!(summary.lost, 0, "{summary:#?}");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited out the hold"
    );
}

/// The decode stage's side, as the decode Lambda does it: whole records (counted here as
/// delivered) and fragments sent to the stitch queue.
async fn decode_into(
    payloads: &[Vec<u8>],
    stitch_queue: &dyn Queue,
    delivered: &mut HashMap<String, usize>,
) -> DecodeStats {
    let opts = DecodeOptions::default();
    let join = JoinRule::default();
    let mut stats = DecodeStats::default();
    for p in payloads {
        let mut fragments = Vec::new();
        let mut split = Split {
            fragments: &mut fragments,
            join: &join,
        };
        for r in decode_split(p, &opts, &mut stats, &mut split).unwrap() {
            *delivered.entry(r.id).or_insert(0) += 1;
        }
        let messages = decode_mod::fragment::to_messages(fragments, 64 * 1024).unwrap();
        if !messages.is_empty() {
            send_all(stitch_queue, messages, &SendPolicy::default())
                .await
                .unwrap();
        }
    }
    stats
}

/// A stitch consumer like the Lambda: receive, run the batch, delete what is not reported failed.
async fn consume_until_empty(stitch_queue: Arc<MemoryQueue>, main: Arc<MemoryQueue>) -> u64 {
    let opts = StitchOptions {
        hold: Duration::from_secs(60),
        step: Duration::from_millis(50),
    };
    let decode = DecodeOptions::default();
    let mut batches = 0;
    loop {
        let got = stitch_queue
            .receive(10, Duration::from_millis(100), Duration::from_secs(5))
            .await
            .unwrap();
        if got.is_empty() {
            if stitch_queue.approximate_len().await.unwrap() == 0 {
                return batches;
            }
            continue;
        }
        batches += 1;
        let stage = stitch::StitchStage::new(opts.clone(), decode.clone(), 64 * 1024);
        let policy = SendPolicy::default();
        let sink = apigw_stream::transport::queue::QueueSink {
            queue: main.as_ref(),
            policy: &policy,
        };
        let outcome = stage
            .run(
                &got,
                stitch_queue.as_ref(),
                &sink,
                apigw_stream::runtime::clock::now_ms(),
            )
            .await;
        let failed_ids = outcome.failed_ids(&got);
        let failed: HashSet<&str> = failed_ids.iter().map(String::as_str).collect();
        let done: Vec<String> = got
            .iter()
            .filter(|m| !failed.contains(m.message_id.as_str()))
            .map(|m| m.receipt_handle.clone())
            .collect();
        if !done.is_empty() {
            stitch_queue.delete(&done).await.unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_consumers_and_a_crash_between_send_and_delete() {
    let mut payloads = split_payloads(600, 31, 0.5);
    let truth = Truth::of(&payloads);
    shuffle(&mut payloads, 7);
    let events: Vec<Vec<u8>> = payloads.iter().map(|p| p.event.clone()).collect();
    let stitch_queue = Arc::new(MemoryQueue::new("stitch").fifo());
    let main = Arc::new(MemoryQueue::new("main"));
    let mut delivered = HashMap::new();
    let stats = decode_into(&events, stitch_queue.as_ref(), &mut delivered).await;
    assert!(stats.fragments > 0);

    // A consumer sends its batch's records to the main queue, then crashes before deleting:
    // the fragments come back after their visibility timeout.
    let crashed = stitch_queue
        .receive(10, Duration::ZERO, Duration::from_millis(300))
        .await
        .unwrap();
    assert!(!crashed.is_empty());
    let policy = SendPolicy::default();
    stitch::StitchStage::new(
        StitchOptions {
            hold: Duration::from_secs(60),
            step: Duration::from_millis(300),
        },
        DecodeOptions::default(),
        64 * 1024,
    )
    .run(
        &crashed,
        stitch_queue.as_ref(),
        &apigw_stream::transport::queue::QueueSink {
            queue: main.as_ref(),
            policy: &policy,
        },
        apigw_stream::runtime::clock::now_ms(),
    )
    .await;
    let crashed_ids: HashSet<String> = crashed
        .iter()
        .map(|m| decode_mod::Fragment::decode(&m.body).unwrap().request_id)
        .collect();

    // Three consumers at once: the FIFO queue serves a request's fragments to one at a time.
    let consumers: Vec<_> = (0..3)
        .map(|_| tokio::spawn(consume_until_empty(stitch_queue.clone(), main.clone())))
        .collect();
    for c in consumers {
        c.await.unwrap();
    }

    // What reached the main queue, plus the whole records of the decode stage.
    loop {
        let got = main
            .receive(10, Duration::ZERO, Duration::from_secs(30))
            .await
            .unwrap();
        if got.is_empty() {
            break;
        }
        for m in &got {
            for r in frame::unpack(&m.body).unwrap() {
                *delivered.entry(r.id).or_insert(0) += 1;
            }
        }
    }
    // Every request but the static files (filtered on both paths), and only the crashed
    // batch's more than once: at least once, duplicates only from the crash.
    let got: HashSet<String> = delivered.keys().cloned().collect();
    let want = truth.deliverable();
    let missing: Vec<_> = want.difference(&got).take(3).collect();
    let extra: Vec<_> = got.difference(&want).take(3).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {} (e.g. {missing:?}), extra {} (e.g. {extra:?})",
        want.difference(&got).count(),
        got.difference(&want).count()
    );
    for (id, n) in &delivered {
        if crashed_ids.contains(id) {
            assert!(*n <= 2, "{id}: {n}");
        } else {
            assert_eq!(*n, 1, "{id} delivered {n} times");
        }
    }
    assert!(
        delivered.values().any(|n| *n == 2),
        "the crash duplicated what it had sent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joined_mode_gives_one_transaction_per_request_with_both_sources() {
    let exec = split_payloads(300, 41, 0.2);
    let truth = Truth::of(&exec);
    let mut events: Vec<Vec<u8>> = exec.iter().map(|p| p.event.clone()).collect();
    events.extend(
        exec.iter()
            .enumerate()
            .filter(|(_, p)| !p.expected.is_empty())
            .map(|(n, p)| access_payload(p, n)),
    );
    shuffle(&mut events, 3);

    let out = tempfile::tempdir().unwrap();
    let receiver = receiver(out.path()).await;
    let (pipeline, mut st) = joined_pipeline(&receiver, Duration::from_secs(120), false);
    st.join = JoinRule::new(["*".to_string()]);
    pipeline.set_stitch(st);
    let summary = pipeline.clone().run(inputs(&events)).await;

    // The access path fills the path of a throttled request, so every static file is filtered.
    let want: HashSet<String> = truth
        .expected
        .keys()
        .filter(|id| !truth.static_files.contains(*id))
        .cloned()
        .collect();
    let accepted = counts(receiver.accepted_ids());
    let got: HashSet<String> = accepted.keys().cloned().collect();
    assert_eq!(got.len(), want.len(), "{summary:#?}");
    assert_eq!(got, want);
    assert!(accepted.values().all(|n| *n == 1));
    for r in received_records(out.path()) {
        let e = &truth.expected[&r.id];
        // Access log: the caller and the total latency; execution log: the exchange.
        assert!(
            r.request
                .client_ip
                .as_deref()
                .unwrap()
                .starts_with("198.51.100."),
            "{}",
            r.id
        );
        assert_eq!(r.response.latency_ms, Some(1234));
        assert_eq!(r.response.length, Some(321));
        assert_eq!(r.request.protocol.as_deref(), Some("HTTP/1.1"));
        assert_eq!(r.response.status, Some(e.status));
        assert_eq!(
            r.response.body.is_some(),
            e.response_body.is_some(),
            "{}",
            r.id
        );
        assert!(r.execution.as_ref().unwrap().complete);
        assert!(!r.flags.partial || e.request_headers_cut);
    }
    assert_eq!(summary.stitch.delivered_alone, 0, "{summary:#?}");
    assert_eq!(summary.lost, 0, "{summary:#?}");
}

/// Joined mode as `apigw-stream local` runs it (the embedded FIFO queue, flushed at the end of
/// the input, a one-minute hold): access and execution payloads of 400 REST requests (20% of
/// them cut across two payloads) and unrelated access-log payloads, in several orders,
/// including the joined parts last. Every request reaches the Bridge exactly once, with the
/// caller, latency and length from the access log and the exchange from the execution log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joined_mode_in_local_gives_one_transaction_per_request_in_any_order() {
    let exec = split_payloads(400, 43, 0.2);
    let truth = Truth::of(&exec);
    let exec_events: Vec<Vec<u8>> = exec.iter().map(|p| p.event.clone()).collect();
    let access_events: Vec<Vec<u8>> = exec
        .iter()
        .enumerate()
        .filter(|(_, p)| !p.expected.is_empty())
        .map(|(n, p)| access_payload(p, n))
        .collect();
    let stages = joined_stages(&exec);
    // Access logs of the other stages (a joined stage's access records would wait for
    // execution lines that never come).
    let unrelated: Vec<apigw_stream::control::generate::Payload> =
        Generator::new(GenerateOptions {
            requests: 600,
            seed: 44,
            max_batch_bytes: 16 * 1024,
            ..GenerateOptions::default()
        })
        .filter(|p| {
            !stages
                .iter()
                .any(|s| p.subscription_filter.ends_with(s.as_str()))
        })
        .collect();
    assert!(!unrelated.is_empty());
    let unrelated_ids: HashSet<String> = unrelated
        .iter()
        .flat_map(|p| p.request_ids.iter().cloned())
        .collect();
    let unrelated_events: Vec<Vec<u8>> = unrelated.iter().map(|p| p.event.clone()).collect();
    let joined: Vec<Vec<u8>> = exec_events.iter().chain(&access_events).cloned().collect();
    let mut shuffled_joined = joined.clone();
    shuffle(&mut shuffled_joined, 5);
    let orders: Vec<(&str, Vec<Vec<u8>>)> = vec![
        (
            "joined parts last",
            unrelated_events
                .iter()
                .chain(&shuffled_joined)
                .cloned()
                .collect(),
        ),
        (
            "joined parts first",
            shuffled_joined
                .iter()
                .chain(&unrelated_events)
                .cloned()
                .collect(),
        ),
        (
            "access logs after every execution log",
            unrelated_events
                .iter()
                .chain(&exec_events)
                .chain(&access_events)
                .cloned()
                .collect(),
        ),
        (
            "execution logs after every access log, second halves first",
            unrelated_events
                .iter()
                .chain(&access_events)
                .chain(exec_events.iter().rev())
                .cloned()
                .collect(),
        ),
        ("shuffled", {
            let mut all: Vec<Vec<u8>> = joined.iter().chain(&unrelated_events).cloned().collect();
            shuffle(&mut all, 17);
            all
        }),
    ];
    let want: HashSet<String> = truth
        .expected
        .keys()
        .filter(|id| !truth.static_files.contains(*id))
        .cloned()
        .collect();
    for (order, events) in orders {
        let out = tempfile::tempdir().unwrap();
        let receiver = receiver(out.path()).await;
        let (pipeline, mut st) = joined_pipeline(&receiver, Duration::from_secs(60), true);
        st.join = JoinRule::new(stages.clone());
        pipeline.set_stitch(st);
        let summary = pipeline.clone().run(inputs(&events)).await;

        let accepted = counts(receiver.accepted_ids());
        let twice: Vec<_> = accepted.iter().filter(|(_, n)| **n > 1).collect();
        assert!(twice.is_empty(), "{order}: delivered twice: {twice:?}");
        let missing: Vec<_> = want
            .iter()
            .filter(|id| !accepted.contains_key(*id))
            .collect();
        assert!(missing.is_empty(), "{order}: never delivered: {missing:?}");
        let unrelated_missing = unrelated_ids
            .iter()
            .filter(|id| !accepted.contains_key(*id))
            .count() as u64;
        assert!(
            unrelated_missing <= summary.filtered,
            "{order}: unrelated requests missing beyond the filtered ones"
        );
        for r in received_records(out.path()) {
            let Some(e) = truth.expected.get(&r.id) else {
                continue;
            };
            let ip = r.request.client_ip.as_deref().unwrap_or_default();
            assert!(ip.starts_with("198.51.100."), "{order} {}: ip {ip}", r.id);
            assert_eq!(r.response.latency_ms, Some(1234), "{order} {}", r.id);
            assert_eq!(r.response.length, Some(321), "{order} {}", r.id);
            assert_eq!(r.response.status, Some(e.status), "{order} {}", r.id);
            assert_eq!(
                r.response.body.is_some(),
                e.response_body.is_some(),
                "{order} {}: body from the execution log",
                r.id
            );
            assert!(
                r.execution.as_ref().is_some_and(|x| x.complete),
                "{order} {}: whole",
                r.id
            );
            assert_eq!(r.flags.partial, e.request_headers_cut, "{order} {}", r.id);
        }
        assert_eq!(summary.split_deliveries, 0, "{order}: {summary:#?}");
        assert_eq!(summary.stitch.delivered_alone, 0, "{order}: {summary:#?}");
        assert_eq!(summary.lost, 0, "{order}: {summary:#?}");
        assert_eq!(summary.duplicates, 0, "{order}: {summary:#?}");
    }
}
