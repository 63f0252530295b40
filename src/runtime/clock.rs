//! Wall-clock time as the records and metrics carry it.

/// Milliseconds since the Unix epoch (EMF timestamps, record ages, latency from "logged").
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
