//! Embedded in-process queue with SQS semantics (being built).
