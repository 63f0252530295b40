//! The shipper core: a batch of queue messages (NDJSON frames) → collector windows → POST, and the
//! exact list of messages that still hold an undelivered record (the Lambda's partial batch
//! response). Everything the shipper Lambda does beyond reading its event lives here.

use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use reqwest::header::HeaderName;

use crate::bridge::auth::{Auth, AuthMethod, TokenSource};
use crate::bridge::client::{self, BridgeClient, ClientConfig, ClientError, Outcome};
use crate::bridge::secret::{SecretSource, DEFAULT_SECRET_TTL};
use crate::bridge::window::{encode_record, plan_windows, window_body, EncodedRecord};
use crate::bridge::{Format, Secret, TRANSACTIONS_PATH};
use crate::metrics::Unit;

/// Default largest request body, uncompressed.
pub const DEFAULT_WINDOW_BYTES: usize = 1_000_000;
/// Smallest `WINDOW_BYTES` accepted (below this every access-log record would be "oversize").
pub const MIN_WINDOW_BYTES: usize = 4096;

/// One queue message as the shipper sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ShipMessage {
    pub message_id: String,
    pub body: String,
}

/// Counters of one `ship` call (the EMF metrics and the summary log line).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShipStats {
    pub messages: u64,
    pub unpack_failures: u64,
    pub records: u64,
    pub records_delivered: u64,
    pub truncated_records: u64,
    pub oversize_records: u64,
    /// Records the collector rejected (400/422) alone, after bisecting their window.
    pub records_rejected: u64,
    /// Windows posted (split halves count once each).
    pub windows: u64,
    pub windows_failed: u64,
    /// Windows halved after a 413, or after a 400/422 to find the rejected record.
    pub splits: u64,
    /// HTTP requests, first tries and retries.
    pub requests: u64,
    pub retries: u64,
    /// Uncompressed bytes of delivered windows.
    pub bytes: u64,
    /// Bytes on the wire of delivered windows (after gzip).
    pub wire_bytes: u64,
    pub failed_messages: u64,
    /// Sum and maximum of the round trips that gave a window its final answer.
    pub latency_ms_total: u64,
    pub latency_ms_max: u64,
}

impl ShipStats {
    /// EMF metrics: (name, value, unit).
    pub fn metrics(&self) -> Vec<(&'static str, f64, Unit)> {
        let avg = if self.windows == 0 {
            0.0
        } else {
            self.latency_ms_total as f64 / self.windows as f64
        };
        vec![
            ("Messages", self.messages as f64, Unit::Count),
            ("Records", self.records as f64, Unit::Count),
            (
                "RecordsDelivered",
                self.records_delivered as f64,
                Unit::Count,
            ),
            ("Windows", self.windows as f64, Unit::Count),
            ("WindowsFailed", self.windows_failed as f64, Unit::Count),
            ("Bytes", self.bytes as f64, Unit::Bytes),
            ("Retries", self.retries as f64, Unit::Count),
            ("Failures", self.failed_messages as f64, Unit::Count),
            // Records of this batch not delivered: the alarm's input (the function itself returns
            // a partial batch response, so its Errors metric never sees them).
            (
                "RecordsFailed",
                self.records.saturating_sub(self.records_delivered) as f64,
                Unit::Count,
            ),
            (
                "RecordsRejected",
                self.records_rejected as f64,
                Unit::Count,
            ),
            ("UnpackFailures", self.unpack_failures as f64, Unit::Count),
            (
                "TruncatedRecords",
                self.truncated_records as f64,
                Unit::Count,
            ),
            ("BridgeLatency", avg, Unit::Milliseconds),
            (
                "BridgeLatencyMax",
                self.latency_ms_max as f64,
                Unit::Milliseconds,
            ),
        ]
    }
}

#[derive(Debug, Clone)]
pub struct ShipReport {
    /// Message ids to report as batch item failures, in input order.
    pub failed: Vec<String>,
    /// Of `failed`, the messages held back only for reasons waiting will not cure (content
    /// rejected, credentials refused, a redirect, a body that does not unpack): they keep the
    /// queue's visibility timeout instead of waiting longer each time, and reach the DLQ (from
    /// where redrive brings them back once fixed) at the queue's pace.
    pub permanent: Vec<String>,
    /// Messages whose records were all delivered except some the collector rejected: the caller
    /// sends `frames` (those records alone) to the queue, and then counts the message done, so
    /// the delivered records are not sent again. If sending fails, report the message failed.
    pub requeue: Vec<Requeue>,
    pub stats: ShipStats,
}

