//! The shipper against the in-process Bridge receiver on 127.0.0.1: windows, tokens, and every
//! branch of the failure policy.

mod common;
mod ship_support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use apigw_stream::ship::bridge::receiver::{Faults, ReceiverConfig};
use apigw_stream::ship::bridge::{AuthMethod, Format};
use apigw_stream::transaction::{Body, BodyEncoding};
use apigw_stream::transport::queue::InMessage;
use ship_support::*;

fn all_ids(ids: &[Vec<String>]) -> Vec<String> {
    sorted(ids.iter().flatten().cloned().collect())
}

#[tokio::test]
async fn every_record_arrives_in_bounded_windows_with_one_token() {
    let rx = receiver(ReceiverConfig::default()).await;
    let shipper = shipper(
        &rx,
        Opts {
            window_bytes: 50_000,
            ..Opts::default()
        },
    );
    let (messages, ids) = batch(&[500; 10]);

    let report = shipper.ship(&messages, deadline(30)).await;

    assert!(report.failed.is_empty(), "failed: {:?}", report.failed);
    let accepted = rx.accepted_ids();
    assert_eq!(accepted.len(), 5000, "no record twice, none missing");
    assert_eq!(sorted(accepted), all_ids(&ids));
    let sizes = rx.window_sizes();
    assert!(
        sizes.len() > 10,
        "expected many windows, got {}",
        sizes.len()
    );
    assert!(
        sizes.iter().all(|&s| s <= 50_000),
        "a window exceeds the bound: {sizes:?}"
    );
    assert_eq!(report.stats.records, 5000);
    assert_eq!(report.stats.records_delivered, 5000);
    assert_eq!(report.stats.windows as usize, sizes.len());
    assert_eq!(report.stats.bytes, sizes.iter().sum::<usize>() as u64);
    assert_eq!(
        rx.stats().tokens_issued,
        1,
        "the token is reused across windows"
    );
}

#[tokio::test]
async fn token_is_refreshed_before_it_expires() {
    let rx = receiver(ReceiverConfig {
        faults: Faults {
            token_ttl_secs: 2,
            ..Faults::default()
        },
        ..ReceiverConfig::default()
    })
    .await;
    let shipper = shipper(
        &rx,
        Opts {
            concurrency: 1,
            ..Opts::default()
        },
    );
    let (first, _) = batch(&[20, 20]);
    assert!(shipper.ship(&first, deadline(10)).await.failed.is_empty());
    assert!(shipper.ship(&first, deadline(10)).await.failed.is_empty());
    assert_eq!(rx.stats().tokens_issued, 1, "still fresh: reused");

    // ttl 2 s → refreshed 1 s before expiry (skew capped at half the lifetime).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(shipper.ship(&first, deadline(10)).await.failed.is_empty());
    let stats = rx.stats();
    assert_eq!(stats.tokens_issued, 2);
    assert_eq!(
        stats.unauthorized, 0,
        "refreshed before the server refused it"
    );
    let tokens: HashSet<String> = rx.window_tokens().into_iter().collect();
    assert_eq!(tokens.len(), 2);
}

#[tokio::test]
async fn concurrent_windows_share_one_token_fetch() {
    let rx = receiver(ReceiverConfig::default()).await;
    let shipper = shipper(
        &rx,
        Opts {
            window_bytes: 8_000,
            concurrency: 16,
            ..Opts::default()
        },
    );
    let (messages, _) = batch(&[100; 4]);
    let report = shipper.ship(&messages, deadline(30)).await;
    assert!(report.failed.is_empty());
    assert!(report.stats.windows >= 16);
    assert_eq!(rx.stats().token_requests, 1, "single-flight refresh");
}

#[tokio::test]
async fn a_401_mid_stream_gets_a_new_token_and_recovers() {
    let rx = receiver(ReceiverConfig::default()).await;
    let shipper = shipper(
        &rx,
        Opts {
            concurrency: 1,
            window_bytes: 20_000,
            ..Opts::default()
        },
    );
    let (messages, ids) = batch(&[50, 50]);
    assert!(shipper
        .ship(&messages, deadline(10))
        .await
        .failed
        .is_empty());

    rx.revoke_tokens();
    let report = shipper.ship(&messages, deadline(10)).await;
    assert!(report.failed.is_empty(), "failed: {:?}", report.failed);
    let stats = rx.stats();
    assert_eq!(stats.unauthorized, 1);
    assert_eq!(stats.tokens_issued, 2);
    assert_eq!(report.stats.retries, 1);
    assert_eq!(rx.accepted_ids().len(), 2 * all_ids(&ids).len());
}

