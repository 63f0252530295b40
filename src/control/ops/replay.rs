//! Replay from the dead-letter queues.
//!
//! - Shipper DLQ: its messages are queue frames; they go back to the queue unchanged, by an SQS
//!   message-move task where possible ([`move_task`]), else receive → send → delete ([`replay`]).
//! - Decode DLQ: its messages are Lambda on-failure destination records whose `requestPayload` is
//!   the original `{"awslogs":{"data":...}}` event; it is decoded here and its frames sent to the
//!   queue, or (with an [`Invoker`]) handed back to the decode function.
//!
//! A DLQ message is deleted only after its copy was confirmed (sent, or accepted by Lambda).
//! Messages left in place (skipped, failed, dry run) are made visible again at the end.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use indicatif::ProgressBar;
use serde::Serialize;

use super::{sdk_message, OpsError};
use crate::decode::{decode_bytes, DecodeOptions, DecodeStats};
use crate::runtime::clock::now_ms;
use crate::transport::frame;
use crate::transport::queue::{
    send_all, Attribute, InMessage, OutMessage, Queue, SendPolicy, MAX_BATCH_ENTRIES,
};

/// What the source queue holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// Tell each message apart: destination records go through decode, the rest are frames.
    Auto,
    Shipper,
    Decode,
}

#[derive(Debug, Clone)]
pub struct ReplayOptions {
    pub kind: SourceKind,
    /// Stop after this many messages handled (moved, failed, or that would move in a dry run).
    pub max: Option<u64>,
    /// Messages per second at most.
    pub rate: Option<f64>,
    /// Inspect (and decode) but change nothing.
    pub dry_run: bool,
    /// Only messages that entered the DLQ at least this long ago.
    pub older_than: Option<Duration>,
    /// Frame size bound for decode-DLQ records (`MESSAGE_BYTES`).
    pub message_bytes: usize,
    pub decode: DecodeOptions,
    /// How long received messages stay hidden while being handled.
    pub visibility: Duration,
    /// Long-poll wait; an empty receive after it ends the run.
    pub wait: Duration,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            kind: SourceKind::Auto,
            max: None,
            rate: None,
            dry_run: false,
            older_than: None,
            message_bytes: frame::DEFAULT_MESSAGE_BYTES,
            decode: DecodeOptions::default(),
            visibility: Duration::from_secs(300),
            wait: Duration::from_secs(1),
        }
    }
}

/// Counts of one replay run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReplaySummary {
    /// `message-move-task` or `receive-send-delete`.
    pub method: String,
    pub dry_run: bool,
    pub received: u64,
    /// Messages whose copy was confirmed and that were deleted (in a dry run: that would be).
    pub moved: u64,
    /// Left in the DLQ on purpose (age filter, over `--max`).
    pub skipped: u64,
    /// Left in the DLQ after an error (undecodable, invalid, send or invoke failed).
    pub failed: u64,
    /// Of `failed`: messages that are neither a valid queue frame nor a destination record.
    pub invalid: u64,
    /// Copied to the destination but not deleted from the DLQ (not counted in `moved`): the
    /// message comes back, and a later replay would copy it again.
    pub undeleted: u64,
    /// Frames sent to the queue for decode-DLQ records.
    pub frames_sent: u64,
    /// Decode-DLQ records handed to the decode function.
    pub invoked: u64,
    pub decode: DecodeStats,
    /// The first errors, for the report (all of them are logged).
    pub errors: Vec<String>,
}

const MAX_REPORTED_ERRORS: usize = 20;

impl ReplaySummary {
    fn error(&mut self, msg: String) {
        tracing::warn!("{msg}");
        if self.errors.len() < MAX_REPORTED_ERRORS {
            self.errors.push(msg);
        }
    }
}

/// Re-invokes the decode function with an original event (asynchronously, as CloudWatch Logs does).
#[async_trait]
pub trait Invoker: Send + Sync {
    fn name(&self) -> &str;
    async fn invoke_event(&self, payload: &[u8]) -> Result<(), InvokeError>;
}

