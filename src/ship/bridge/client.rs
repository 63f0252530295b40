//! POSTing windows to the collector under the failure policy of docs/architecture.md:
//!
//! | answer | action |
//! |---|---|
//! | 2xx | delivered |
//! | 408, 429, 5xx but 501, connect error, timeout | exponential backoff with full jitter (never below `base_backoff`), `Retry-After` honoured up to `max_retry_after`, while the deadline (less a margin) allows |
//! | 401 | drop the token, fetch a new one, retry once |
//! | 413 | [`Outcome::TooLarge`]: the caller splits the window |
//! | 400, 422 | [`DeliveryError::ContentRejected`]: the caller bisects the window to find the record |
//! | 3xx | [`DeliveryError::Redirected`]: never followed (a redirect would resend data and credentials elsewhere, and a 303 turns the POST into a body-less GET) |
//! | other 4xx, 501 | [`DeliveryError::Refused`]: the window failed |

use super::response::{location_host, read_body_capped};
use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use flate2::write::GzEncoder;
use reqwest::header::{
    HeaderName, HeaderValue, CONTENT_ENCODING, CONTENT_TYPE, LOCATION, RETRY_AFTER,
};
use reqwest::{StatusCode, Url};

use super::auth::{Auth, Credential, TokenError};
use super::Format;
use super::Secret;
use crate::transport::backoff::{checked_deadline, clamp_wait, Backoff, Jitter};

/// Tuning of one client; defaults match the shipper Lambda's.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// One HTTP request, connect to last byte.
    pub request_timeout: Duration,
    /// Time kept free before the deadline (to answer the invocation).
    pub deadline_margin: Duration,
    /// First backoff; doubles per retry up to `max_backoff`.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// Longest `Retry-After` honoured; a longer one is cut to this (the deadline still applies).
    pub max_retry_after: Duration,
    /// Compress bodies (`Content-Encoding: gzip`).
    pub gzip: bool,
    /// Permit `http://` URLs (local receivers, tests).
    pub allow_insecure_http: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            request_timeout: Duration::from_secs(10),
            deadline_margin: Duration::from_millis(1500),
            base_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(120),
            gzip: false,
            allow_insecure_http: false,
        }
    }
}

/// Why a window was not delivered. The variant says whether sending it again can help.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DeliveryError {
    /// 400 or 422: the collector refused what the window holds (some record in it).
    #[error("collector rejected the content: HTTP {status}{}", detail_suffix(.detail))]
    ContentRejected { status: u16, detail: String },
    /// Another 4xx, or 501: the collector refuses the request itself.
    #[error("collector refused the request: HTTP {status}{}", detail_suffix(.detail))]
    Refused { status: u16, detail: String },
    /// A 3xx: not followed, so neither the data nor the credentials go anywhere else.
    #[error("collector answered HTTP {status} redirecting to {location}; redirects are not followed (fix the collector URL)")]
    Redirected { status: u16, location: String },
    #[error("collector answered 401 again after a new token")]
    Unauthorized,
    /// Retryable answers until the deadline came near.
    #[error("gave up after {attempts} attempts, the deadline is near (last: {last})")]
    Exhausted { attempts: u32, last: String },
    #[error("cannot authorize: {0}")]
    Auth(TokenError),
    /// reqwest could not build the request (a header or URL it refuses); no retry helps.
    #[error("request could not be built: {0}")]
    InvalidRequest(String),
}

impl DeliveryError {
    /// A rejection of content, not of the request: bisecting the window isolates the record.
    pub fn is_content_rejection(&self) -> bool {
        matches!(self, DeliveryError::ContentRejected { .. })
    }

    /// A later try may succeed unchanged: the collector was unavailable until the deadline, or
    /// refused a fresh token (a revocation racing the refresh).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            DeliveryError::Exhausted { .. } | DeliveryError::Unauthorized
        )
    }
}

fn detail_suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(" ({detail})")
    }
}

#[derive(Debug, Clone)]
pub enum Outcome {
    Delivered,
    /// 413: split the window and send the halves.
    TooLarge,
    Failed(DeliveryError),
}

/// The result of posting one window, with what it cost.
#[derive(Debug, Clone)]
pub struct PostResult {
    pub outcome: Outcome,
    /// HTTP requests made (first try included).
    pub attempts: u32,
    /// Requests repeated after a retryable answer or a 401.
    pub retries: u32,
    /// Round trip of the request that gave the final answer.
    pub latency: Duration,
    /// Bytes on the wire (after gzip).
    pub wire_bytes: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("collector URL {url:?} is not a valid URL: {reason}")]
    BadUrl { url: String, reason: String },
    #[error(
        "collector URL {url:?} is not https (set ALLOW_INSECURE_HTTP=true for a local receiver)"
    )]
    Insecure { url: String },
    #[error("cannot build the HTTP client: {0}")]
    Build(String),
}

