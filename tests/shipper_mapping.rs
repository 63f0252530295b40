//! The partial batch response, as properties: for any assignment of window outcomes, the reported
//! failures are exactly the messages with an undelivered record (or that could not be unpacked).

mod common;
mod ship_support;

use std::collections::HashSet;

use apigw_stream::ship::bridge::receiver::ReceiverConfig;
use apigw_stream::ship::{failed_messages, RangeOutcome};
use apigw_stream::transport::queue::InMessage;
use proptest::prelude::*;
use ship_support::*;

proptest! {
    /// The pure mapping, against a direct statement of the rule.
    #[test]
    fn mapping_is_exactly_the_messages_with_an_undelivered_record(
        counts in proptest::collection::vec(0usize..6, 1..12),
        cuts in proptest::collection::vec(any::<bool>(), 0..80),
        outcomes in proptest::collection::vec(any::<bool>(), 80),
        unpack in proptest::collection::vec(any::<bool>(), 12),
    ) {
        let record_messages: Vec<usize> =
            counts.iter().enumerate().flat_map(|(m, &n)| std::iter::repeat_n(m, n)).collect();
        let unpack: Vec<bool> = (0..counts.len()).map(|m| unpack[m] && counts[m] == 0).collect();
        // Windows: contiguous ranges cut wherever `cuts` says.
        let mut ranges = Vec::new();
        let mut start = 0;
        for i in 1..=record_messages.len() {
            if i == record_messages.len() || cuts.get(i).copied().unwrap_or(false) {
                ranges.push(start..i);
                start = i;
            }
        }
        let results: Vec<RangeOutcome> = ranges
            .iter()
            .enumerate()
            .map(|(w, r)| RangeOutcome { records: r.clone(), delivered: outcomes[w % outcomes.len()] })
            .collect();

        let got = failed_messages(counts.len(), &record_messages, &results, &unpack);

        let expected: Vec<usize> = (0..counts.len())
            .filter(|&m| {
                unpack[m]
                    || results.iter().any(|o| !o.delivered && o.records.clone().any(|r| record_messages[r] == m))
            })
            .collect();
        prop_assert_eq!(got, expected);
    }
}

fn undelivered(
    messages: &[InMessage],
    ids: &[Vec<String>],
    accepted: &[String],
    garbage: &HashSet<usize>,
) -> Vec<String> {
    let accepted: HashSet<&String> = accepted.iter().collect();
    messages
        .iter()
        .enumerate()
        .filter(|(m, _)| garbage.contains(m) || ids[*m].iter().any(|id| !accepted.contains(id)))
        .map(|(_, msg)| msg.message_id.clone())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// End to end against the receiver: each request answered 200 or 400 as drawn. A 400 is a
    /// rejection of content: the shipper bisects until the rejected records are alone, so every
    /// record is either delivered exactly once or rejected alone, and only messages with an
    /// undelivered record that was not rejected (or that did not unpack) are reported failed;
    /// the rejected records of otherwise delivered messages are framed anew, by id.
    #[test]
    fn shipper_isolates_rejected_records_and_reports_the_rest(
        counts in proptest::collection::vec(1usize..25, 1..8),
        window_bytes in 4_000usize..30_000,
        answers in proptest::collection::vec(prop_oneof![3 => Just(200u16), 2 => Just(400u16)], 64),
        garbage_at in proptest::option::of(0usize..8),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let rx = receiver(ReceiverConfig::default()).await;
            let shipper = shipper(&rx, Opts { concurrency: 1, window_bytes, ..Opts::default() });
            let (mut messages, mut ids) = batch(&counts);
            let mut garbage = HashSet::new();
            if let Some(at) = garbage_at.filter(|&g| g <= messages.len()) {
                messages.insert(at, InMessage::new("garbage", "!!"));
                ids.insert(at, Vec::new());
                garbage.insert(at);
            }
            rx.push_statuses(answers.iter().copied());
            let report = shipper.ship(&messages, deadline(20)).await;

            let accepted = rx.accepted_ids();
            let unique: HashSet<&String> = accepted.iter().collect();
            prop_assert_eq!(unique.len(), accepted.len(), "a record was delivered twice");
            let total: usize = counts.iter().sum();
            prop_assert_eq!(report.stats.records_rejected as usize, total - accepted.len());

            // Failed or requeued: exactly the messages with an undelivered record.
            let expected = undelivered(&messages, &ids, &accepted, &garbage);
            let mut got: Vec<String> = report.failed.clone();
            got.extend(report.requeue.iter().map(|r| r.message_id.clone()));
            let order = |id: &String| messages.iter().position(|m| &m.message_id == id);
            got.sort_by_key(order);
            prop_assert_eq!(&got, &expected);
            for part in &report.requeue {
                let m = order(&part.message_id).unwrap();
                let missing: Vec<String> =
                    ids[m].iter().filter(|id| !unique.contains(id)).cloned().collect();
                prop_assert_eq!(&part.record_ids, &missing);
                prop_assert!(missing.len() < ids[m].len(), "a requeued message had a delivered record");
                let framed: usize = part.frames.iter().map(|f| f.records).sum();
                prop_assert_eq!(framed, missing.len());
            }
            Ok(())
        })?;
    }
}