/// A re-invocation that Lambda did not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvokeError {
    /// The call failed; `message` is the service's code and text.
    #[error("Invoke {function}: {message}")]
    Call { function: String, message: String },
    /// Lambda answered, but did not queue the event.
    #[error("Invoke {function}: status {status} (expected 202)")]
    Status { function: String, status: i32 },
}

/// [`Invoker`] over Lambda `Invoke` with `InvocationType=Event`.
#[derive(Debug, Clone)]
pub struct LambdaInvoker {
    pub client: aws_sdk_lambda::Client,
    pub function: String,
}

#[async_trait]
impl Invoker for LambdaInvoker {
    fn name(&self) -> &str {
        &self.function
    }

    async fn invoke_event(&self, payload: &[u8]) -> Result<(), InvokeError> {
        let resp = self
            .client
            .invoke()
            .function_name(&self.function)
            .invocation_type(aws_sdk_lambda::types::InvocationType::Event)
            .payload(aws_sdk_lambda::primitives::Blob::new(payload.to_vec()))
            .send()
            .await
            .map_err(|e| InvokeError::Call {
                function: self.function.clone(),
                message: sdk_message(&e),
            })?;
        // Async invocations answer 202 once Lambda has queued the event.
        if resp.status_code() != 202 {
            return Err(InvokeError::Status {
                function: self.function.clone(),
                status: resp.status_code(),
            });
        }
        Ok(())
    }
}

/// A decode-DLQ message: the original event of a failed decode invocation.
fn destination_payload(body: &str) -> Option<Vec<u8>> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    let obj = v.as_object()?;
    if !(obj.contains_key("requestContext") || obj.contains_key("responseContext")) {
        return None;
    }
    match obj.get("requestPayload")? {
        serde_json::Value::String(s) => Some(s.as_bytes().to_vec()),
        other => serde_json::to_vec(other).ok(),
    }
}

enum Kind {
    Frame,
    Record(Vec<u8>),
}

/// Why a DLQ message is left where it is.
enum Refusal {
    /// The wrong kind for `--kind`.
    Kind(String),
    /// Neither a frame nor a destination record: nothing the pipeline could use.
    Invalid(String),
}

fn classify(m: &InMessage, kind: SourceKind) -> Result<Kind, Refusal> {
    let record = destination_payload(&m.body);
    match (kind, record) {
        (SourceKind::Decode, Some(p)) | (SourceKind::Auto, Some(p)) => Ok(Kind::Record(p)),
        // Checked whole (base64, gzip, every line a record): the shipper would only fail on it
        // again, and it would be back in the DLQ after maxReceiveCount tries.
        (SourceKind::Shipper, None) | (SourceKind::Auto, None) => match frame::unpack(&m.body) {
            Ok(_) => Ok(Kind::Frame),
            Err(e) => Err(Refusal::Invalid(format!(
                "message {} is neither a queue frame ({e}) nor a Lambda destination record; left in the DLQ",
                m.message_id
            ))),
        },
        (SourceKind::Shipper, Some(_)) => Err(Refusal::Kind(format!(
            "message {} is a Lambda destination record (decode DLQ), not a queue frame; use --kind decode or auto",
            m.message_id
        ))),
        (SourceKind::Decode, None) => Err(Refusal::Kind(format!(
            "message {} is not a Lambda destination record with a requestPayload; use --kind shipper or auto",
            m.message_id
        ))),
    }
}

/// The attributes a frame message had, typed again (SQS hands them back as strings).
fn frame_attributes(attrs: &BTreeMap<String, String>) -> BTreeMap<String, Attribute> {
    attrs
        .iter()
        .map(|(k, v)| {
            let a = if k == "records" && v.parse::<u64>().is_ok() {
                Attribute::Number(v.clone())
            } else {
                Attribute::String(v.clone())
            };
            (k.clone(), a)
        })
        .collect()
}