#[tokio::test]
async fn server_errors_are_retried() {
    let rx = receiver(ReceiverConfig::default()).await;
    rx.push_statuses([500, 502, 503, 504, 408]);
    let shipper = shipper(
        &rx,
        Opts {
            concurrency: 1,
            ..Opts::default()
        },
    );
    let (messages, ids) = batch(&[10, 10]);
    let report = shipper.ship(&messages, deadline(10)).await;
    assert!(report.failed.is_empty());
    assert_eq!(report.stats.retries, 5);
    assert_eq!(report.stats.requests, 6);
    assert_eq!(sorted(rx.accepted_ids()), all_ids(&ids));
}

#[tokio::test]
async fn a_429_waits_for_retry_after() {
    let rx = receiver(ReceiverConfig {
        faults: Faults {
            retry_after_secs: Some(1),
            ..Faults::default()
        },
        ..ReceiverConfig::default()
    })
    .await;
    rx.push_statuses([429]);
    let shipper = shipper(
        &rx,
        Opts {
            concurrency: 1,
            ..Opts::default()
        },
    );
    let (messages, _) = batch(&[10]);
    let started = Instant::now();
    let report = shipper.ship(&messages, deadline(10)).await;
    assert!(report.failed.is_empty());
    assert_eq!(report.stats.retries, 1);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was not honoured"
    );
}

#[tokio::test]
async fn a_retry_after_beyond_the_deadline_fails_at_once() {
    let rx = receiver(ReceiverConfig {
        faults: Faults {
            retry_after_secs: Some(60),
            ..Faults::default()
        },
        ..ReceiverConfig::default()
    })
    .await;
    rx.push_statuses([503]);
    let shipper = shipper(
        &rx,
        Opts {
            concurrency: 1,
            ..Opts::default()
        },
    );
    let (messages, _) = batch(&[10]);
    let started = Instant::now();
    let report = shipper.ship(&messages, deadline(5)).await;
    assert_eq!(report.failed, vec!["msg-0000".to_string()]);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "should not wait for a Retry-After it cannot honour"
    );
}

#[tokio::test]
async fn a_rejected_record_is_isolated_and_the_rest_delivered_once() {
    let (messages, ids) = batch(&[20; 6]);
    // One poison record in the middle of message 2, one that is its message's only record.
    let poison = ids[2][7].clone();
    let rx = receiver(ReceiverConfig {
        faults: Faults {
            reject_ids: [poison.clone()].into_iter().collect(),
            ..Faults::default()
        },
        ..ReceiverConfig::default()
    })
    .await;
    let shipper = shipper(
        &rx,
        Opts {
            concurrency: 1,
            window_bytes: 12_000,
            ..Opts::default()
        },
    );
    let report = shipper.ship(&messages, deadline(10)).await;

    let accepted = rx.accepted_ids();
    let mut expected = all_ids(&ids);
    expected.retain(|id| id != &poison);
    assert_eq!(sorted(accepted), expected, "every other record, once");
    assert!(report.failed.is_empty(), "failed: {:?}", report.failed);
    assert_eq!(report.requeue.len(), 1);
    assert_eq!(report.requeue[0].message_id, "msg-0002");
    assert_eq!(report.requeue[0].record_ids, vec![poison.clone()]);
    let again = apigw_stream::transport::frame::unpack(&report.requeue[0].frames[0].body).unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, poison);
    assert_eq!(report.stats.records_rejected, 1);
    assert_eq!(
        report.stats.retries, 0,
        "a 400 is not retried, it is bisected"
    );

    // The requeued record alone: rejected again, its message fails as permanent (no growing wait).
    let alone = vec![InMessage::new(
        "requeued",
        report.requeue[0].frames[0].body.clone(),
    )];
    let report = shipper.ship(&alone, deadline(10)).await;
    assert_eq!(report.failed, vec!["requeued".to_string()]);
    assert_eq!(report.permanent, vec!["requeued".to_string()]);
    assert!(report.requeue.is_empty());
}

