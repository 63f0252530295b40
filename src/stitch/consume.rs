//! The stitch consumer: one batch of fragment messages → whole records for the main queue,
//! requests held back for their other part, and requests delivered alone after the hold.
//!
//! [`plan`] decides (no I/O, so the bench and the tests drive it directly);
//! [`super::stage::StitchStage`] carries the plan out, for the Lambda and `apigw-stream local`
//! alike.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use super::{join, StitchOptions, StitchStats};
use crate::decode::execution::assemble::{build_parsed, rank, LineMeta, Shape};
use crate::decode::execution::line::{self, Line};
use crate::decode::normalize::Context;
use crate::decode::DecodeOptions;
use crate::decode::Fragment;
use crate::transaction::{ExecutionLine, Transaction};
use crate::transport::queue::{InMessage, Queue};

/// What to do with one batch.
#[derive(Debug, Default)]
pub struct Plan {
    /// Records to send to the main queue (filtered and redacted like the decode stage's).
    pub records: Vec<Transaction>,
    /// For each record, the messages of its request (settled only once the record is sent).
    pub record_members: Vec<Vec<usize>>,
    /// Messages settled once the records are in the main queue (to delete).
    pub done: Vec<usize>,
    /// Messages held back for the rest of their request, with the visibility to give them.
    pub held: Vec<(usize, Duration)>,
    /// Messages that are not fragments (left to come back and, in the end, to the DLQ).
    pub poison: Vec<usize>,
    /// Requests settled without a record: filtered on purpose or dropped empty (accounting).
    pub settled_without_record: Vec<String>,
    pub stats: StitchStats,
}

/// A message of a request's group: its index in the batch, and its fragment (`None` for a repeat
/// of a body already read).
type Member = (usize, Option<Fragment>);

/// Decide what happens to each message of a batch at `now_ms`.
pub fn plan(
    messages: &[InMessage],
    opts: &StitchOptions,
    decode: &DecodeOptions,
    now_ms: i64,
) -> Plan {
    let mut plan = Plan::default();
    let mut groups: Vec<(String, Vec<Member>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut bodies: HashSet<&str> = HashSet::new();
    for (i, m) in messages.iter().enumerate() {
        plan.stats.fragments_in += 1;
        let f = match Fragment::decode(&m.body) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(message_id = %m.message_id, error = %e, "stitch queue message is not a fragment; left to the redrive policy");
                plan.stats.fragments_unreadable += 1;
                plan.poison.push(i);
                continue;
            }
        };
        let repeat = !bodies.insert(m.body.as_str());
        if repeat {
            plan.stats.fragments_duplicate += 1;
        }
        let at = *index.entry(f.request_id.clone()).or_insert_with(|| {
            groups.push((f.request_id.clone(), Vec::new()));
            groups.len() - 1
        });
        groups[at].1.push((i, (!repeat).then_some(f)));
    }
    let batch = Batch {
        messages,
        opts,
        decode,
        now_ms,
    };
    for (request_id, members) in &groups {
        settle_group(request_id, members, &batch, &mut plan);
    }
    plan
}

/// A line of a request's parts, with its parse (each line is parsed once in the stitch stage).
type Parsed<'f> = (&'f ExecutionLine, Line<'f>);

/// The lines of all parts in request order, each parsed once: parts by their first line (time,
/// kind, event id), each part's lines as read, a line seen twice kept once.
pub fn merged_lines<'f>(parts: &[&'f Fragment]) -> Vec<Parsed<'f>> {
    let mut parsed: Vec<Vec<Parsed<'f>>> = parts
        .iter()
        .filter(|f| !f.lines.is_empty())
        .map(|f| {
            f.lines
                .iter()
                .map(|l| (l, line::parse(&l.message)))
                .collect()
        })
        .collect();
    parsed.sort_by(|a, b| {
        let key = |p: &[Parsed<'f>]| {
            let (l, parse) = &p[0];
            (
                l.timestamp,
                rank(&parse.event),
                l.event_id.len(),
                l.event_id.as_str(),
            )
        };
        key(a).cmp(&key(b))
    });
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(parsed.iter().map(Vec::len).sum());
    for (l, parse) in parsed.into_iter().flatten() {
        if seen.insert((l.event_id.as_str(), l.message.as_str())) {
            out.push((l, parse));
        }
    }
    out
}

/// Assemble a request's parsed lines into its record.
fn assemble_lines<'f>(
    request_id: &'f str,
    lines: Vec<Parsed<'f>>,
    parts: &[&'f Fragment],
    decode: &DecodeOptions,
) -> Option<Transaction> {
    let at = parts.first()?;
    let api = parts.iter().find_map(|f| f.api.as_ref());
    let lines = lines
        .into_iter()
        .enumerate()
        .map(|(i, (l, parse))| (LineMeta::of_line(l, if i == 0 { api } else { None }), parse))
        .collect();
    let ctx = Context {
        log_group: &at.log_group,
        log_stream: &at.log_stream,
        owner: &at.owner,
        subscription_filters: &at.subscription_filters,
        region: at.region.as_deref().or(decode.region.as_deref()),
    };
    build_parsed(request_id, lines, &ctx, decode.max_body_bytes)
}