/// Receive → copy → delete until the source is empty or `max` is reached.
pub async fn replay(
    from: &dyn Queue,
    to: &dyn Queue,
    invoker: Option<&dyn Invoker>,
    opts: &ReplayOptions,
    progress: &ProgressBar,
) -> ReplaySummary {
    let mut run = Run {
        sum: ReplaySummary {
            method: "receive-send-delete".to_string(),
            dry_run: opts.dry_run,
            ..Default::default()
        },
        release: Vec::new(),
        taken: 0,
    };
    let policy = SendPolicy::default();
    let started = tokio::time::Instant::now();
    loop {
        let room = opts.max.map_or(u64::MAX, |m| m.saturating_sub(run.taken));
        if room == 0 {
            break;
        }
        let want = (room.min(MAX_BATCH_ENTRIES as u64)) as usize;
        let before = run.taken;
        let batch = match from.receive(want, opts.wait, opts.visibility).await {
            Ok(b) => b,
            Err(e) => {
                run.sum.error(format!("receive from {}: {e}", from.name()));
                break;
            }
        };
        if batch.is_empty() {
            break;
        }
        run.sum.received += batch.len() as u64;
        let (frames, records) = run.triage(batch, opts);

        if let Some(rate) = opts.rate.filter(|r| *r > 0.0) {
            // Pace by messages handled before this batch: message n starts no earlier than n / rate.
            let due = started + Duration::from_secs_f64(before as f64 / rate);
            tokio::time::sleep_until(due).await;
        }

        let n = frames.len() as u64;
        run.move_frames(frames, from, to, opts, &policy).await;
        progress.inc(n);
        let route = Route {
            from,
            to,
            opts,
            policy: &policy,
        };
        for (m, payload) in records {
            match invoker {
                Some(inv) => run.reinvoke(m, &payload, inv, &route).await,
                None => run.decode_and_send(m, &payload, &route).await,
            }
            progress.inc(1);
        }
        progress.set_message(format!(
            "moved {} failed {} skipped {}",
            run.sum.moved, run.sum.failed, run.sum.skipped
        ));
    }

    for handle in run.release {
        if let Err(e) = from.change_visibility(&handle, Duration::ZERO).await {
            // Not fatal: the message comes back by itself when its visibility timeout ends.
            tracing::debug!("release {}: {e}", from.name());
        }
    }
    run.sum
}

/// The state of one [`replay`] run.
struct Run {
    sum: ReplaySummary,
    /// Receipt handles to make visible again at the end (left in the DLQ).
    release: Vec<String>,
    /// Messages counted towards `--max`.
    taken: u64,
}

impl Run {
    /// Sort a received batch: frames to copy, destination records to decode, and what stays
    /// (skipped by age or `--max`, or refused) released at the end.
    fn triage(
        &mut self,
        batch: Vec<InMessage>,
        opts: &ReplayOptions,
    ) -> (Vec<InMessage>, Vec<(InMessage, Vec<u8>)>) {
        let mut frames = Vec::new();
        let mut records = Vec::new();
        for m in batch {
            let old_enough = opts.older_than.is_none_or(|age| {
                m.sent_timestamp_ms
                    .is_some_and(|t| now_ms().saturating_sub(t) >= age.as_millis() as i64)
            });
            if self.taken >= opts.max.unwrap_or(u64::MAX) || !old_enough {
                self.sum.skipped += 1;
                self.release.push(m.receipt_handle);
                continue;
            }
            // Counted towards --max whatever happens next: it bounds the work done.
            self.taken += 1;
            match classify(&m, opts.kind) {
                Ok(Kind::Frame) => frames.push(m),
                Ok(Kind::Record(p)) => records.push((m, p)),
                Err(refusal) => {
                    self.sum.failed += 1;
                    let e = match refusal {
                        Refusal::Kind(e) => e,
                        Refusal::Invalid(e) => {
                            self.sum.invalid += 1;
                            e
                        }
                    };
                    self.sum.error(e);
                    self.release.push(m.receipt_handle);
                }
            }
        }
        (frames, records)
    }

