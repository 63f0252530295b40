//! SQS events as Lambda delivers them (`aws_lambda_events`), turned into the one message type
//! every stage reads ([`InMessage`]).

use super::InMessage;

/// The messages of an SQS event (an event source mapping's batch), and the ids of records
/// without a body (to report failed). `Err` when a record has no message id: it cannot be reported,
/// so the invocation must fail and the batch come back whole.
pub fn in_messages(
    event: aws_lambda_events::event::sqs::SqsEvent,
) -> Result<(Vec<InMessage>, Vec<String>), &'static str> {
    let mut messages = Vec::with_capacity(event.records.len());
    let mut bodiless = Vec::new();
    for r in event.records {
        let Some(id) = r.message_id else {
            return Err("an SQS record has no messageId");
        };
        let Some(body) = r.body else {
            bodiless.push(id);
            continue;
        };
        let number = |k: &str| r.attributes.get(k).and_then(|v| v.parse::<i64>().ok());
        messages.push(InMessage {
            message_id: id,
            receipt_handle: r.receipt_handle.unwrap_or_default(),
            body,
            attributes: Default::default(),
            receive_count: number("ApproximateReceiveCount")
                .map_or(1, |n| n.clamp(1, i64::from(u32::MAX)) as u32),
            sent_timestamp_ms: number("SentTimestamp"),
            group_id: r.attributes.get("MessageGroupId").cloned(),
        });
    }
    Ok((messages, bodiless))
}

/// Is this Lambda event an SQS batch (the stitch queue's), rather than a subscription payload?
pub fn is_sqs_event(event: &serde_json::Value) -> bool {
    event
        .pointer("/Records/0/eventSource")
        .and_then(serde_json::Value::as_str)
        == Some("aws:sqs")
}