/// The rejected records of a partly delivered message, framed anew.
#[derive(Debug, Clone)]
pub struct Requeue {
    pub message_id: String,
    /// Ids of the rejected records.
    pub record_ids: Vec<String>,
    pub frames: Vec<crate::frame::Frame>,
}

/// The outcome of one record range (a window, or part of a split one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeOutcome {
    pub records: Range<usize>,
    pub delivered: bool,
}

/// Indices of the messages that must be retried: those that could not be unpacked, and those with
/// any record not inside a delivered range. `record_messages[i]` is the message of record `i`.
pub fn failed_messages(
    message_count: usize,
    record_messages: &[usize],
    outcomes: &[RangeOutcome],
    unpack_failed: &[bool],
) -> Vec<usize> {
    let mut delivered = vec![false; record_messages.len()];
    for o in outcomes.iter().filter(|o| o.delivered) {
        let end = o.records.end.min(delivered.len());
        for d in &mut delivered[o.records.start.min(end)..end] {
            *d = true;
        }
    }
    let mut failed = vec![false; message_count];
    for (i, f) in unpack_failed.iter().enumerate().take(message_count) {
        failed[i] |= *f;
    }
    for (rec, &msg) in record_messages.iter().enumerate() {
        if !delivered[rec] && msg < message_count {
            failed[msg] = true;
        }
    }
    failed
        .iter()
        .enumerate()
        .filter(|(_, f)| **f)
        .map(|(i, _)| i)
        .collect()
}

pub struct Shipper {
    client: BridgeClient,
    window_bytes: usize,
    concurrency: usize,
}

struct Delivered {
    outcomes: Vec<RangeOutcome>,
    /// Records the collector rejected alone.
    rejected: Vec<usize>,
    /// Ranges that failed for a reason a later try may cure.
    transient: Vec<Range<usize>>,
    stats: ShipStats,
}

impl Shipper {
    pub fn new(client: BridgeClient, window_bytes: usize, concurrency: usize) -> Self {
        Shipper {
            client,
            window_bytes,
            concurrency: concurrency.max(1),
        }
    }

    /// Build the HTTP client, the auth and the Bridge client from configuration. `aws` is needed
    /// only for `CLIENT_SECRET_ARN`.
    pub fn from_config(
        config: &ShipConfig,
        aws: Option<&aws_config::SdkConfig>,
    ) -> Result<Self, ConfigError> {
        let client_config = ClientConfig {
            request_timeout: config.request_timeout,
            deadline_margin: config.deadline_margin,
            gzip: config.gzip,
            allow_insecure_http: config.allow_insecure_http,
            ..ClientConfig::default()
        };
        let http = client::http_client(&client_config)?;
        let auth = match &config.auth {
            AuthConfig::None => Auth::None,
            AuthConfig::Bearer(t) => Auth::Bearer(t.clone()),
            AuthConfig::Header { name, value } => Auth::Header {
                name: name.clone(),
                value: value.clone(),
            },
            AuthConfig::OAuth {
                url,
                client_id,
                secret,
                method,
            } => {
                client::check_url(url, config.allow_insecure_http)?;
                let source = match secret {
                    SecretConfig::Value(s) => SecretSource::Static(s.clone()),
                    SecretConfig::Arn(arn) => {
                        let aws = aws.ok_or(ConfigError::NeedsAws)?;
                        SecretSource::secrets_manager(
                            aws_sdk_secretsmanager::Client::new(aws),
                            arn.clone(),
                            config.secret_ttl,
                        )
                    }
                };
                Auth::OAuth(Box::new(TokenSource::new(
                    http.clone(),
                    url.clone(),
                    client_id.clone(),
                    source,
                    *method,
                    config.request_timeout,
                )))
            }
        };
        let client = BridgeClient::new(
            http,
            &config.bridge_url,
            Arc::new(auth),
            config.format,
            client_config,
        )?;
        Ok(Shipper::new(
            client,
            config.window_bytes,
            config.concurrency,
        ))
    }

    pub fn client(&self) -> &BridgeClient {
        &self.client
    }

    pub fn window_bytes(&self) -> usize {
        self.window_bytes
    }