    /// Send frames to the queue unchanged, then delete them from the DLQ.
    async fn move_frames(
        &mut self,
        frames: Vec<InMessage>,
        from: &dyn Queue,
        to: &dyn Queue,
        opts: &ReplayOptions,
        policy: &SendPolicy,
    ) {
        let n = frames.len() as u64;
        if n == 0 {
            return;
        }
        if opts.dry_run {
            self.sum.moved += n;
            self.release
                .extend(frames.into_iter().map(|m| m.receipt_handle));
            return;
        }
        let out: Vec<OutMessage> = frames
            .iter()
            .enumerate()
            .map(|(i, m)| OutMessage {
                id: i.to_string(),
                body: m.body.clone(),
                attributes: frame_attributes(&m.attributes),
            })
            .collect();
        let handles: Vec<String> = frames.into_iter().map(|m| m.receipt_handle).collect();
        match send_all(to, out, policy).await {
            Ok(_) => settle(from, handles, &mut self.sum).await,
            Err(e) => {
                self.sum.failed += n;
                self.sum
                    .error(format!("send {n} frames to {}: {e}", to.name()));
                self.release.extend(handles);
            }
        }
    }
}

/// Delete DLQ messages whose copies were confirmed. A failed delete leaves a duplicate behind,
/// never a loss: the message comes back and would be replayed again.
async fn settle(from: &dyn Queue, handles: Vec<String>, sum: &mut ReplaySummary) {
    let n = handles.len() as u64;
    match from.delete(&handles).await {
        Ok(()) => sum.moved += n,
        Err(e) => {
            sum.undeleted += n;
            sum.error(format!(
                "{n} messages were copied but not deleted from {} ({e}); a later replay would copy them again",
                from.name()
            ));
        }
    }
}

/// Where a destination record goes, and by which rules.
struct Route<'a> {
    from: &'a dyn Queue,
    to: &'a dyn Queue,
    opts: &'a ReplayOptions,
    policy: &'a SendPolicy,
}

impl Run {
    /// Hand a destination record's original event back to the decode function.
    async fn reinvoke(
        &mut self,
        m: InMessage,
        payload: &[u8],
        inv: &dyn Invoker,
        route: &Route<'_>,
    ) {
        if route.opts.dry_run {
            self.sum.moved += 1;
            self.release.push(m.receipt_handle);
            return;
        }
        match inv.invoke_event(payload).await {
            Ok(()) => {
                self.sum.invoked += 1;
                settle(route.from, vec![m.receipt_handle], &mut self.sum).await;
            }
            Err(e) => {
                self.sum.failed += 1;
                self.sum.error(format!("message {}: {e}", m.message_id));
                self.release.push(m.receipt_handle);
            }
        }
    }

    /// Decode a destination record here and send its frames to the queue.
    async fn decode_and_send(&mut self, m: InMessage, payload: &[u8], route: &Route<'_>) {
        let opts = route.opts;
        let mut stats = DecodeStats::default();
        let decoded = decode_bytes(payload, &opts.decode, &mut stats)
            .map_err(|e| {
                format!(
                    "message {}: requestPayload does not decode: {e}",
                    m.message_id
                )
            })
            .and_then(|recs| {
                frame::pack(&recs, opts.message_bytes)
                    .map_err(|e| format!("message {}: cannot pack its records: {e}", m.message_id))
            });
        let frames = match decoded {
            Ok(f) => f,
            Err(e) => {
                self.sum.failed += 1;
                self.sum.error(e);
                self.release.push(m.receipt_handle);
                return;
            }
        };
        self.sum.decode.add(&stats);
        if opts.dry_run {
            self.sum.moved += 1;
            self.sum.frames_sent += frames.len() as u64;
            self.release.push(m.receipt_handle);
            return;
        }
        let n_frames = frames.len() as u64;
        let out: Vec<OutMessage> = frames
            .into_iter()
            .enumerate()
            .map(|(i, f)| f.into_message(i.to_string()))
            .collect();
        // No records (a control message, or all filtered on purpose, counted in `decode`): nothing
        // to send, and the message has been dealt with.
        if !out.is_empty() {
            if let Err(e) = send_all(route.to, out, route.policy).await {
                self.sum.failed += 1;
                self.sum.error(format!(
                    "message {}: send {n_frames} frames to {}: {e}",
                    m.message_id,
                    route.to.name()
                ));
                self.release.push(m.receipt_handle);
                return;
            }
        }
        self.sum.frames_sent += n_frames;
        settle(route.from, vec![m.receipt_handle], &mut self.sum).await;
    }
}

