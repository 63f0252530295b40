//! The archive: every canonical record that goes to the queue is also put into an Amazon Data
//! Firehose stream that lands it in S3 (gzip NDJSON, partitioned by hour), and can be read back
//! for a backfill.
//!
//! Policy: the archive never blocks delivery. A Firehose failure is retried a few times, then the
//! records are counted as not archived (`ArchiveFailedRecords` in the decode EMF metrics, alarmed
//! by the stacks) and logged with the stream name; the queue delivery goes on. What is lost is the
//! archive copy of those records only; an operator finds them in the decode logs and metrics.
//!
//! - [`chunk`]: records → NDJSON chunks near Firehose's record limit, and chunks → call batches.
//! - [`sink`]: where chunks go: Firehose, or a directory laid out like the S3 prefix.
//! - [`tee`]: the archiver the decode path calls, with per-entry retries.
//! - [`source`] (CLI): reading archived objects back, for `replay --from-archive`.

pub mod chunk;
pub mod sink;
#[cfg(feature = "cli")]
pub mod source;
pub mod tee;

pub use aws_sdk_firehose::Client as FirehoseClient;
pub use sink::{ArchiveSink, DirSink, FirehoseSink};
pub use tee::{ArchivePolicy, ArchiveReport, Archiver};

/// The S3 key prefix the stacks give the delivery stream (schema version in the path).
pub const PREFIX: &str = "apigw-stream/v1/";

/// The hour partition of `time_ms` below [`PREFIX`], as Firehose's
/// `year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/`.
pub fn partition(time_ms: i64) -> String {
    let t = chrono::DateTime::from_timestamp_millis(time_ms).unwrap_or_default();
    format!("{PREFIX}{}", t.format("year=%Y/month=%m/day=%d/hour=%H/"))
}

/// The start (epoch ms) of the hour partition named in `key`, when it has one.
pub fn partition_start_ms(key: &str) -> Option<i64> {
    let field = |name: &str| -> Option<u32> {
        let at = key.find(&format!("{name}="))? + name.len() + 1;
        let digits: String = key[at..].chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    let date = chrono::NaiveDate::from_ymd_opt(
        i32::try_from(field("year")?).ok()?,
        field("month")?,
        field("day")?,
    )?;
    Some(
        date.and_hms_opt(field("hour")?, 0, 0)?
            .and_utc()
            .timestamp_millis(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_round_trips() {
        let ms = 1_795_000_000_123; // 2026-11-18T…
        let p = partition(ms);
        assert!(
            p.starts_with("apigw-stream/v1/year=2026/month=11/day="),
            "{p}"
        );
        let start = partition_start_ms(&format!("{p}x.gz")).unwrap();
        assert!(start <= ms && ms - start < 3_600_000);
        assert_eq!(partition_start_ms("apigw-stream/v1/other.gz"), None);
        assert_eq!(
            partition_start_ms("year=2026/month=13/day=01/hour=00/"),
            None
        );
    }
}
