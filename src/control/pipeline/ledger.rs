//! Delivery accounting for a local run: which record ids went in, which the Bridge accepted, which
//! ended in the dead-letter queue, and how long each took. When the Bridge is the embedded receiver,
//! a record counts as delivered only if the receiver saw it: the shipper's confirmations then feed
//! progress and latency, never the final count. Ids are kept as 64-bit hashes so a
//! million records cost a few tens of MB; a collision would need ~4 billion ids to be likely.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::{Mutex, MutexGuard};

/// A set of id hashes. They are SipHash values already, so the table uses them as they are
/// instead of hashing them again: every record passes through several of these sets. (The frame
/// map's keys are counters: sequential keys fill sequential buckets, which suits it too.) The
/// ids come from this run's own input, so no one outside picks keys that collide.
pub type IdSet = HashSet<u64, BuildHasherDefault<AsIs>>;
type IdMap<V> = HashMap<u64, V, BuildHasherDefault<AsIs>>;

/// The hasher of an [`id_hash`] value: the value itself.
#[derive(Debug, Default)]
pub struct AsIs(u64);

impl Hasher for AsIs {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        debug_assert!(false, "AsIs hashes u64 keys only");
        // Only `u64` keys reach here; anything else still hashes, just less evenly.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Stable hash of a record id (SipHash with fixed keys).
pub fn id_hash(id: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    id.hash(&mut h);
    h.finish()
}

#[derive(Debug)]
struct FrameEntry {
    ids: Vec<u64>,
    /// When the records' log events entered the pipeline (epoch ms): latency starts here.
    base_ms: i64,
}

#[derive(Debug, Default)]
struct State {
    next_frame: u64,
    frames: IdMap<FrameEntry>,
    input: IdSet,
    /// Records read whose id had been read before (the same line in two inputs).
    input_repeats: u64,
    /// Ids in messages the shipper reported delivered.
    confirmed: IdSet,
    /// Ids the Bridge itself reports having accepted, when it can tell (the embedded receiver).
    bridge: Option<IdSet>,
    /// Records confirmed again after their first confirmation.
    repeat_confirmations: u64,
    /// Confirmed messages this run did not send (already in the queue).
    foreign_messages: u64,
    latencies_ms: Vec<u32>,
    /// Stitching: when the fragments of a request entered the pipeline (its latency base).
    fragment_base_ms: IdMap<i64>,
    /// Stitching: ids settled on purpose without a record (filtered, or fragments with nothing
    /// of the request in them).
    discarded: IdSet,
    /// Stitching: what the first record the stitch stage sent for an id said (a hash of it).
    stitched: IdMap<u64>,
    /// Ids read whole (a record of the decode stage) that also had parts go to the stitch stage.
    mixed: IdSet,
    /// Ids sent as two different records (parts that never met): two transactions for one
    /// request, not a re-send.
    split: IdSet,
}

/// Shared accounting; every method takes the lock briefly.
#[derive(Debug, Default)]
pub struct Ledger {
    state: Mutex<State>,
}

/// What [`Ledger::settle`] concludes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settlement {
    /// Distinct ids read.
    pub records_in: u64,
    pub input_repeats: u64,
    /// Distinct ids read and accepted by the Bridge (by its own account when it gives one).
    pub delivered: u64,
    /// Distinct ids the shipper reported delivered that the Bridge never saw (they count as lost).
    pub unconfirmed: u64,
    /// Distinct ids read, not delivered, held in the dead-letter queue.
    pub dead_lettered: u64,
    /// Distinct ids read and neither delivered nor dead-lettered.
    pub lost: u64,
    /// Distinct ids delivered as two (or more) different transactions: the parts of one request
    /// reached the collector separately. Not a re-send of the same record.
    pub split_deliveries: u64,
    /// Distinct ids read, not delivered, settled on purpose by the stitch stage (filtered or
    /// empty fragments).
    pub discarded: u64,
    pub repeat_confirmations: u64,
    pub foreign_messages: u64,
    pub latency_p50_ms: u64,
    pub latency_p99_ms: u64,
    pub latency_max_ms: u64,
}