/// The decode settings of the deployed decode function (its environment: filters, redaction,
/// `MESSAGE_BYTES`), so records replayed from the decode DLQ are treated as the function would.
pub async fn function_decode_settings(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    region: Option<&str>,
) -> Result<(DecodeOptions, usize), OpsError> {
    let conf = lambda
        .get_function_configuration()
        .function_name(function)
        .send()
        .await
        .map_err(|e| OpsError::aws("GetFunctionConfiguration", function, e))?;
    let mut env: std::collections::HashMap<String, String> = conf
        .environment()
        .and_then(|e| e.variables())
        .cloned()
        .unwrap_or_default();
    if let Some(r) = region {
        // Lambda sets AWS_REGION itself; it is not in the configured variables.
        env.entry("AWS_REGION".to_string())
            .or_insert_with(|| r.to_string());
    }
    let bad =
        |e: crate::config::ConfigError| OpsError::Input(format!("decode function {function}: {e}"));
    let options = crate::config::decode_options_from_env(&env).map_err(bad)?;
    let message_bytes = crate::config::settings::MESSAGE_BYTES
        .usize(&env)
        .map_err(bad)?;
    Ok((options, message_bytes))
}

/// How a move task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveTaskResult {
    pub status: String,
    pub moved: u64,
    pub failure_reason: Option<String>,
}

/// The ARN of a queue (`GetQueueAttributes QueueArn`).
pub async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> Result<String, OpsError> {
    let resp = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| OpsError::aws("GetQueueAttributes", url, e))?;
    resp.attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
        .cloned()
        .ok_or_else(|| OpsError::Input(format!("queue {url} has no QueueArn attribute")))
}

/// Approximate number of visible messages of a queue (for the progress bar).
pub async fn queue_depth(sqs: &aws_sdk_sqs::Client, url: &str) -> Option<u64> {
    let attr = aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages;
    let resp = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(attr.clone())
        .send()
        .await
        .ok()?;
    resp.attributes()?.get(&attr)?.parse().ok()
}

/// Start an SQS message-move task from a DLQ to `to_url` and wait for it to end. An `Err` from
/// the start means the task could not run (the caller falls back to [`replay`]); once started,
/// the task's own outcome is returned.
pub async fn move_task(
    sqs: &aws_sdk_sqs::Client,
    from_url: &str,
    to_url: &str,
    rate: Option<u32>,
    progress: &ProgressBar,
) -> Result<MoveTaskResult, OpsError> {
    move_task_within(sqs, from_url, to_url, rate, MOVE_TASK_DEADLINE, progress).await
}

/// How long [`move_task`] follows a started task before reporting it still running.
pub const MOVE_TASK_DEADLINE: Duration = Duration::from_secs(30 * 60);