#[tokio::test]
async fn a_redirect_is_a_failure_and_is_not_followed() {
    let rx = receiver(ReceiverConfig::default()).await;
    rx.push_statuses([302]);
    let shipper = shipper(
        &rx,
        Opts {
            concurrency: 1,
            ..Opts::default()
        },
    );
    let (messages, _) = batch(&[5]);
    let report = shipper.ship(&messages, deadline(10)).await;
    assert_eq!(report.failed, vec!["msg-0000".to_string()]);
    assert_eq!(report.stats.requests, 1, "not retried, not followed");
    assert!(rx.accepted_ids().is_empty());
}

#[tokio::test]
async fn a_501_is_not_retried() {
    let rx = receiver(ReceiverConfig::default()).await;
    rx.push_statuses([501]);
    let shipper = shipper(
        &rx,
        Opts {
            concurrency: 1,
            ..Opts::default()
        },
    );
    let (messages, _) = batch(&[5]);
    let report = shipper.ship(&messages, deadline(10)).await;
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.stats.requests, 1);
}

#[tokio::test]
async fn a_413_splits_the_window() {
    let rx = receiver(ReceiverConfig {
        faults: Faults {
            max_body_bytes: Some(30_000),
            ..Faults::default()
        },
        ..ReceiverConfig::default()
    })
    .await;
    let shipper = shipper(
        &rx,
        Opts {
            window_bytes: 100_000,
            ..Opts::default()
        },
    );
    let (messages, ids) = batch(&[200, 200]);
    let report = shipper.ship(&messages, deadline(20)).await;
    assert!(report.failed.is_empty(), "failed: {:?}", report.failed);
    assert!(report.stats.splits >= 2, "splits: {}", report.stats.splits);
    assert!(rx.stats().too_large >= 2);
    assert!(rx.window_sizes().iter().all(|&s| s <= 30_000));
    assert_eq!(sorted(rx.accepted_ids()), all_ids(&ids));
}

#[tokio::test]
async fn a_413_for_a_single_record_fails_its_message() {
    let rx = receiver(ReceiverConfig {
        faults: Faults {
            max_body_bytes: Some(100),
            ..Faults::default()
        },
        ..ReceiverConfig::default()
    })
    .await;
    let shipper = shipper(
        &rx,
        Opts {
            concurrency: 1,
            ..Opts::default()
        },
    );
    let (messages, _) = batch(&[2, 1]);
    let report = shipper.ship(&messages, deadline(10)).await;
    assert_eq!(
        report.failed,
        vec!["msg-0000".to_string(), "msg-0001".to_string()]
    );
    assert_eq!(report.stats.windows_failed, 3);
}

#[tokio::test]
async fn a_stalled_server_times_out_and_the_call_returns_before_the_deadline() {
    let rx = receiver(ReceiverConfig {
        faults: Faults {
            latency: Duration::from_secs(120),
            ..Faults::default()
        },
        ..ReceiverConfig::default()
    })
    .await;
    let shipper = shipper(
        &rx,
        Opts {
            request_timeout: Duration::from_secs(60),
            margin: Duration::from_millis(500),
            ..Opts::default()
        },
    );
    let (messages, _) = batch(&[10, 10, 10]);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(3);
    let report = shipper.ship(&messages, deadline).await;
    let took = started.elapsed();
    assert!(
        Instant::now() < deadline,
        "returned after the deadline ({took:?})"
    );
    assert!(
        took >= Duration::from_millis(2000),
        "gave up too early ({took:?})"
    );
    assert_eq!(report.failed.len(), 3);
}

