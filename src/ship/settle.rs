//! After a shipper batch, what happens to its messages in the queue beyond the partial batch
//! response, so that an outage costs time and not data:
//!
//! - records the collector rejected are sent again as messages of their own, so the records
//!   delivered with them are not sent twice ([`requeue`]);
//! - a message that failed for a transient reason is hidden the longer the more often it failed
//!   (`ChangeMessageVisibility` growing with `ApproximateReceiveCount`, capped), so a long collector
//!   outage uses up the queue's `maxReceiveCount` slowly ([`back_off`], [`RetryPolicy`]);
//! - once deliveries succeed again, the dead-letter queue is moved back to its source queue by a
//!   message-move task, at most once per cooldown ([`Redrive`]).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::{Requeue, ShipReport};
use crate::transport::backoff::{Backoff, Jitter};
use crate::transport::queue::{send_all, Attribute, InMessage, Queue, SendPolicy};

/// SQS refuses visibility timeouts above 12 hours.
pub const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 3600);
/// Default cap on the visibility given to a failed message (`RETRY_MAX_VISIBILITY_SECS`).
pub const DEFAULT_MAX_VISIBILITY: Duration = Duration::from_secs(3 * 3600);

/// How long a failed message stays hidden: the queue's visibility timeout after the first
/// failure, doubling with every receive, capped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The queue's visibility timeout (what the first failure costs anyway).
    pub first: Duration,
    /// Cap; zero turns the growth off (every failure costs `first`).
    pub max: Duration,
}

impl RetryPolicy {
    /// Visibility to set after receive number `receive_count` (1 = first) failed.
    pub fn visibility(&self, receive_count: u32) -> Duration {
        let max = self.max.max(self.first).min(MAX_VISIBILITY);
        Backoff::new(self.first, max, Jitter::None).ceiling(receive_count.max(1))
    }

    /// How long a message keeps failing before a queue with `max_receive` moves it to the DLQ:
    /// the sum of the visibilities of its `max_receive` receives.
    pub fn survives(&self, max_receive: u32) -> Duration {
        (1..=max_receive).map(|n| self.visibility(n)).sum()
    }
}

/// Send every `report.requeue` part to `queue`. `attributes` may add attributes to each new
/// message (the part is given). Returns the ids of the messages whose part could not be sent:
/// report them failed, so their records are not lost.
pub async fn requeue(
    queue: &dyn Queue,
    report: &ShipReport,
    attributes: impl Fn(&Requeue) -> BTreeMap<String, Attribute>,
) -> Vec<String> {
    let mut unsent = Vec::new();
    for part in &report.requeue {
        let messages = part
            .frames
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let mut m = f.to_message(i.to_string());
                m.attributes.extend(attributes(part));
                m
            })
            .collect();
        match send_all(queue, messages, &SendPolicy::default()).await {
            Ok(_) => tracing::warn!(
                message_id = %part.message_id,
                record_ids = ?part.record_ids,
                "rejected records sent again on their own; the rest of the message was delivered"
            ),
            Err(e) => {
                tracing::error!(message_id = %part.message_id, error = %e, "cannot send the rejected records on their own; the whole message is retried");
                unsent.push(part.message_id.clone());
            }
        }
    }
    unsent
}

/// Hide each message of `failed` that is not `permanent` for `policy.visibility` of its
/// receive count. A failure to change the visibility is logged: the message then comes back after
/// the queue's own timeout, which costs a receive but loses nothing. Returns how many changed.
pub async fn back_off(
    queue: &dyn Queue,
    received: &[InMessage],
    failed: &[String],
    permanent: &[String],
    policy: &RetryPolicy,
) -> usize {
    let mut changed = 0;
    for m in received
        .iter()
        .filter(|m| failed.contains(&m.message_id) && !permanent.contains(&m.message_id))
    {
        let hide = policy.visibility(m.receive_count);
        match queue.change_visibility(&m.receipt_handle, hide).await {
            Ok(()) => {
                changed += 1;
                tracing::info!(message_id = %m.message_id, receive_count = m.receive_count, hidden_s = hide.as_secs(), "failed message hidden before its next try");
            }
            Err(e) => {
                tracing::warn!(message_id = %m.message_id, error = %e, "cannot extend the visibility of a failed message")
            }
        }
    }
    changed
}

/// Moving the dead-letter queue back once deliveries succeed again.
pub struct Redrive {
    client: aws_sdk_sqs::Client,
    dlq_arn: String,
    cooldown: Duration,
    /// Messages per second the move task may move (SQS's `MaxNumberOfMessagesPerSecond`).
    rate: i32,
    last_try: tokio::sync::Mutex<Option<Instant>>,
}

/// What one [`Redrive::after_success`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedriveAction {
    /// Within the cooldown of the last try.
    CoolingDown,
    /// The DLQ holds nothing.
    Empty,
    /// A move task is running already.
    Running,
    Started {
        messages: u64,
    },
    /// Asking SQS failed (logged; tried again after the cooldown).
    Failed(String),
}

impl Redrive {
    pub fn new(
        client: aws_sdk_sqs::Client,
        dlq_arn: String,
        cooldown: Duration,
        rate: u32,
    ) -> Self {
        Redrive {
            client,
            dlq_arn,
            cooldown,
            rate: i32::try_from(rate.clamp(1, 500)).unwrap_or(500),
            last_try: tokio::sync::Mutex::new(None),
        }
    }

