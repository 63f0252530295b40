//! The decode stage's counters, declared once (fields, merge, EMF metrics, docs).

use crate::counters;

counters! {
    /// Counts for one invocation or one CLI run. `log_events` = access-log records +
    /// lines_unparsed + lines_not_api + access-log lines filtered + execution_lines (+ the events of
    /// control messages); execution lines become one record (or one filtered count) per request.
    pub struct DecodeStats {
        /// Subscription messages (LogData) decoded, control messages included.
        payloads: sum ["Payloads", Count],
        /// CloudWatch Logs control messages (the subscription's own check), skipped.
        control_messages: sum,
        /// Payloads that could not be decoded at all.
        payload_errors: sum,
        /// Log events read from allowed log groups.
        log_events: sum ["LogEvents", Count],
        /// Records made (after the filters).
        records: sum ["Records", Count],
        /// Lines that look like API traffic but could not be parsed.
        lines_unparsed: sum ["LinesUnparsed", Count],
        /// Lines that are not API requests (other services' logs, plain text), skipped on purpose.
        lines_not_api: sum ["LinesNotApi", Count],
        /// Lines recovered from malformed JSON (their records carry `flags.partial`).
        lines_recovered: sum,
        /// JSON lines holding escapes of lone UTF-16 surrogates (`\udc80`), kept with U+FFFD in
        /// their place (their records carry `flags.partial`, and `flags.body_lossy` for a body).
        lines_lossy: sum,
        /// Records dropped on purpose by the filters (all reasons).
        filtered: sum ["Filtered", Count],
        /// Of those, static files (`FILTER_STATIC_FILES`).
        filtered_static_file: sum,
        /// Of those, content types not kept (`FILTER_CONTENT_TYPES`).
        filtered_content_type: sum,
        /// Of those, API kinds turned off (`API_KINDS`).
        filtered_api_kind: sum,
        /// Data messages from log groups not allowed (`ALLOWED_LOG_GROUPS`), ignored whole.
        foreign_payloads: sum ["ForeignPayloads", Count],
        /// Their log events (not part of `log_events`).
        foreign_events: sum,
        /// Execution-log lines that joined a request.
        execution_lines: sum,
        /// Of those, lines of a kind the parser does not know.
        execution_lines_other: sum,
        /// Execution-log requests whose completion line was not in their payload (records flagged
        /// `partial`, carrying their lines; with stitching, sent as fragments instead).
        requests_incomplete: sum ["RequestsIncomplete", Count],
        /// With stitching: requests sent to the stitch queue (execution lines not seen whole, and
        /// in joined mode every request of a joined stage, from either source).
        fragments: sum ["Fragments", Count],
        /// With stitching: lines that only trail a request already delivered whole (integration
        /// request id, X-Ray id), dropped (counted in groups).
        trailers_dropped: sum,
        /// Messages sent to the stitch queue (fragments; a large fragment takes several).
        fragment_messages: sum ["FragmentMessages", Count],
        /// Records that fit no message even cut to their skeleton: not sent, named in an error
        /// log line; the payload's other records are delivered all the same.
        records_unfit: sum ["RecordsUnfit", Count],
        /// Messages sent to the main queue.
        messages_sent: sum ["MessagesSent", Count],
        /// Bytes of those messages (bodies and attributes).
        message_bytes: sum ["MessageBytes", Bytes],
        /// `SendMessageBatch` calls, to both queues.
        send_calls: sum,
        /// Of those, calls retried (throttling, a failed entry).
        send_retried: sum,
        /// Records the archive accepted (0 with the archive off).
        archived_records: sum ["ArchivedRecords", Count],
        /// Records sent to the queue but not archived (a persistent archive failure).
        archive_failed_records: sum ["ArchiveFailedRecords", Count],
    }
}

/// The EMF line for one decode invocation.
pub fn summary_emf(s: &DecodeStats, timestamp_ms: i64) -> serde_json::Value {
    crate::runtime::metrics::emf(timestamp_ms, &[("Function", "decode")], &s.metrics())
}