/// Check a URL against the https-only rule.
pub fn check_url(url: &str, allow_insecure_http: bool) -> Result<Url, ClientError> {
    let parsed = Url::parse(url).map_err(|e| ClientError::BadUrl {
        url: url.to_string(),
        reason: e.to_string(),
    })?;
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if allow_insecure_http => Ok(parsed),
        "http" => Err(ClientError::Insecure {
            url: url.to_string(),
        }),
        other => Err(ClientError::BadUrl {
            url: url.to_string(),
            reason: format!("scheme {other:?} is not http(s)"),
        }),
    }
}

/// The HTTP client shared by the collector and the token endpoint: rustls, pooled connections,
/// https only unless allowed otherwise.
pub fn http_client(config: &ClientConfig) -> Result<reqwest::Client, ClientError> {
    reqwest::Client::builder()
        .https_only(!config.allow_insecure_http)
        // A followed redirect would send the body or the client secret to wherever it points
        // (and 301/302/303 turn the POST into a GET without body that "succeeds").
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(config.request_timeout.min(Duration::from_secs(5)))
        .pool_idle_timeout(Duration::from_secs(60))
        .user_agent(concat!("apigw-stream/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ClientError::Build(e.to_string()))
}

pub struct BridgeClient {
    http: reqwest::Client,
    url: Url,
    auth: Arc<Auth>,
    format: Format,
    config: ClientConfig,
}

enum Attempt {
    Done(Outcome),
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    Reauth,
}

impl Attempt {
    /// Retry after our own backoff (no `Retry-After`).
    fn retry(reason: String) -> Self {
        Attempt::Retry {
            reason,
            after: None,
        }
    }
}

impl BridgeClient {
    pub fn new(
        http: reqwest::Client,
        url: &str,
        auth: Arc<Auth>,
        format: Format,
        config: ClientConfig,
    ) -> Result<Self, ClientError> {
        let url = check_url(url, config.allow_insecure_http)?;
        Ok(BridgeClient {
            http,
            url,
            auth,
            format,
            config,
        })
    }

    pub fn format(&self) -> Format {
        self.format
    }

    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The last instant a request may still start or end.
    fn cutoff(&self, deadline: Instant) -> Instant {
        deadline
            .checked_sub(self.config.deadline_margin)
            .unwrap_or(deadline)
    }

    /// POST one window body (uncompressed), retrying per the failure policy until `deadline`.
    pub async fn post(&self, body: Vec<u8>, deadline: Instant) -> PostResult {
        let (payload, gzipped) = if self.config.gzip {
            match gzip(&body) {
                Ok(z) => (Bytes::from(z), true),
                Err(_) => (Bytes::from(body), false),
            }
        } else {
            (Bytes::from(body), false)
        };
        let cutoff = self.cutoff(deadline);
        let mut result = PostResult {
            outcome: Outcome::Delivered,
            attempts: 0,
            retries: 0,
            latency: Duration::ZERO,
            wire_bytes: payload.len(),
        };
        let mut reauthed = false;
        let mut backoff_step = 0u32;
        let mut last = String::from("no attempt made");
        loop {
            let now = Instant::now();
            if now >= cutoff {
                result.outcome = Outcome::Failed(DeliveryError::Exhausted {
                    attempts: result.attempts,
                    last,
                });
                return result;
            }
            let timeout = self.config.request_timeout.min(cutoff - now);
            result.attempts += 1;
            let started = Instant::now();
            let attempt = self.attempt(payload.clone(), gzipped, timeout).await;
            result.latency = started.elapsed();
            match attempt {
                Attempt::Done(outcome) => {
                    result.outcome = outcome;
                    return result;
                }
                Attempt::Reauth if !reauthed => {
                    reauthed = true;
                    result.retries += 1;
                    tracing::info!(url = %self.url, "collector answered 401; fetching a new token and retrying once");
                }
                Attempt::Reauth => {
                    result.outcome = Outcome::Failed(DeliveryError::Unauthorized);
                    return result;
                }
                Attempt::Retry { reason, after } => {
                    backoff_step += 1;
                    let delay = self.retry_delay(backoff_step, after);
                    // A server asking for more time than is left gets none of our requests
                    // (even though the wait itself is capped at `max_retry_after`).
                    let asked = after.unwrap_or(Duration::ZERO).max(delay);
                    if checked_deadline(Instant::now(), asked).is_none_or(|at| at >= cutoff) {
                        result.outcome = Outcome::Failed(DeliveryError::Exhausted {
                            attempts: result.attempts,
                            last: reason,
                        });
                        return result;
                    }
                    tracing::debug!(reason = %reason, delay_ms = delay.as_millis() as u64, "retrying window");
                    last = reason;
                    result.retries += 1;
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// Full-jitter exponential backoff: uniform in `[0, min(max, base·2^(n-1))]`.
    fn backoff(&self) -> Backoff {
        Backoff::new(
            self.config.base_backoff,
            self.config.max_backoff,
            Jitter::Full,
        )
    }

    /// The wait before retry `step`: the server's `Retry-After` when longer than our backoff,
    /// never less than `base_backoff` (`Retry-After: 0` must not turn retries into a busy loop)
    /// and never more than `max_retry_after`.
    fn retry_delay(&self, step: u32, after: Option<Duration>) -> Duration {
        let ours = self.backoff().delay(step);
        clamp_wait(
            after.unwrap_or(Duration::ZERO).max(ours),
            self.config.base_backoff,
            self.config.max_retry_after,
        )
    }

    async fn attempt(&self, payload: Bytes, gzipped: bool, timeout: Duration) -> Attempt {
        let credential = match self.credential_within(timeout).await {
            Ok(c) => c,
            Err(a) => return a,
        };
        match self
            .send(payload, gzipped, timeout, credential.header)
            .await
        {
            Ok(resp) => self.answer(resp, credential.token).await,
            Err(a) => a,
        }
    }

    /// The token fetch counts against the same time budget as the request.
    async fn credential_within(&self, timeout: Duration) -> Result<Credential, Attempt> {
        match tokio::time::timeout(timeout, self.auth.credential()).await {
            Err(_) => Err(Attempt::retry("token request timed out".into())),
            Ok(Ok(c)) => Ok(c),
            Ok(Err(e)) if e.is_transient() => Err(Attempt::retry(e.to_string())),
            Ok(Err(e)) => Err(Attempt::Done(Outcome::Failed(DeliveryError::Auth(e)))),
        }
    }

    async fn send(
        &self,
        payload: Bytes,
        gzipped: bool,
        timeout: Duration,
        auth_header: Option<(HeaderName, HeaderValue)>,
    ) -> Result<reqwest::Response, Attempt> {
        let mut req = self
            .http
            .post(self.url.clone())
            .timeout(timeout)
            .header(CONTENT_TYPE, self.format.content_type())
            .body(payload);
        if gzipped {
            req = req.header(CONTENT_ENCODING, "gzip");
        }
        if let Some((name, value)) = auth_header {
            req = req.header(name, value);
        }
        req.send().await.map_err(|e| {
            let e = e.without_url();
            if e.is_timeout() || e.is_connect() || e.is_request() || e.is_body() {
                Attempt::retry(e.to_string())
            } else {
                Attempt::Done(Outcome::Failed(DeliveryError::InvalidRequest(
                    e.to_string(),
                )))
            }
        })
    }

    /// The collector's answer under the policy in this module's table; `token`: the one sent,
    /// dropped on a 401.
    async fn answer(&self, mut resp: reqwest::Response, token: Option<Secret>) -> Attempt {
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        if status.is_success() {
            // Drain the body so the connection goes back to the pool (a huge one is cut off and
            // its connection dropped instead).
            let _ = read_capped(&mut resp, DRAIN_CAP).await;
            return Attempt::Done(Outcome::Delivered);
        }
        if status.is_redirection() {
            let location = location_host(
                &self.url,
                resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()),
            );
            return Attempt::Done(Outcome::Failed(DeliveryError::Redirected {
                status: status.as_u16(),
                location,
            }));
        }
        // Only the first bytes are shown; a collector's error page must not fill memory.
        let detail = snippet(&read_capped(&mut resp, DETAIL_CAP).await);
        match status {
            StatusCode::UNAUTHORIZED if self.auth.can_refresh() => {
                if let Some(token) = token {
                    self.auth.invalidate(&token).await;
                }
                Attempt::Reauth
            }
            StatusCode::PAYLOAD_TOO_LARGE => Attempt::Done(Outcome::TooLarge),
            StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS => Attempt::Retry {
                reason: format!("HTTP {}", status.as_u16()),
                after: retry_after,
            },
            s if s.is_server_error() && s != StatusCode::NOT_IMPLEMENTED => Attempt::Retry {
                reason: format!("HTTP {}", status.as_u16()),
                after: retry_after,
            },
            StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => {
                Attempt::Done(Outcome::Failed(DeliveryError::ContentRejected {
                    status: status.as_u16(),
                    detail,
                }))
            }
            s => Attempt::Done(Outcome::Failed(DeliveryError::Refused {
                status: s.as_u16(),
                detail,
            })),
        }
    }
}

/// `Retry-After`: delay-seconds or an HTTP date in any of its three forms (RFC 9110 §10.2.3).
/// Any number of seconds is accepted here (`u64::MAX` included); the caller clamps the wait.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // More digits than u64 holds still means "a very long time".
        return Some(Duration::from_secs(
            value.parse::<u64>().unwrap_or(u64::MAX),
        ));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// The start of an error body, on one line, for the log (collectors explain refusals there).
/// Response bytes kept to drain a success and to describe an error.
const DRAIN_CAP: usize = 64 * 1024;
const DETAIL_CAP: usize = 4 * 1024;

/// Read at most `cap` bytes of the body, stopping at the first error. `Content-Length` is not
/// trusted for anything (not even to reserve memory).
pub(crate) async fn read_capped(resp: &mut reqwest::Response, cap: usize) -> Vec<u8> {
    read_body_capped(resp, cap)
        .await
        .map(|(b, _)| b)
        .unwrap_or_default()
}

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn gzip(body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = GzEncoder::new(
        Vec::with_capacity(body.len() / 4),
        flate2::Compression::fast(),
    );
    enc.write_all(body)?;
    enc.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(
            parse_retry_after("18446744073709551615"),
            Some(Duration::from_secs(u64::MAX))
        );
        assert_eq!(
            parse_retry_after("99999999999999999999999"),
            Some(Duration::from_secs(u64::MAX))
        );
        // RFC 850 and asctime forms are dates too.
        assert_eq!(
            parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after("Sun Nov  6 08:49:37 1994"),
            Some(Duration::ZERO)
        );
    }

    fn client() -> BridgeClient {
        BridgeClient::new(
            reqwest::Client::new(),
            "https://x/",
            Arc::new(Auth::None),
            Format::Uap,
            ClientConfig::default(),
        )
        .unwrap()
    }

    proptest::proptest! {
        /// Whatever a server says in `Retry-After`, the wait is finite, at least the floor and at
        /// most the ceiling, and adding it to now cannot panic.
        #[test]
        fn retry_waits_are_clamped(secs in proptest::prelude::any::<u64>(), step in proptest::prelude::any::<u32>(), date in proptest::prelude::any::<bool>()) {
            let c = client();
            let header = if date {
                httpdate::fmt_http_date(epoch_plus(secs))
            } else {
                secs.to_string()
            };
            let after = parse_retry_after(&header);
            let d = c.retry_delay(step, after);
            proptest::prop_assert!(d >= c.config.base_backoff);
            proptest::prop_assert!(d <= c.config.max_retry_after);
            proptest::prop_assert!(checked_deadline(Instant::now(), d).is_some());
        }
    }

    /// A date `secs` after the epoch, saturated to what `SystemTime` and HTTP dates hold.
    fn epoch_plus(secs: u64) -> SystemTime {
        // HTTP dates end at year 9999.
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs % 253_402_300_799)
    }

    #[test]
    fn retry_after_zero_still_backs_off() {
        let c = client();
        for step in 1..20 {
            assert!(c.retry_delay(step, Some(Duration::ZERO)) >= Duration::from_millis(200));
        }
        assert_eq!(
            c.retry_delay(1, Some(Duration::from_secs(u64::MAX))),
            Duration::from_secs(120)
        );
    }

    #[test]
    fn location_names_only_the_host() {
        let base = Url::parse("https://edge.example.com/api-transactions").unwrap();
        assert_eq!(
            location_host(&base, Some("https://evil.example.net/x?token=abc")),
            "evil.example.net"
        );
        assert_eq!(location_host(&base, Some("/elsewhere")), "edge.example.com");
        assert_eq!(location_host(&base, None), "no Location");
    }

    #[test]
    fn urls_must_be_https_unless_allowed() {
        assert!(check_url("https://edge.example.com/api-transactions", false).is_ok());
        let err = check_url("http://127.0.0.1:9/api-transactions", false).unwrap_err();
        assert!(err.to_string().contains("ALLOW_INSECURE_HTTP"), "{err}");
        assert!(check_url("http://127.0.0.1:9/api-transactions", true).is_ok());
        assert!(check_url("ftp://x/", true).is_err());
    }

    #[test]
    fn backoff_stays_under_the_cap() {
        let client = client();
        for step in 1..40 {
            assert!(client.backoff().delay(step) <= Duration::from_secs(10));
        }
        assert!(client.backoff().delay(1) <= Duration::from_millis(200));
    }
}
