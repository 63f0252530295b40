//! Flag values the CLI parses itself (durations, times, retention, fractions, log kinds), with
//! one error type that names the value given and what was expected.

use std::time::Duration;

use crate::control::generate::LogKind;
use crate::control::ops::enable::RETENTION_DAYS;

/// A flag value that could not be read; the message names the value and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("{input:?}: expected a number and a unit (s, m, h, d)")]
    NotADuration { input: String },
    #[error("{input:?}: unit {unit:?} is not s, m, h or d")]
    Unit { input: String, unit: String },
    #[error("{input:?}: between 1s and 15d")]
    SpanRange { input: String },
    #[error("{input:?} is not a number of days")]
    NotDays { input: String },
    #[error("CloudWatch Logs accepts {:?} days", RETENTION_DAYS)]
    Retention { days: i32 },
    #[error("{input:?} is not a fraction from 0 to 1")]
    Fraction { input: String },
    #[error("unknown log kind {input:?} (expected access, execution or delivery)")]
    LogKind { input: String },
    #[error("{input:?}: {cause}")]
    EpochMs { input: String, cause: String },
    #[error(
        "{input:?} is not a time: use RFC 3339 (2026-11-29T10:00:00Z), YYYY-MM-DD[THH:MM[:SS]] (UTC) or epoch ms"
    )]
    Time { input: String },
}

/// A number and a unit (`s`, `m`, `h`, `d`) as seconds; a bare number is seconds when
/// `bare_seconds`.
fn seconds(input: &str, bare_seconds: bool) -> Result<u64, ValueError> {
    let split = input
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(input.len());
    let (num, unit) = input.split_at(split);
    let n: u64 = num.parse().map_err(|_| ValueError::NotADuration {
        input: input.to_string(),
    })?;
    let scale = match unit {
        "" if bare_seconds => 1,
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(ValueError::Unit {
                input: input.to_string(),
                unit: unit.to_string(),
            })
        }
    };
    Ok(n.saturating_mul(scale))
}

/// `replay --older-than`: `90s`, `30m`, `2h`, `1d`, or a bare number of seconds.
pub fn parse_age(s: &str) -> Result<Duration, ValueError> {
    seconds(s.trim(), true).map(Duration::from_secs)
}

/// `status --window` and `--period`: `90s`, `30m`, `3h`, `1d`, from 1s to 15d.
pub fn parse_span(s: &str) -> Result<Duration, ValueError> {
    let s = s.trim();
    let secs = seconds(s, false)?;
    if secs == 0 || secs > 15 * 86_400 {
        return Err(ValueError::SpanRange {
            input: s.to_string(),
        });
    }
    Ok(Duration::from_secs(secs))
}

/// `enable --retention-days`: one of the values CloudWatch Logs accepts.
pub fn parse_retention(s: &str) -> Result<i32, ValueError> {
    let n: i32 = s.parse().map_err(|_| ValueError::NotDays {
        input: s.to_string(),
    })?;
    if RETENTION_DAYS.contains(&n) {
        Ok(n)
    } else {
        Err(ValueError::Retention { days: n })
    }
}

/// `generate --split-fraction`: a number from 0 to 1.
pub fn parse_fraction(s: &str) -> Result<f64, ValueError> {
    match s.trim().parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(ValueError::Fraction {
            input: s.to_string(),
        }),
    }
}

/// `--logs` values.
pub fn parse_logs(s: &str) -> Result<LogKind, ValueError> {
    LogKind::parse(s).ok_or_else(|| ValueError::LogKind {
        input: s.to_string(),
    })
}

/// A point in time as epoch ms: RFC 3339, `YYYY-MM-DD[THH:MM[:SS]]` (UTC), or epoch ms.
pub fn parse_time(s: &str) -> Result<i64, ValueError> {
    let s = s.trim();
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) {
        return s
            .parse()
            .map_err(|e: std::num::ParseIntError| ValueError::EpochMs {
                input: s.to_string(),
                cause: e.to_string(),
            });
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    for f in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, f) {
            return Ok(t.and_utc().timestamp_millis());
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(t.and_utc().timestamp_millis());
        }
    }
    Err(ValueError::Time {
        input: s.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages() {
        assert_eq!(parse_age("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_age("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_age("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_age("1d").unwrap(), Duration::from_secs(86400));
        assert_eq!(parse_age("15").unwrap(), Duration::from_secs(15));
        assert!(parse_age("2w").unwrap_err().to_string().contains("2w"));
        assert!(parse_age("soon").is_err());
    }

    #[test]
    fn spans() {
        assert_eq!(parse_span("3h"), Ok(Duration::from_secs(10_800)));
        assert_eq!(parse_span("5m"), Ok(Duration::from_secs(300)));
        assert!(parse_span("0m").is_err());
        assert!(parse_span("3").is_err());
        assert!(parse_span("16d").is_err());
    }

    #[test]
    fn times_parse_in_every_documented_form() {
        assert_eq!(parse_time("1700000000000").unwrap(), 1_700_000_000_000);
        assert_eq!(
            parse_time("2023-11-14T22:13:20Z").unwrap(),
            1_700_000_000_000
        );
        assert_eq!(
            parse_time("2023-11-14T22:13:20").unwrap(),
            1_700_000_000_000
        );
        assert_eq!(parse_time("2023-11-14").unwrap(), 1_699_920_000_000);
        assert!(parse_time("yesterday")
            .unwrap_err()
            .to_string()
            .contains("yesterday"));
    }

    #[test]
    fn messages_name_the_value() {
        assert_eq!(
            parse_retention("7d").unwrap_err().to_string(),
            "\"7d\" is not a number of days"
        );
        assert!(parse_retention("8")
            .unwrap_err()
            .to_string()
            .starts_with("CloudWatch Logs accepts [1, 3,"));
        assert_eq!(
            parse_fraction("2").unwrap_err().to_string(),
            "\"2\" is not a fraction from 0 to 1"
        );
        assert_eq!(
            parse_age("2w").unwrap_err().to_string(),
            "\"2w\": unit \"w\" is not s, m, h or d"
        );
    }
}