/// [`move_task`], following the task for at most `deadline` overall.
pub async fn move_task_within(
    sqs: &aws_sdk_sqs::Client,
    from_url: &str,
    to_url: &str,
    rate: Option<u32>,
    deadline: Duration,
    progress: &ProgressBar,
) -> Result<MoveTaskResult, OpsError> {
    let give_up = tokio::time::Instant::now() + deadline;
    let source = queue_arn(sqs, from_url).await?;
    let destination = queue_arn(sqs, to_url).await?;
    let started = sqs
        .start_message_move_task()
        .source_arn(&source)
        .destination_arn(&destination)
        .set_max_number_of_messages_per_second(rate.map(|r| r.clamp(1, 500) as i32))
        .send()
        .await
        .map_err(|e| OpsError::aws("StartMessageMoveTask", &source, e))?;
    let handle = started.task_handle().unwrap_or_default().to_string();
    tracing::info!(source = %source, destination = %destination, "message-move task started");
    Ok(watch_move_task(sqs, &source, &handle, (give_up, deadline), progress).await)
}

/// Follow the started task `handle` on `source` until it ends or `give_up` (the deadline the
/// caller gave, `deadline` long) passes.
async fn watch_move_task(
    sqs: &aws_sdk_sqs::Client,
    source: &str,
    handle: &str,
    (give_up, deadline): (tokio::time::Instant, Duration),
    progress: &ProgressBar,
) -> MoveTaskResult {
    // Once started, the task runs on its own: a failed or empty listing is retried a bounded
    // number of times and then reported as the task's outcome, never as "could not start"
    // (which would make the caller replay the same DLQ a second way at once).
    const MAX_UNSEEN_POLLS: u32 = 30;
    let mut unseen = 0u32;
    let mut moved = 0u64;
    let mut last_error = None;
    loop {
        if tokio::time::Instant::now() >= give_up {
            return MoveTaskResult {
                status: "RUNNING".to_string(),
                moved,
                failure_reason: Some(format!(
                    "still running after {} s; it goes on by itself (follow it with ListMessageMoveTasks, stop it with CancelMessageMoveTask)",
                    deadline.as_secs()
                )),
            };
        }
        tokio::time::sleep(Duration::from_secs(2).min(deadline)).await;
        let listed = sqs
            .list_message_move_tasks()
            .source_arn(source)
            .max_results(10)
            .send()
            .await;
        let tasks = match listed {
            Ok(t) => t,
            Err(e) => {
                last_error = Some(OpsError::aws("ListMessageMoveTasks", source, e).to_string());
                unseen += 1;
                if unseen >= MAX_UNSEEN_POLLS {
                    return unknown_outcome(moved, last_error);
                }
                continue;
            }
        };
        // Newest first; a queue runs one task at a time, so the newest is ours. Its handle is
        // listed only while it runs, hence the fallback to the newest once it has ended.
        let task = tasks
            .results()
            .iter()
            .find(|t| !handle.is_empty() && t.task_handle() == Some(handle))
            .or_else(|| tasks.results().first());
        let Some(task) = task else {
            unseen += 1;
            if unseen >= MAX_UNSEEN_POLLS {
                return unknown_outcome(moved, last_error);
            }
            continue;
        };
        unseen = 0;
        moved = task.approximate_number_of_messages_moved().max(0) as u64;
        progress.set_position(moved);
        let status = task.status().unwrap_or("UNKNOWN").to_string();
        if matches!(status.as_str(), "COMPLETED" | "FAILED" | "CANCELLED") {
            return MoveTaskResult {
                status,
                moved,
                failure_reason: task.failure_reason().map(str::to_string),
            };
        }
    }
}

