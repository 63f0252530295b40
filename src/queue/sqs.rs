//! SQS implementation (being built).