    /// Unpack every message into encoded records; returns them and which messages failed to unpack.
    pub fn encode_batch(
        &self,
        messages: &[ShipMessage],
        stats: &mut ShipStats,
    ) -> (Vec<EncodedRecord>, Vec<bool>) {
        let format = self.client.format();
        let mut records = Vec::new();
        let mut unpack_failed = vec![false; messages.len()];
        for (i, m) in messages.iter().enumerate() {
            match crate::frame::unpack(&m.body) {
                Ok(txns) => {
                    records.reserve(txns.len());
                    for t in &txns {
                        let rec = encode_record(format, t, i, self.window_bytes);
                        stats.truncated_records += u64::from(rec.truncated);
                        stats.oversize_records += u64::from(rec.oversize);
                        records.push(rec);
                    }
                }
                Err(e) => {
                    tracing::error!(message_id = %m.message_id, error = %e, "cannot unpack a queue message; reporting it failed");
                    stats.unpack_failures += 1;
                    unpack_failed[i] = true;
                }
            }
        }
        stats.records = records.len() as u64;
        (records, unpack_failed)
    }

    /// Ship a batch, finishing before `deadline` (less the client's margin).
    pub async fn ship(&self, messages: &[ShipMessage], deadline: Instant) -> ShipReport {
        let mut stats = ShipStats {
            messages: messages.len() as u64,
            ..ShipStats::default()
        };
        let (records, unpack_failed) = self.encode_batch(messages, &mut stats);
        let windows = plan_windows(&records, self.client.format(), self.window_bytes);

        let results: Vec<Delivered> = stream::iter(windows)
            .map(|w| self.deliver(&records, messages, w, deadline))
            .buffer_unordered(self.concurrency)
            .collect()
            .await;

        let mut outcomes = Vec::new();
        let mut rejected = vec![false; records.len()];
        let mut transient = vec![false; records.len()];
        for d in results {
            merge(&mut stats, &d.stats);
            outcomes.extend(d.outcomes);
            for r in d.rejected {
                rejected[r] = true;
            }
            for r in d.transient.into_iter().flatten() {
                transient[r] = true;
            }
        }
        let record_messages: Vec<usize> = records.iter().map(|r| r.message).collect();
        let failed_idx =
            failed_messages(messages.len(), &record_messages, &outcomes, &unpack_failed);
        let mut report = ShipReport {
            failed: Vec::new(),
            permanent: Vec::new(),
            requeue: Vec::new(),
            stats,
        };
        let mut delivered = vec![false; records.len()];
        for o in outcomes.iter().filter(|o| o.delivered) {
            for d in &mut delivered[o.records.clone()] {
                *d = true;
            }
        }
        for m in failed_idx {
            let id = &messages[m].message_id;
            match rejection_of(m, &records, &rejected, &delivered, unpack_failed[m]) {
                Rejection::None => {
                    report.failed.push(id.clone());
                    let waiting_helps = records
                        .iter()
                        .zip(&transient)
                        .any(|(r, t)| r.message == m && *t);
                    if !waiting_helps {
                        report.permanent.push(id.clone());
                    }
                }
                Rejection::All => {
                    report.failed.push(id.clone());
                    report.permanent.push(id.clone());
                }
                Rejection::Some(ids) => match requeue_frames(&messages[m], &ids) {
                    Ok(frames) => report.requeue.push(Requeue {
                        message_id: id.clone(),
                        record_ids: ids,
                        frames,
                    }),
                    Err(e) => {
                        tracing::error!(message_id = %id, error = %e, "cannot frame the rejected records anew; the whole message is retried");
                        report.failed.push(id.clone());
                    }
                },
            }
        }
        report.stats.failed_messages = report.failed.len() as u64;
        report
    }

