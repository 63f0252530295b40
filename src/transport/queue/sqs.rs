//! The queue as Amazon SQS (or anything that speaks its API: moto, LocalStack).

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, MessageAttributeValue, MessageSystemAttributeName,
    QueueAttributeName, SendMessageBatchRequestEntry,
};
use aws_sdk_sqs::Client;

use super::{BatchEntry, EntryFailure, FifoMessage, InMessage, OutMessage, Queue, QueueError};

#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    url: String,
}

impl SqsQueue {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        SqsQueue {
            client,
            url: queue_url.into(),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// One `SendMessageBatch` call; FIFO entries carry (group id, deduplication id).
    async fn send_entries<'m>(
        &self,
        entries: impl Iterator<Item = BatchEntry<'m>>,
    ) -> Result<Vec<EntryFailure>, QueueError> {
        let mut req = self.client.send_message_batch().queue_url(&self.url);
        for (m, fifo) in entries {
            let mut entry = SendMessageBatchRequestEntry::builder()
                .id(&m.id)
                .message_body(&m.body);
            if let Some((group, dedup)) = fifo {
                entry = entry
                    .message_group_id(group)
                    .message_deduplication_id(dedup);
            }
            for (name, attr) in &m.attributes {
                let value = MessageAttributeValue::builder()
                    .data_type(attr.data_type())
                    .string_value(attr.value())
                    .build()
                    .map_err(|e| self.err("SendMessageBatch", e))?;
                entry = entry.message_attributes(name, value);
            }
            req = req.entries(entry.build().map_err(|e| self.err("SendMessageBatch", e))?);
        }
        let out = req
            .send()
            .await
            .map_err(|e| self.err("SendMessageBatch", e))?;
        Ok(out
            .failed
            .into_iter()
            .map(|f| EntryFailure {
                id: f.id,
                code: f.code,
                message: f.message.unwrap_or_default(),
                sender_fault: f.sender_fault,
            })
            .collect())
    }

    fn err(&self, operation: &'static str, e: impl std::error::Error) -> QueueError {
        QueueError::Call {
            queue: self.url.clone(),
            operation,
            message: DisplayErrorContext(e).to_string(),
        }
    }
}

#[async_trait]
impl Queue for SqsQueue {
    fn name(&self) -> &str {
        &self.url
    }

    async fn send_batch(&self, entries: &[OutMessage]) -> Result<Vec<EntryFailure>, QueueError> {
        self.send_entries(entries.iter().map(|m| (m, None))).await
    }

    async fn send_fifo_batch(
        &self,
        entries: &[FifoMessage],
    ) -> Result<Vec<EntryFailure>, QueueError> {
        self.send_entries(entries.iter().map(FifoMessage::entry))
            .await
    }

    async fn receive(
        &self,
        max: usize,
        wait: Duration,
        visibility: Duration,
    ) -> Result<Vec<InMessage>, QueueError> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max.clamp(1, 10) as i32)
            .wait_time_seconds(wait.as_secs().min(20) as i32)
            .visibility_timeout(visibility.as_secs().max(1) as i32)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .message_system_attribute_names(MessageSystemAttributeName::MessageGroupId)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| self.err("ReceiveMessage", e))?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                let sys = m.attributes.unwrap_or_default();
                let receive_count = sys
                    .get(&MessageSystemAttributeName::ApproximateReceiveCount)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1);
                let sent_timestamp_ms = sys
                    .get(&MessageSystemAttributeName::SentTimestamp)
                    .and_then(|v| v.parse().ok());
                let group_id = sys
                    .get(&MessageSystemAttributeName::MessageGroupId)
                    .cloned();
                let attributes: BTreeMap<String, String> = m
                    .message_attributes
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|(k, v)| v.string_value.map(|s| (k, s)))
                    .collect();
                InMessage {
                    message_id: m.message_id.unwrap_or_default(),
                    receipt_handle: m.receipt_handle.unwrap_or_default(),
                    body: m.body.unwrap_or_default(),
                    attributes,
                    receive_count,
                    sent_timestamp_ms,
                    group_id,
                }
            })
            .collect())
    }

    async fn delete(&self, receipt_handles: &[String]) -> Result<(), QueueError> {
        for chunk in receipt_handles.chunks(10) {
            let mut req = self.client.delete_message_batch().queue_url(&self.url);
            for (i, h) in chunk.iter().enumerate() {
                let entry = DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(h)
                    .build()
                    .map_err(|e| self.err("DeleteMessageBatch", e))?;
                req = req.entries(entry);
            }
            let out = req
                .send()
                .await
                .map_err(|e| self.err("DeleteMessageBatch", e))?;
            if let Some(f) = out.failed.first() {
                return Err(QueueError::Call {
                    queue: self.url.clone(),
                    operation: "DeleteMessageBatch",
                    message: format!(
                        "{} of {} entries failed (first: {} {})",
                        out.failed.len(),
                        chunk.len(),
                        f.code,
                        f.message.as_deref().unwrap_or("")
                    ),
                });
            }
        }
        Ok(())
    }

    async fn change_visibility(
        &self,
        receipt_handle: &str,
        timeout: Duration,
    ) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            // Whole seconds, rounded up: a short wait must not become "visible now".
            .visibility_timeout(timeout.as_millis().div_ceil(1000).min(43_200) as i32)
            .send()
            .await
            .map_err(|e| self.err("ChangeMessageVisibility", e))?;
        Ok(())
    }

    async fn approximate_len(&self) -> Result<usize, QueueError> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(|e| self.err("GetQueueAttributes", e))?;
        let attrs = out.attributes.unwrap_or_default();
        let n = |k: QueueAttributeName| {
            attrs
                .get(&k)
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0)
        };
        Ok(n(QueueAttributeName::ApproximateNumberOfMessages)
            + n(QueueAttributeName::ApproximateNumberOfMessagesNotVisible))
    }
}

/// The URL of the queue `arn:aws:sqs:REGION:ACCOUNT:NAME`, asked of SQS (so it also works
/// against moto or LocalStack endpoints).
pub async fn queue_url_from_arn(client: &Client, arn: &str) -> Result<String, QueueError> {
    let bad = |why: &str| QueueError::Call {
        queue: arn.to_string(),
        operation: "GetQueueUrl",
        message: why.to_string(),
    };
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [_, _, "sqs", _, account, name] = parts[..] else {
        return Err(bad(
            "not an SQS queue ARN (arn:aws:sqs:REGION:ACCOUNT:NAME)",
        ));
    };
    let out = client
        .get_queue_url()
        .queue_name(name)
        .queue_owner_aws_account_id(account)
        .send()
        .await
        .map_err(|e| bad(&DisplayErrorContext(e).to_string()))?;
    out.queue_url
        .ok_or_else(|| bad("GetQueueUrl answered without a URL"))
}