#[tokio::test]
async fn connection_refused_is_retried_until_the_deadline() {
    let rx = receiver(ReceiverConfig::default()).await;
    let shipper = shipper(
        &rx,
        Opts {
            concurrency: 1,
            ..Opts::default()
        },
    );
    drop(rx); // nothing listens on the port any more
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (messages, _) = batch(&[3]);
    let started = Instant::now();
    let report = shipper
        .ship(&messages, started + Duration::from_secs(2))
        .await;
    assert_eq!(report.failed.len(), 1);
    assert!(
        report.stats.retries >= 2,
        "retries: {}",
        report.stats.retries
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn gzip_and_basic_auth() {
    let rx = receiver(ReceiverConfig::default()).await;
    let shipper = shipper(
        &rx,
        Opts {
            gzip: true,
            method: AuthMethod::Basic,
            window_bytes: 30_000,
            ..Opts::default()
        },
    );
    let (messages, ids) = batch(&[100, 100]);
    let report = shipper.ship(&messages, deadline(10)).await;
    assert!(report.failed.is_empty());
    let stats = rx.stats();
    assert_eq!(stats.gzip_windows, stats.accepted_windows);
    assert!(
        report.stats.wire_bytes * 4 < report.stats.bytes,
        "gzip should shrink JSON a lot"
    );
    assert!(
        rx.window_sizes().iter().all(|&s| s <= 30_000),
        "the bound is on the uncompressed body"
    );
    assert_eq!(sorted(rx.accepted_ids()), all_ids(&ids));
}

#[tokio::test]
async fn ndjson_format_delivers_canonical_records() {
    let rx = receiver(ReceiverConfig::default()).await;
    let shipper = shipper(
        &rx,
        Opts {
            format: Format::Ndjson,
            window_bytes: 20_000,
            ..Opts::default()
        },
    );
    let (messages, ids) = batch(&[60, 60]);
    let report = shipper.ship(&messages, deadline(10)).await;
    assert!(report.failed.is_empty());
    assert!(rx.window_sizes().iter().all(|&s| s <= 20_000));
    assert_eq!(sorted(rx.accepted_ids()), all_ids(&ids));
}

#[tokio::test]
async fn an_unreadable_message_fails_alone() {
    let rx = receiver(ReceiverConfig::default()).await;
    let shipper = shipper(&rx, Opts::default());
    let (mut messages, ids) = batch(&[5, 5]);
    messages.insert(1, InMessage::new("garbage", "not a frame %%%"));
    let report = shipper.ship(&messages, deadline(10)).await;
    assert_eq!(report.failed, vec!["garbage".to_string()]);
    assert_eq!(report.stats.unpack_failures, 1);
    assert_eq!(sorted(rx.accepted_ids()), all_ids(&ids));
}

#[tokio::test]
async fn a_record_larger_than_a_window_is_sent_alone_truncated() {
    let rx = receiver(ReceiverConfig::default()).await;
    let shipper = shipper(
        &rx,
        Opts {
            window_bytes: 20_000,
            ..Opts::default()
        },
    );
    let mut big = txn(1);
    big.response.body = Some(Body {
        data: "x".repeat(100_000),
        encoding: BodyEncoding::Utf8,
        truncated: false,
    });
    big.flags.discovery_only = false;
    let messages = vec![InMessage::new("m", frame(&[txn(0), big, txn(2)]))];
    let report = shipper.ship(&messages, deadline(10)).await;
    assert!(report.failed.is_empty());
    assert_eq!(report.stats.truncated_records, 1);
    assert_eq!(rx.accepted_ids().len(), 3);
    assert!(rx.window_sizes().iter().all(|&s| s <= 20_000));
}

#[tokio::test]
async fn refused_credentials_fail_fast_without_hammering_the_token_endpoint() {
    let rx = receiver(ReceiverConfig::default()).await;
    let shipper = shipper(
        &rx,
        Opts {
            secret: "wrong",
            window_bytes: 8_000,
            ..Opts::default()
        },
    );
    let (messages, _) = batch(&[50, 50]);
    let started = Instant::now();
    let report = shipper.ship(&messages, deadline(10)).await;
    assert_eq!(report.failed.len(), 2);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(report.stats.windows > 5);
    assert_eq!(
        rx.stats().token_requests,
        1,
        "a refusal is remembered briefly"
    );
    assert_eq!(rx.stats().posts, 0);
}

#[tokio::test]
async fn random_failures_never_lose_a_record() {
    // 30 % of requests fail with 503; retries within the deadline must still deliver everything.
    let rx = receiver(ReceiverConfig {
        faults: Faults {
            fail_rate: 0.3,
            ..Faults::default()
        },
        ..ReceiverConfig::default()
    })
    .await;
    let shipper = shipper(
        &rx,
        Opts {
            window_bytes: 10_000,
            ..Opts::default()
        },
    );
    let (messages, ids) = batch(&[100; 5]);
    let report = shipper.ship(&messages, deadline(20)).await;
    assert!(report.failed.is_empty());
    assert!(report.stats.retries > 0);
    let accepted: HashSet<String> = rx.accepted_ids().into_iter().collect();
    assert_eq!(accepted.len(), 500);
    assert_eq!(sorted(accepted.into_iter().collect()), all_ids(&ids));
}