impl Ledger {
    pub fn new() -> Self {
        Ledger::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Updates are single steps; a poisoned lock still holds consistent counts.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Record a frame about to be sent; returns its number (carried in the `frame` attribute).
    pub fn register_frame<'a>(&self, ids: impl IntoIterator<Item = &'a str>, base_ms: i64) -> u64 {
        self.add_frame(ids, Some(base_ms))
    }

    /// A frame of `ids`: read now (a repeat counted), or (`base_ms` `None`) stitched from
    /// fragments read earlier, whose first arrival is the latency base.
    pub(crate) fn add_frame<'a>(
        &self,
        ids: impl IntoIterator<Item = &'a str>,
        base_ms: Option<i64>,
    ) -> u64 {
        let hashes: Vec<u64> = ids.into_iter().map(id_hash).collect();
        let mut state = self.lock();
        let base_ms = match base_ms {
            Some(base) => {
                for h in &hashes {
                    if !state.input.insert(*h) {
                        state.input_repeats += 1;
                    }
                    if state.fragment_base_ms.contains_key(h) {
                        state.mixed.insert(*h);
                    }
                    if state.stitched.contains_key(h) {
                        state.split.insert(*h);
                    }
                }
                base
            }
            None => {
                let base = hashes
                    .iter()
                    .filter_map(|h| state.fragment_base_ms.get(h).copied())
                    .min()
                    .unwrap_or_else(crate::runtime::clock::now_ms);
                state.input.extend(hashes.iter().copied());
                base
            }
        };
        state.next_frame += 1;
        let frame = state.next_frame;
        state.frames.insert(
            frame,
            FrameEntry {
                ids: hashes,
                base_ms,
            },
        );
        frame
    }

    /// Fragments of requests went to the stitch stage: their ids are read (once, however many
    /// fragments a request has), their record comes later from [`register_stitched_frame`].
    ///
    /// [`register_stitched_frame`]: Self::register_stitched_frame
    pub fn expect_fragments<'a>(&self, ids: impl IntoIterator<Item = &'a str>, base_ms: i64) {
        let mut state = self.lock();
        for h in ids.into_iter().map(id_hash) {
            // Read whole before (a decode-stage record), and now in parts too.
            if !state.input.insert(h) && !state.fragment_base_ms.contains_key(&h) {
                state.mixed.insert(h);
            }
            let base = state.fragment_base_ms.entry(h).or_insert(base_ms);
            *base = (*base).min(base_ms);
        }
    }

    /// A frame of stitched records (their ids were read as fragments); returns its number.
    pub fn register_stitched_frame<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> u64 {
        self.add_frame(ids, None)
    }

    /// The stitch stage is sending records with these ids and content hashes: a second,
    /// different record for an id (or one for an id also read whole) is one request delivered
    /// as two transactions.
    pub fn note_stitched<'a>(&self, records: impl IntoIterator<Item = (&'a str, u64)>) {
        let mut state = self.lock();
        let state = &mut *state;
        for (id, content) in records {
            let h = id_hash(id);
            let first = *state.stitched.entry(h).or_insert(content);
            if first != content || state.mixed.contains(&h) {
                state.split.insert(h);
            }
        }
    }

    /// The stitch stage settled these requests without a record (filtered on purpose, or
    /// fragments that held nothing of the request).
    pub fn discard<'a>(&self, ids: impl IntoIterator<Item = &'a str>) {
        let mut state = self.lock();
        for h in ids.into_iter().map(id_hash) {
            state.discarded.insert(h);
        }
    }

    /// Move `ids` out of `frame` into a new frame (the shipper sends records the collector
    /// rejected again on their own); returns the new frame's number. Input counts do not change.
    pub fn split_frame<'a>(
        &self,
        frame: u64,
        ids: impl IntoIterator<Item = &'a str>,
    ) -> Option<u64> {
        let moved: IdSet = ids.into_iter().map(id_hash).collect();
        let mut state = self.lock();
        let entry = state.frames.get_mut(&frame)?;
        entry.ids.retain(|h| !moved.contains(h));
        let base_ms = entry.base_ms;
        state.next_frame += 1;
        let new = state.next_frame;
        state.frames.insert(
            new,
            FrameEntry {
                ids: moved.into_iter().collect(),
                base_ms,
            },
        );
        Some(new)
    }

    /// The Bridge accepted every record of `frame` (the shipper reported its message delivered).
    /// Returns the number of records delivered for the first time.
    pub fn confirm(&self, frame: Option<u64>, now_ms: i64) -> u64 {
        let mut state = self.lock();
        let state = &mut *state;
        let Some(entry) = frame.and_then(|f| state.frames.get_mut(&f)) else {
            state.foreign_messages += 1;
            return 0;
        };
        let latency = (now_ms - entry.base_ms).clamp(0, i64::from(u32::MAX)) as u32;
        let mut fresh = 0;
        for h in &entry.ids {
            if state.confirmed.insert(*h) {
                fresh += 1;
                state.latencies_ms.push(latency);
            } else {
                state.repeat_confirmations += 1;
            }
        }
        fresh
    }

    /// Ids the Bridge reports having accepted (the embedded receiver's view). From then on they
    /// alone decide what was delivered.
    pub fn set_bridge_ids<'a>(&self, ids: impl IntoIterator<Item = &'a str>) {
        self.set_bridge_hashes(ids.into_iter().map(id_hash).collect());
    }

    /// [`set_bridge_ids`](Self::set_bridge_ids) with the ids already hashed ([`id_hash`]).
    pub fn set_bridge_hashes(&self, seen: IdSet) {
        self.lock().bridge = Some(seen);
    }

    /// Record ids of a frame (for dead-letter accounting), when this run sent it.
    pub fn frame_ids(&self, frame: u64) -> Option<Vec<u64>> {
        self.lock().frames.get(&frame).map(|e| e.ids.clone())
    }

    /// Distinct ids the shipper has confirmed so far (progress).
    pub fn confirmed_count(&self) -> u64 {
        self.lock().confirmed.len() as u64
    }

    /// Final accounting, given the id hashes found in the dead-letter queue.
    pub fn settle(&self, dead_letter_ids: &IdSet) -> Settlement {
        let mut state = self.lock();
        let records_in = state.input.len() as u64;
        let witness = state.bridge.as_ref().unwrap_or(&state.confirmed);
        let delivered = state.input.iter().filter(|h| witness.contains(h)).count() as u64;
        let unconfirmed = state
            .input
            .iter()
            .filter(|h| state.confirmed.contains(h) && !witness.contains(h))
            .count() as u64;
        let dead_lettered = dead_letter_ids
            .iter()
            .filter(|h| state.input.contains(h) && !witness.contains(h))
            .count() as u64;
        let discarded = state
            .discarded
            .iter()
            .filter(|h| {
                state.input.contains(h) && !witness.contains(h) && !dead_letter_ids.contains(h)
            })
            .count() as u64;
        let lost = records_in - delivered - dead_lettered - discarded;
        let split_deliveries = state.split.iter().filter(|h| witness.contains(h)).count() as u64;
        state.latencies_ms.sort_unstable();
        let pct = |p: f64| -> u64 {
            let n = state.latencies_ms.len();
            if n == 0 {
                return 0;
            }
            let i = ((n as f64 * p).ceil() as usize).clamp(1, n) - 1;
            u64::from(state.latencies_ms[i])
        };
        Settlement {
            records_in,
            input_repeats: state.input_repeats,
            delivered,
            unconfirmed,
            dead_lettered,
            lost,
            split_deliveries,
            discarded,
            repeat_confirmations: state.repeat_confirmations,
            foreign_messages: state.foreign_messages,
            latency_p50_ms: pct(0.50),
            latency_p99_ms: pct(0.99),
            latency_max_ms: state.latencies_ms.last().copied().map_or(0, u64::from),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_delivered_dead_lettered_and_lost() {
        let l = Ledger::new();
        let a = l.register_frame(["a", "b"], 1_000);
        let b = l.register_frame(["c"], 1_000);
        let _c = l.register_frame(["d", "a"], 1_000);
        assert_eq!(l.confirm(Some(a), 1_010), 2);
        // Redelivered after a lost delete: repeats, not new deliveries.
        assert_eq!(l.confirm(Some(a), 1_500), 0);
        assert_eq!(l.confirm(Some(999), 1_500), 0);
        let dlq: IdSet = l.frame_ids(b).unwrap().into_iter().collect();
        let s = l.settle(&dlq);
        assert_eq!(s.records_in, 4);
        assert_eq!(s.input_repeats, 1);
        assert_eq!(s.delivered, 2);
        assert_eq!(s.dead_lettered, 1);
        assert_eq!(s.lost, 1, "d was never delivered");
        assert_eq!(s.repeat_confirmations, 2);
        assert_eq!(s.foreign_messages, 1);
        assert_eq!((s.latency_p50_ms, s.latency_p99_ms), (10, 10));
    }

    #[test]
    fn fragments_count_once_and_discards_are_not_lost() {
        let l = Ledger::new();
        l.expect_fragments(["a", "a", "b", "c"], 100);
        l.expect_fragments(["a"], 50);
        let f = l.register_stitched_frame(["a"]);
        assert_eq!(l.confirm(Some(f), 150), 1);
        l.discard(["b"]);
        let s = l.settle(&IdSet::default());
        assert_eq!(
            (
                s.records_in,
                s.input_repeats,
                s.delivered,
                s.discarded,
                s.lost
            ),
            (3, 0, 1, 1, 1)
        );
        assert_eq!(s.latency_max_ms, 100, "from the earliest fragment");
    }

    #[test]
    fn parts_delivered_apart_are_told_from_re_sends() {
        let l = Ledger::new();
        l.expect_fragments(["a", "b", "c"], 100);
        // a: the same stitched record twice (a re-send after a crash).
        l.note_stitched([("a", 7)]);
        l.note_stitched([("a", 7)]);
        // b: its two parts delivered alone, as two different records.
        l.note_stitched([("b", 1)]);
        l.note_stitched([("b", 2)]);
        // c: read whole by the decode stage and also sent by the stitch stage.
        l.register_frame(["c"], 100);
        l.note_stitched([("c", 3)]);
        // d: read whole, then a part of it stitched: also two transactions.
        l.register_frame(["d"], 100);
        l.expect_fragments(["d"], 100);
        l.note_stitched([("d", 4)]);
        l.set_bridge_ids(["a", "b", "c", "d"]);
        let s = l.settle(&IdSet::default());
        assert_eq!(s.split_deliveries, 3, "b, c and d; a is a re-send");
    }

    #[test]
    fn bridge_ids_count_as_delivered_only_for_our_input() {
        let l = Ledger::new();
        l.register_frame(["x", "y"], 0);
        l.set_bridge_ids(["x", "other"]);
        let s = l.settle(&IdSet::default());
        assert_eq!((s.delivered, s.lost), (1, 1));
    }

    #[test]
    fn with_a_bridge_the_shippers_word_is_not_enough() {
        let l = Ledger::new();
        let f = l.register_frame(["x", "y"], 0);
        // The shipper says the whole frame went through; the Bridge saw only x.
        assert_eq!(l.confirm(Some(f), 5), 2);
        l.set_bridge_ids(["x"]);
        let s = l.settle(&IdSet::default());
        assert_eq!((s.delivered, s.unconfirmed, s.lost), (1, 1, 1));
        // Without a Bridge's view, the confirmations are all there is.
        let l = Ledger::new();
        let f = l.register_frame(["x", "y"], 0);
        l.confirm(Some(f), 5);
        let s = l.settle(&IdSet::default());
        assert_eq!((s.delivered, s.unconfirmed, s.lost), (2, 0, 0));
    }
}