    /// Call after a batch whose records were all delivered: starts a move task when the DLQ holds
    /// messages and none runs, at most once per cooldown (per function instance; a running task
    /// also stops a second one).
    pub async fn after_success(&self) -> RedriveAction {
        {
            let mut last = self.last_try.lock().await;
            if last.is_some_and(|t| t.elapsed() < self.cooldown) {
                return RedriveAction::CoolingDown;
            }
            *last = Some(Instant::now());
        }
        let action = match self.try_start().await {
            Ok(a) => a,
            Err(e) => RedriveAction::Failed(e),
        };
        match &action {
            RedriveAction::Started { messages } => {
                tracing::warn!(dlq = %self.dlq_arn, messages, "deliveries succeed again: moving the dead-letter queue back")
            }
            RedriveAction::Failed(e) => {
                tracing::error!(dlq = %self.dlq_arn, error = %e, "cannot start moving the dead-letter queue back")
            }
            _ => tracing::debug!(dlq = %self.dlq_arn, ?action, "no redrive"),
        }
        action
    }

    async fn try_start(&self) -> Result<RedriveAction, String> {
        use aws_sdk_sqs::error::DisplayErrorContext;
        use aws_sdk_sqs::types::QueueAttributeName;
        let url = crate::transport::queue::sqs::queue_url_from_arn(&self.client, &self.dlq_arn)
            .await
            .map_err(|e| e.to_string())?;
        let attrs = self
            .client
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .map_err(|e| DisplayErrorContext(e).to_string())?;
        let depth = attrs
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessages))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        if depth == 0 {
            return Ok(RedriveAction::Empty);
        }
        let tasks = self
            .client
            .list_message_move_tasks()
            .source_arn(&self.dlq_arn)
            .max_results(1)
            .send()
            .await
            .map_err(|e| DisplayErrorContext(e).to_string())?;
        if tasks
            .results()
            .iter()
            .any(|t| t.status() == Some("RUNNING"))
        {
            return Ok(RedriveAction::Running);
        }
        self.client
            .start_message_move_task()
            .source_arn(&self.dlq_arn)
            .max_number_of_messages_per_second(self.rate)
            .send()
            .await
            .map_err(|e| DisplayErrorContext(e).to_string())?;
        Ok(RedriveAction::Started { messages: depth })
    }
}

/// The queue a shipper batch came from, as settling needs it.
#[derive(Clone, Copy)]
pub struct Source<'a> {
    pub queue: &'a dyn Queue,
    /// The queue's visibility timeout (what a failure costs at least).
    pub visibility: Duration,
}

/// The shipper Lambda's source queue, found from the event source ARN (with its visibility
/// timeout) once per function instance.
pub struct SourceQueues {
    client: aws_sdk_sqs::Client,
    queue: tokio::sync::OnceCell<(crate::transport::queue::SqsQueue, Duration)>,
}

impl SourceQueues {
    pub fn new(client: aws_sdk_sqs::Client) -> Self {
        SourceQueues {
            client,
            queue: tokio::sync::OnceCell::new(),
        }
    }

    /// The queue of `source_arn`; `None` (logged) when it cannot be reached: failed messages then
    /// come back after its own visibility timeout.
    pub async fn resolve(&self, source_arn: Option<&str>) -> Option<Source<'_>> {
        let arn = source_arn?;
        match self.lookup(arn).await {
            Ok((queue, visibility)) => Some(Source {
                queue,
                visibility: *visibility,
            }),
            Err(e) => {
                tracing::error!(error = %e, "cannot reach the source queue; failed messages come back after its visibility timeout");
                None
            }
        }
    }

    async fn lookup(
        &self,
        source_arn: &str,
    ) -> Result<&(crate::transport::queue::SqsQueue, Duration), crate::transport::queue::QueueError>
    {
        self.queue
            .get_or_try_init(|| async {
                use aws_sdk_sqs::types::QueueAttributeName;
                let url =
                    crate::transport::queue::sqs::queue_url_from_arn(&self.client, source_arn)
                        .await?;
                let attrs = self
                    .client
                    .get_queue_attributes()
                    .queue_url(&url)
                    .attribute_names(QueueAttributeName::VisibilityTimeout)
                    .send()
                    .await
                    .map_err(|e| crate::transport::queue::QueueError::Call {
                        queue: url.clone(),
                        operation: "GetQueueAttributes",
                        message: aws_sdk_sqs::error::DisplayErrorContext(e).to_string(),
                    })?;
                let visibility = attrs
                    .attributes()
                    .and_then(|a| a.get(&QueueAttributeName::VisibilityTimeout))
                    .and_then(|v| v.parse::<u64>().ok())
                    .map_or(Duration::from_secs(30), Duration::from_secs);
                let queue = crate::transport::queue::SqsQueue::new(self.client.clone(), url);
                Ok((queue, visibility))
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visibility_doubles_to_the_cap() {
        let p = RetryPolicy {
            first: Duration::from_secs(360),
            max: DEFAULT_MAX_VISIBILITY,
        };
        let got: Vec<u64> = (1..=8).map(|n| p.visibility(n).as_secs()).collect();
        assert_eq!(got, vec![360, 720, 1440, 2880, 5760, 10800, 10800, 10800]);
        assert_eq!(p.visibility(u32::MAX), DEFAULT_MAX_VISIBILITY);
        // The README's arithmetic: stack defaults (360 s, 3 h cap, maxReceiveCount 15).
        assert_eq!(p.survives(15).as_secs(), 119_160);
        assert!(p.survives(15) > Duration::from_secs(24 * 3600));
        // Growth off: every receive costs the queue's timeout.
        let flat = RetryPolicy {
            first: Duration::from_secs(360),
            max: Duration::ZERO,
        };
        assert_eq!(flat.survives(5).as_secs(), 1800);
    }

    #[test]
    fn visibility_never_exceeds_what_sqs_accepts() {
        let p = RetryPolicy {
            first: Duration::from_secs(u64::MAX / 4),
            max: Duration::MAX,
        };
        assert_eq!(p.visibility(3), MAX_VISIBILITY);
    }
}