/// Nothing of the HTTP exchange: no method, path, status, header or body.
fn is_empty(t: &Transaction) -> bool {
    t.request.method.is_none()
        && t.request.path.is_none()
        && t.response.status.is_none()
        && t.request.headers.is_empty()
        && t.response.headers.is_empty()
        && t.request.body.is_none()
        && t.response.body.is_none()
}

/// What every group of one batch is settled against.
struct Batch<'a> {
    messages: &'a [InMessage],
    opts: &'a StitchOptions,
    decode: &'a DecodeOptions,
    now_ms: i64,
}

fn settle_group(request_id: &str, members: &[Member], batch: &Batch<'_>, plan: &mut Plan) {
    let parts: Vec<&Fragment> = members.iter().filter_map(|(_, f)| f.as_ref()).collect();
    let indices = members.iter().map(|(i, _)| *i);
    if parts.is_empty() {
        // Only repeats of bodies read in this batch under another request: nothing to do.
        plan.done.extend(indices);
        return;
    }
    let lines = merged_lines(&parts);
    let access = parts.iter().find_map(|f| f.access.as_deref());
    let joined = parts.iter().any(|f| f.joined);
    let shape = Shape::of(lines.iter().map(|(_, parse)| &parse.event));
    // Joined: both sources, and the execution lines whole.
    let whole = shape.whole() && (!joined || access.is_some());
    let age_ms = age_ms(members, &parts, batch);
    let hold_ms = batch.opts.hold.as_millis() as u64;
    if !whole && age_ms < hold_ms {
        let wait = hold_wait(members, batch, hold_ms - age_ms);
        plan.stats.held += 1;
        plan.held.extend(indices.map(|i| (i, wait)));
        return;
    }
    plan.done.extend(indices);
    let record = if lines.is_empty() {
        access.cloned()
    } else {
        assemble_lines(request_id, lines, &parts, batch.decode).map(|mut t| {
            if !whole && !shape.sound() {
                t.flags.partial = true;
            }
            match access {
                Some(a) => join::merge(t, a),
                None => t,
            }
        })
    };
    let Some(t) = record.filter(|t| !is_empty(t)) else {
        plan.stats.dropped_empty += 1;
        plan.settled_without_record.push(request_id.to_string());
        return;
    };
    if whole {
        plan.stats.stitched += 1;
    } else {
        plan.stats.delivered_alone += 1;
        plan.stats.partial += u64::from(t.flags.partial);
    }
    plan.stats.age_max_ms = plan.stats.age_max_ms.max(age_ms);
    plan.stats.age_total_ms += age_ms;
    keep(request_id, members, t, batch.decode, plan);
}

/// Since the request's first fragment entered the stitch queue (its log time when the queue
/// does not say).
fn age_ms(members: &[Member], parts: &[&Fragment], batch: &Batch<'_>) -> u64 {
    let entered = members
        .iter()
        .filter_map(|(i, _)| batch.messages[*i].sent_timestamp_ms)
        .min()
        .or_else(|| parts.iter().filter_map(|f| f.first_ms()).min())
        .unwrap_or(batch.now_ms);
    batch.now_ms.saturating_sub(entered).max(0) as u64
}

/// How long a held request waits: doubling from the step with each receive, at most 8 steps, so
/// parts that arrive late still meet soon after; never past what is left of the hold.
fn hold_wait(members: &[Member], batch: &Batch<'_>, left_ms: u64) -> Duration {
    let receives = members
        .iter()
        .map(|(i, _)| batch.messages[*i].receive_count)
        .max()
        .unwrap_or(1);
    batch
        .opts
        .step
        .saturating_mul(1u32 << receives.saturating_sub(1).min(3))
        .min(Duration::from_millis(left_ms))
}

/// The record goes on unless the filters drop it (counted).
fn keep(
    request_id: &str,
    members: &[Member],
    mut t: Transaction,
    decode: &DecodeOptions,
    plan: &mut Plan,
) {
    match decode.filter.apply(&mut t) {
        Ok(()) => {
            plan.stats.records += 1;
            plan.records.push(t);
            plan.record_members
                .push(members.iter().map(|(i, _)| *i).collect());
        }
        Err(_) => {
            plan.stats.filtered += 1;
            plan.settled_without_record.push(request_id.to_string());
        }
    }
}

/// Hide the held messages for their wait, so the parts of a request meet within seconds rather
/// than after the queue's visibility timeout. A failure only makes the wait longer.
pub async fn hold_back(plan: &Plan, messages: &[InMessage], stitch: &dyn Queue) {
    for (i, wait) in &plan.held {
        if let Err(e) = stitch
            .change_visibility(&messages[*i].receipt_handle, *wait)
            .await
        {
            tracing::debug!(error = %e, "shortening a held fragment's visibility failed; it waits for the queue's timeout");
        }
    }
}