/// The task started but could not be followed to its end: say so instead of guessing.
fn unknown_outcome(moved: u64, last_error: Option<String>) -> MoveTaskResult {
    MoveTaskResult {
        status: "UNKNOWN".to_string(),
        moved,
        failure_reason: Some(last_error.unwrap_or_else(|| {
            "the task was not listed for 60 s; check ListMessageMoveTasks".to_string()
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destination_records_are_told_from_frames() {
        let rec = r#"{"version":"1.0","timestamp":"2026-01-01T00:00:00.000Z","requestContext":{"requestId":"r","functionArn":"arn:aws:lambda:us-east-1:1:function:d:$LATEST","condition":"RetriesExhausted","approximateInvokeCount":3},"requestPayload":{"awslogs":{"data":"H4sI"}},"responseContext":{"statusCode":200,"executedVersion":"$LATEST","functionError":"Unhandled"},"responsePayload":{"errorMessage":"boom"}}"#;
        assert_eq!(
            destination_payload(rec).as_deref(),
            Some(br#"{"awslogs":{"data":"H4sI"}}"#.as_slice())
        );
        assert_eq!(destination_payload("H4sIAAAAAAAA/wMAAAAAAAAAAAA="), None);
        assert_eq!(
            destination_payload(r#"{"requestPayload":{}}"#),
            None,
            "needs the context keys"
        );
    }

    #[test]
    fn records_attribute_is_a_number_again() {
        let attrs = BTreeMap::from([
            ("records".to_string(), "12".to_string()),
            ("encoding".to_string(), frame::ENCODING.to_string()),
        ]);
        let typed = frame_attributes(&attrs);
        assert_eq!(typed["records"], Attribute::Number("12".into()));
        assert_eq!(typed["encoding"], Attribute::String(frame::ENCODING.into()));
    }

    fn frame_message(i: usize) -> OutMessage {
        let t = crate::Transaction::new(format!("r{i}"), 1, Default::default());
        let mut frames = frame::pack(&[t], frame::DEFAULT_MESSAGE_BYTES).unwrap();
        frames.remove(0).into_message(i.to_string())
    }

    #[tokio::test]
    async fn rate_paces_batches_and_max_bounds_the_work() {
        use crate::transport::queue::MemoryQueue;
        let from = MemoryQueue::new("dlq");
        let to = MemoryQueue::new("queue");
        let msgs: Vec<OutMessage> = (0..25).map(frame_message).collect();
        send_all(&from, msgs, &SendPolicy::default()).await.unwrap();
        let opts = ReplayOptions {
            rate: Some(20.0),
            max: Some(20),
            wait: Duration::from_millis(10),
            ..Default::default()
        };
        let t0 = tokio::time::Instant::now();
        let s = replay(&from, &to, None, &opts, &ProgressBar::hidden()).await;
        // Two batches of ten: the second may start only after 10 messages / 20 per second (a lower
        // bound, so not timing-sensitive).
        assert!(
            t0.elapsed() >= Duration::from_millis(500),
            "{:?}",
            t0.elapsed()
        );
        assert_eq!((s.moved, s.failed), (20, 0));
        assert_eq!(to.approximate_len().await.unwrap(), 20);
        assert_eq!(from.approximate_len().await.unwrap(), 5);
    }

    #[tokio::test]
    async fn invalid_messages_stay_and_are_reported() {
        use crate::transport::queue::MemoryQueue;
        let from = MemoryQueue::new("dlq");
        let to = MemoryQueue::new("queue");
        let mut msgs: Vec<OutMessage> = (0..3).map(frame_message).collect();
        for (i, body) in ["H4sInot-a-frame", "{\"random\":\"json\"}"]
            .iter()
            .enumerate()
        {
            msgs.push(OutMessage {
                id: format!("bad{i}"),
                body: body.to_string(),
                attributes: BTreeMap::new(),
            });
        }
        send_all(&from, msgs, &SendPolicy::default()).await.unwrap();
        let opts = ReplayOptions {
            wait: Duration::from_millis(10),
            ..Default::default()
        };
        let s = replay(&from, &to, None, &opts, &ProgressBar::hidden()).await;
        assert_eq!((s.moved, s.failed, s.invalid), (3, 2, 2));
        assert_eq!(s.errors.len(), 2);
        assert_eq!(to.approximate_len().await.unwrap(), 3);
        let left = from.peek_all();
        assert_eq!(left.len(), 2, "invalid messages stay in the DLQ");
        assert!(left.iter().all(|m| frame::unpack(&m.body).is_err()));
    }
}