    /// Send one window; on 413 split it and send the halves (depth first, in order).
    async fn deliver(
        &self,
        records: &[EncodedRecord],
        messages: &[ShipMessage],
        window: Range<usize>,
        deadline: Instant,
    ) -> Delivered {
        let mut stats = ShipStats::default();
        let mut outcomes = Vec::new();
        let mut rejected = Vec::new();
        let mut transient = Vec::new();
        let mut todo = vec![window];
        while let Some(range) = todo.pop() {
            let slice = &records[range.clone()];
            let body = window_body(slice, self.client.format());
            let body_len = body.len() as u64;
            let result = self.client.post(body, deadline).await;
            stats.windows += 1;
            stats.requests += u64::from(result.attempts);
            stats.retries += u64::from(result.retries);
            let ms = result.latency.as_millis() as u64;
            stats.latency_ms_total += ms;
            stats.latency_ms_max = stats.latency_ms_max.max(ms);
            let failure = match result.outcome {
                Outcome::Delivered => {
                    stats.records_delivered += slice.len() as u64;
                    stats.bytes += body_len;
                    stats.wire_bytes += result.wire_bytes as u64;
                    outcomes.push(RangeOutcome {
                        records: range,
                        delivered: true,
                    });
                    continue;
                }
                Outcome::TooLarge if range.len() > 1 => {
                    stats.splits += 1;
                    let mid = range.start + range.len() / 2;
                    tracing::info!(
                        records = range.len(),
                        bytes = body_len,
                        "collector answered 413; splitting the window"
                    );
                    todo.push(mid..range.end);
                    todo.push(range.start..mid);
                    continue;
                }
                Outcome::TooLarge => "collector answered 413 for a single record".to_string(),
                Outcome::Failed(e) if e.is_transient() => {
                    transient.push(range.clone());
                    e.to_string()
                }
                // A rejection of content: halve until the rejected records are alone, so every
                // other record of the window is delivered (once).
                Outcome::Failed(e) if e.is_content_rejection() && range.len() > 1 => {
                    stats.splits += 1;
                    let mid = range.start + range.len() / 2;
                    tracing::info!(records = range.len(), error = %e, "collector rejected the window's content; bisecting to find the record");
                    todo.push(mid..range.end);
                    todo.push(range.start..mid);
                    continue;
                }
                Outcome::Failed(e) if e.is_content_rejection() => {
                    stats.records_rejected += 1;
                    stats.windows_failed += 1;
                    let rec = &records[range.start];
                    tracing::warn!(
                        record_id = %rec.id,
                        message_id = %messages[rec.message].message_id,
                        bytes = body_len,
                        error = %e,
                        "collector rejected this record; it alone is held back"
                    );
                    rejected.push(range.start);
                    outcomes.push(RangeOutcome {
                        records: range,
                        delivered: false,
                    });
                    continue;
                }
                Outcome::Failed(e) => e.to_string(),
            };
            stats.windows_failed += 1;
            let mut ids: Vec<&str> = slice
                .iter()
                .map(|r| messages[r.message].message_id.as_str())
                .collect();
            ids.dedup();
            tracing::warn!(
                records = slice.len(),
                bytes = body_len,
                attempts = result.attempts,
                message_ids = ?ids,
                error = %failure,
                "window not delivered; its messages are reported failed"
            );
            outcomes.push(RangeOutcome {
                records: range,
                delivered: false,
            });
        }
        Delivered {
            outcomes,
            rejected,
            transient,
            stats,
        }
    }
}

/// Why a failed message failed, as far as rejected records explain it.
enum Rejection {
    /// Some record is undelivered for another reason (or the message did not unpack).
    None,
    /// Every record of the message was rejected.
    All,
    /// These records were rejected; every other one was delivered.
    Some(Vec<String>),
}

fn rejection_of(
    message: usize,
    records: &[EncodedRecord],
    rejected: &[bool],
    delivered: &[bool],
    unpack_failed: bool,
) -> Rejection {
    if unpack_failed {
        return Rejection::None;
    }
    let mut ids = Vec::new();
    let mut any_delivered = false;
    for (i, r) in records.iter().enumerate().filter(|(_, r)| r.message == message) {
        if rejected[i] {
            ids.push(r.id.clone());
        } else if delivered[i] {
            any_delivered = true;
        } else {
            return Rejection::None;
        }
    }
    match (ids.is_empty(), any_delivered) {
        (true, _) => Rejection::None,
        (false, false) => Rejection::All,
        (false, true) => Rejection::Some(ids),
    }
}

/// The records `ids` of `message`, packed into frames of their own.
fn requeue_frames(
    message: &ShipMessage,
    ids: &[String],
) -> Result<Vec<crate::frame::Frame>, crate::frame::FrameError> {
    let wanted: std::collections::HashSet<&str> = ids.iter().map(String::as_str).collect();
    let mut txns = crate::frame::unpack(&message.body)?;
    txns.retain(|t| wanted.contains(t.id.as_str()));
    crate::frame::pack(&txns, crate::frame::DEFAULT_MESSAGE_BYTES)
}

