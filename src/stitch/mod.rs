//! Stitching: one transaction per request when its parts arrive in different deliveries — an
//! execution-log request cut across two subscription payloads, or (joined mode) a REST request's
//! access-log record and its execution-log lines, which always live in different log groups.
//!
//! The design and its cost are in `docs/stitching.md`. In short:
//!
//! - the decode stage keeps its path for requests seen whole; a part ([`Fragment`]) goes to a
//!   FIFO "stitch" queue, message group = request id, deduplication id = SHA-256 of the body;
//! - the stitch consumer ([`consume`] plans, [`stage`] carries it out, in the Lambda and in
//!   `apigw-stream local` alike) groups a batch's fragments by request: parts that make a
//!   whole request are assembled (the same [`crate::decode::execution::assemble`] as a whole payload) and
//!   sent to the main queue as ordinary frames, then deleted; a request still incomplete and
//!   younger than the hold is held back (reported failed, its visibility shortened so its parts
//!   meet within seconds); older than the hold, it is delivered alone, flagged `partial`, counted.
//!
//! Stitching is at least once like the rest of the pipeline: a crash between sending the record
//! and deleting its fragments sends the record again, and the Bridge sees a duplicate id.

pub mod consume;
pub mod join;
pub mod stage;

use std::time::Duration;

use crate::counters;

pub use consume::{plan, Plan};
pub use stage::{BatchOutcome, StitchStage};

/// Default `STITCH_HOLD_SECS`: how long a fragment waits for the rest of its request.
pub const DEFAULT_HOLD_SECS: u64 = 60;
/// First wait of a held fragment before it is looked at again; doubles with each receive.
pub const DEFAULT_STEP: Duration = Duration::from_secs(2);

/// How the stitch consumer waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StitchOptions {
    /// A request incomplete for longer than this (since its first fragment entered the stitch
    /// queue) is delivered with what it has, flagged `partial`.
    pub hold: Duration,
    /// The visibility a held fragment first gets (doubled with each receive up to 8 steps, and
    /// never past what is left of the hold).
    pub step: Duration,
}

impl Default for StitchOptions {
    fn default() -> Self {
        StitchOptions {
            hold: Duration::from_secs(DEFAULT_HOLD_SECS),
            step: DEFAULT_STEP,
        }
    }
}

counters! {
    /// Counts of the stitch stage (EMF and the `local` summary).
    pub struct StitchStats {
        /// Fragment messages read.
        fragments_in: sum ["FragmentsIn", Count],
        /// Messages that are not fragments (left to the stitch queue's redrive policy).
        fragments_unreadable: sum ["FragmentsUnreadable", Count],
        /// Fragments read twice (at-least-once delivery), dropped by content.
        fragments_duplicate: sum ["FragmentsDuplicate", Count],
        /// Requests made whole from two or more fragments (or, joined, from both sources).
        stitched: sum ["Stitched", Count],
        /// Times a request was held back for its other part.
        held: sum ["Held", Count],
        /// Requests delivered alone after the hold.
        delivered_alone: sum ["DeliveredAlone", Count],
        /// Of those, delivered flagged `partial` (execution lines missing their start or end).
        partial: sum ["Partial", Count],
        /// Fragments past the hold that carried nothing of the request (no method, path, status,
        /// headers or body: e.g. an `Extended Request Id` line alone), dropped and counted.
        dropped_empty: sum ["DroppedEmpty", Count],
        /// Stitched records the filters dropped (static file, content type, API kind).
        filtered: sum ["Filtered", Count],
        /// Records sent to the main queue.
        records: sum ["Records", Count],
        /// The oldest request delivered (since its first fragment entered the stitch queue).
        age_max_ms: max ["StitchAgeMax", Milliseconds],
        /// The ages of the requests delivered, summed.
        age_total_ms: sum,
    }
    derived {
        /// The average age of a request delivered (since its first fragment entered the stitch
        /// queue).
        "StitchAge" [Milliseconds] = |s| s
            .age_total_ms
            .checked_div(s.stitched + s.delivered_alone)
            .unwrap_or(0),
    }
}
