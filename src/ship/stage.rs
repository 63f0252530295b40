//! The ship stage: the one implementation of "a batch of queue messages → the collector, then
//! settle the batch with its queue", called by the shipper Lambda and by `apigw-stream local`.
//!
//! Settling is what happens beyond the partial batch response (see [`super::settle`]): rejected
//! records travel on alone, failed messages are hidden longer each time, and the dead-letter queue
//! is moved back after a clean batch. `local` follows the records through a [`ShipObserver`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::settle::{back_off, requeue, Redrive, RetryPolicy, Source};
use super::{Requeue, ShipReport, Shipper};
use crate::transport::queue::{Attribute, InMessage};

/// Sees the records of a batch move; `apigw-stream local` keeps its ledger with it.
pub trait ShipObserver: Send + Sync {
    /// Attributes for the message that carries a part's rejected records again, alone.
    fn requeue_attributes(&self, _part: &Requeue) -> BTreeMap<String, Attribute> {
        BTreeMap::new()
    }
}

/// An observer that adds nothing (the Lambda's).
pub struct NoObserver;
impl ShipObserver for NoObserver {}

/// The ship stage, built once from its settings.
pub struct ShipStage {
    pub shipper: Arc<Shipper>,
    /// Cap on the visibility a failed message gets (`RETRY_MAX_VISIBILITY_SECS`); zero: no growth.
    pub max_visibility: Duration,
    /// Moving the dead-letter queue back after a clean batch (`REDRIVE_DLQ_ARN`).
    pub redrive: Option<Redrive>,
}

impl ShipStage {
    pub fn new(shipper: Arc<Shipper>, max_visibility: Duration, redrive: Option<Redrive>) -> Self {
        ShipStage {
            shipper,
            max_visibility,
            redrive,
        }
    }

    /// Ship a batch before `deadline`, then settle it with `source`, the queue it came from
    /// (`None`: unknown, so rejected records cannot travel alone and whole messages are retried).
    /// `report.failed` is the partial batch response.
    pub async fn run(
        &self,
        messages: &[InMessage],
        source: Option<Source<'_>>,
        deadline: Instant,
        observer: &dyn ShipObserver,
    ) -> ShipReport {
        let mut report = self.shipper.ship(messages, deadline).await;
        match source {
            Some(source) => {
                let unsent = requeue(source.queue, &report, |part| {
                    observer.requeue_attributes(part)
                })
                .await;
                report.failed.extend(unsent);
                let policy = RetryPolicy {
                    first: source.visibility,
                    max: self.max_visibility,
                };
                back_off(
                    source.queue,
                    messages,
                    &report.failed,
                    &report.permanent,
                    &policy,
                )
                .await;
            }
            None => report
                .failed
                .extend(report.requeue.drain(..).map(|r| r.message_id)),
        }
        report.stats.failed_messages = report.failed.len() as u64;
        if let Some(redrive) = &self.redrive {
            if report.failed.is_empty() && report.stats.records_delivered > 0 {
                redrive.after_success().await;
            }
        }
        report
    }
}