fn merge(total: &mut ShipStats, s: &ShipStats) {
    total.windows += s.windows;
    total.windows_failed += s.windows_failed;
    total.splits += s.splits;
    total.requests += s.requests;
    total.retries += s.retries;
    total.bytes += s.bytes;
    total.wire_bytes += s.wire_bytes;
    total.records_delivered += s.records_delivered;
    total.records_rejected += s.records_rejected;
    total.latency_ms_total += s.latency_ms_total;
    total.latency_ms_max = total.latency_ms_max.max(s.latency_ms_max);
}

// ---------------------------------------------------------------------------------------------
// Configuration

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("{var}={value:?} is invalid: {reason}")]
    Invalid {
        var: &'static str,
        value: String,
        reason: String,
    },
    /// For variables holding credentials: the value is never repeated.
    #[error("{var} is invalid: {reason}")]
    InvalidSecret { var: &'static str, reason: String },
    #[error("CLIENT_SECRET_ARN needs AWS configuration, and none was given")]
    NeedsAws,
    #[error(transparent)]
    Client(#[from] ClientError),
}

#[derive(Debug, Clone)]
pub enum SecretConfig {
    Arn(String),
    Value(Secret),
}

#[derive(Debug, Clone)]
pub enum AuthConfig {
    None,
    Bearer(Secret),
    Header {
        name: HeaderName,
        value: Secret,
    },
    OAuth {
        url: String,
        client_id: String,
        secret: SecretConfig,
        method: AuthMethod,
    },
}

/// The shipper's settings (DESIGN.md "Configuration").
#[derive(Debug, Clone)]
pub struct ShipConfig {
    /// Full URL POSTed to (a bare Edge base URL gets `/api-transactions` for `uap`).
    pub bridge_url: String,
    pub auth: AuthConfig,
    pub format: Format,
    pub window_bytes: usize,
    pub request_timeout: Duration,
    pub deadline_margin: Duration,
    pub gzip: bool,
    pub allow_insecure_http: bool,
    pub concurrency: usize,
    pub secret_ttl: Duration,
    /// Cap on the visibility a failed message gets (`RETRY_MAX_VISIBILITY_SECS`; 0: no growth).
    pub retry_max_visibility: Duration,
    /// The shipper DLQ moved back once deliveries succeed (`REDRIVE_DLQ_ARN`; unset: off).
    pub redrive_dlq_arn: Option<String>,
    /// At most one redrive start per this long (`REDRIVE_COOLDOWN_SECS`).
    pub redrive_cooldown: Duration,
    /// Messages per second a redrive moves (`REDRIVE_RATE`, 1..=500).
    pub redrive_rate: u32,
}

impl ShipConfig {
    /// Defaults around a collector URL and auth, for tests and the `local` command.
    pub fn new(bridge_url: impl Into<String>, auth: AuthConfig) -> Self {
        ShipConfig {
            bridge_url: bridge_url.into(),
            auth,
            format: Format::Uap,
            window_bytes: DEFAULT_WINDOW_BYTES,
            request_timeout: Duration::from_secs(10),
            deadline_margin: ClientConfig::default().deadline_margin,
            gzip: false,
            allow_insecure_http: false,
            concurrency: 4,
            secret_ttl: DEFAULT_SECRET_TTL,
            retry_max_visibility: crate::settle::DEFAULT_MAX_VISIBILITY,
            redrive_dlq_arn: None,
            redrive_cooldown: Duration::from_secs(900),
            redrive_rate: 50,
        }
    }

    /// Read the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Read settings through `get` (the environment, an env file, a test map). Empty means unset.
    ///
    /// `BRIDGE_URL` (required), `BRIDGE_FORMAT` uap|ndjson, `WINDOW_BYTES`, `REQUEST_TIMEOUT_MS`,
    /// `DEADLINE_MARGIN_MS`, `BRIDGE_GZIP`, `BRIDGE_CONCURRENCY`, `ALLOW_INSECURE_HTTP`; auth is
    /// OAuth2 when `AUTH_URL` is set (`CLIENT_ID`, `CLIENT_SECRET_ARN` or `CLIENT_SECRET`,
    /// `AUTH_METHOD` body|basic, `SECRET_TTL_SECS`), else `BRIDGE_BEARER_TOKEN`, else
    /// `BRIDGE_AUTH_HEADER` ("Name: value"), else none.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |k: &str| {
            get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let format: Format = parse_or(&get, "BRIDGE_FORMAT", Format::Uap, |v| v.parse())?;
        let url = get("BRIDGE_URL").ok_or(ConfigError::Missing("BRIDGE_URL"))?;
        let bridge_url = collector_url(&url, format);

        let auth = if let Some(auth_url) = get("AUTH_URL") {
            let client_id = get("CLIENT_ID").ok_or(ConfigError::Missing("CLIENT_ID"))?;
            let secret = match (get("CLIENT_SECRET_ARN"), get("CLIENT_SECRET")) {
                (Some(arn), _) => SecretConfig::Arn(arn),
                (None, Some(s)) => SecretConfig::Value(Secret::new(s)),
                (None, None) => {
                    return Err(ConfigError::Missing("CLIENT_SECRET_ARN (or CLIENT_SECRET)"))
                }
            };
            let method = parse_or(&get, "AUTH_METHOD", AuthMethod::Body, |v| v.parse())?;
            AuthConfig::OAuth {
                url: auth_url,
                client_id,
                secret,
                method,
            }
        } else if let Some(token) = get("BRIDGE_BEARER_TOKEN") {
            AuthConfig::Bearer(Secret::new(token))
        } else if let Some(h) = get("BRIDGE_AUTH_HEADER") {
            let (name, value) = h.split_once(':').ok_or(ConfigError::InvalidSecret {
                var: "BRIDGE_AUTH_HEADER",
                reason: "expected \"Name: value\"".into(),
            })?;
            let name =
                HeaderName::try_from(name.trim()).map_err(|_| ConfigError::InvalidSecret {
                    var: "BRIDGE_AUTH_HEADER",
                    reason: "the header name is not valid".into(),
                })?;
            AuthConfig::Header {
                name,
                value: Secret::new(value.trim()),
            }
        } else {
            AuthConfig::None
        };

        let window_bytes = parse_or(&get, "WINDOW_BYTES", DEFAULT_WINDOW_BYTES, |v| {
            let n: usize = v.parse().map_err(|e| format!("{e}"))?;
            if n < MIN_WINDOW_BYTES {
                return Err(format!("must be at least {MIN_WINDOW_BYTES}"));
            }
            Ok(n)
        })?;
        let millis = |var: &'static str, default: u64| {
            parse_or(&get, var, Duration::from_millis(default), |v| {
                v.parse::<u64>()
                    .map(Duration::from_millis)
                    .map_err(|e| e.to_string())
            })
        };
        let mut config = ShipConfig::new(bridge_url, auth);
        config.format = format;
        config.window_bytes = window_bytes;
        config.request_timeout = millis("REQUEST_TIMEOUT_MS", 10_000)?;
        config.deadline_margin = millis(
            "DEADLINE_MARGIN_MS",
            config.deadline_margin.as_millis() as u64,
        )?;
        config.gzip = parse_or(&get, "BRIDGE_GZIP", false, parse_bool)?;
        config.allow_insecure_http = parse_or(&get, "ALLOW_INSECURE_HTTP", false, parse_bool)?;
        config.concurrency = parse_or(&get, "BRIDGE_CONCURRENCY", 4, |v| {
            match v.parse::<usize>() {
                Ok(n) if (1..=64).contains(&n) => Ok(n),
                _ => Err("expected 1..=64".to_string()),
            }
        })?;
        config.secret_ttl = parse_or(&get, "SECRET_TTL_SECS", DEFAULT_SECRET_TTL, |v| {
            v.parse::<u64>()
                .map(Duration::from_secs)
                .map_err(|e| e.to_string())
        })?;
        let secs = |var: &'static str, default: Duration, max: u64| {
            parse_or(&get, var, default, |v| match v.parse::<u64>() {
                Ok(n) if n <= max => Ok(Duration::from_secs(n)),
                _ => Err(format!("expected whole seconds, 0..={max}")),
            })
        };
        config.retry_max_visibility = secs(
            "RETRY_MAX_VISIBILITY_SECS",
            config.retry_max_visibility,
            crate::settle::MAX_VISIBILITY.as_secs(),
        )?;
        config.redrive_dlq_arn = get("REDRIVE_DLQ_ARN");
        config.redrive_cooldown = secs("REDRIVE_COOLDOWN_SECS", config.redrive_cooldown, 86_400)?;
        config.redrive_rate = parse_or(&get, "REDRIVE_RATE", config.redrive_rate, |v| {
            match v.parse::<u32>() {
                Ok(n) if (1..=500).contains(&n) => Ok(n),
                _ => Err("expected 1..=500 messages per second".to_string()),
            }
        })?;
        // Fail at start, not at the first window.
        client::check_url(&config.bridge_url, config.allow_insecure_http)?;
        if let AuthConfig::OAuth { url, .. } = &config.auth {
            client::check_url(url, config.allow_insecure_http)?;
        }
        Ok(config)
    }

    /// Whether building a [`Shipper`] needs AWS configuration (Secrets Manager).
    pub fn needs_aws(&self) -> bool {
        matches!(
            self.auth,
            AuthConfig::OAuth {
                secret: SecretConfig::Arn(_),
                ..
            }
        )
    }
}

/// A bare Edge URL (no path) gets the batch path when the format is `uap`.
fn collector_url(url: &str, format: Format) -> String {
    let trimmed = url.trim_end_matches('/');
    match reqwest::Url::parse(url) {
        Ok(u) if format == Format::Uap && (u.path() == "/" || u.path().is_empty()) => {
            format!("{trimmed}{TRANSACTIONS_PATH}")
        }
        _ => url.to_string(),
    }
}

/// `crate::config::parse_bool`, with the reason alone (`parse_or` names the variable).
fn parse_bool(v: &str) -> Result<bool, &'static str> {
    crate::config::parse_bool("", v).map_err(|_| "expected true or false")
}

fn parse_or<T, E: ToString>(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: T,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<T, ConfigError> {
    match get(var) {
        None => Ok(default),
        Some(v) => parse(&v).map_err(|e| ConfigError::Invalid {
            var,
            value: v.clone(),
            reason: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<ShipConfig, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ShipConfig::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn config_defaults_and_oauth() {
        let c = cfg(&[
            ("BRIDGE_URL", "https://edge.example.com"),
            ("AUTH_URL", "https://auth.example.com/t"),
            ("CLIENT_ID", "id"),
            (
                "CLIENT_SECRET_ARN",
                "arn:aws:secretsmanager:us-east-1:1:secret:x",
            ),
        ])
        .unwrap();
        assert_eq!(c.bridge_url, "https://edge.example.com/api-transactions");
        assert_eq!(c.window_bytes, DEFAULT_WINDOW_BYTES);
        assert_eq!(c.format, Format::Uap);
        assert!(c.needs_aws());
        assert!(!c.allow_insecure_http);
    }

    #[test]
    fn config_errors_name_the_variable() {
        let e = cfg(&[]).unwrap_err().to_string();
        assert!(e.contains("BRIDGE_URL"), "{e}");
        let e = cfg(&[("BRIDGE_URL", "http://127.0.0.1:1")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("ALLOW_INSECURE_HTTP"), "{e}");
        let e = cfg(&[("BRIDGE_URL", "https://x"), ("WINDOW_BYTES", "10")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("WINDOW_BYTES"), "{e}");
        let e = cfg(&[
            ("BRIDGE_URL", "https://x"),
            ("AUTH_URL", "https://a"),
            ("CLIENT_ID", "i"),
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("CLIENT_SECRET"), "{e}");
    }

    #[test]
    fn bad_auth_header_does_not_echo_the_value() {
        let e = cfg(&[
            ("BRIDGE_URL", "https://x"),
            ("BRIDGE_AUTH_HEADER", "no-colon-s3cr3t"),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("BRIDGE_AUTH_HEADER") && !e.contains("s3cr3t"),
            "{e}"
        );
    }

    #[test]
    fn mapping_marks_unpack_failures_and_undelivered_records() {
        // messages: 0 (records 0,1), 1 (unpack failed), 2 (records 2,3), 3 (no records)
        let recs = [0, 0, 2, 2];
        let outcomes = [
            RangeOutcome {
                records: 0..1,
                delivered: true,
            },
            RangeOutcome {
                records: 1..3,
                delivered: false,
            },
            RangeOutcome {
                records: 3..4,
                delivered: true,
            },
        ];
        assert_eq!(
            failed_messages(4, &recs, &outcomes, &[false, true, false, false]),
            vec![0, 1, 2]
        );
    }
}
