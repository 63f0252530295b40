//! Authorization for collector requests: an OAuth2 client-credentials token (cached, refreshed
//! before it expires, one fetch shared by concurrent requests), or a static bearer token / header.
//!
//! RFC 6749 §4.4 and the Cequence Kong plugin: form body credentials by default, HTTP Basic as an
//! option; the token lives until `expires_in` or the JWT `exp` (the earlier), less a 60 s skew.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use reqwest::header::{HeaderName, HeaderValue};
use serde::Deserialize;
use tokio::sync::Mutex;

use super::secret::{SecretError, SecretSource};
use super::Secret;

/// Refresh this long before the token runs out (Cequence's Kong plugin uses the same).
pub const DEFAULT_SKEW: Duration = Duration::from_secs(60);
/// Lifetime assumed when the server gives neither `expires_in` nor a JWT `exp`.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);
/// Longest lifetime believed, whatever `expires_in` or `exp` say (a hostile or broken endpoint
/// may send `u64::MAX`); the token is simply fetched again after this.
pub const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// A token response larger than this is refused unread (Keycloak's are a few KiB).
pub const TOKEN_BODY_CAP: usize = 64 * 1024;
/// After a permanent failure (credentials refused, secret missing), answer with it for this long
/// instead of asking again for every window.
const REJECTION_HOLD: Duration = Duration::from_secs(5);
/// A 2xx answer without a usable token (no `access_token`, not JSON, or a token that cannot be
/// sent in a header, e.g. with a control character) is fetched again after a pause, this many
/// times in a row; the next such answer counts as permanent ([`TokenError::Malformed`]).
pub const BAD_TOKEN_RETRIES: u32 = 3;
/// The pause before fetching again after the first unusable answer; it doubles with each one.
pub const BAD_TOKEN_PAUSE: Duration = Duration::from_millis(500);

/// How the client credentials travel to the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMethod {
    /// `client_id` and `client_secret` in the form body (Keycloak / Cequence default).
    #[default]
    Body,
    /// HTTP Basic (RFC 6749 §2.3.1).
    Basic,
}

impl std::str::FromStr for AuthMethod {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "body" | "post" | "client_secret_post" | "" => Ok(AuthMethod::Body),
            "basic" | "client_secret_basic" => Ok(AuthMethod::Basic),
            other => Err(format!(
                "unknown auth method {other:?} (expected body or basic)"
            )),
        }
    }
}

/// Why no token could be had. [`TokenError::is_transient`] decides by variant whether a retry
/// may help; permanent ones need a person (credentials, URL, secret, permissions).
#[derive(Debug, Clone, thiserror::Error)]
pub enum TokenError {
    /// Network failure, timeout, 5xx, 429 or 408: worth another try later.
    #[error("token endpoint unavailable: {0}")]
    Unavailable(String),
    /// The endpoint refused the credentials (4xx): retrying unchanged will not help.
    #[error("token endpoint refused the client credentials: HTTP {status} {error}")]
    Rejected { status: u16, error: String },
    /// A 3xx: not followed, so the client secret never goes to another host.
    #[error("token endpoint answered HTTP {status} redirecting to {location}; redirects are not followed (fix AUTH_URL)")]
    Redirected { status: u16, location: String },
    #[error("token endpoint answered without a usable access_token: {0}")]
    Malformed(String),
    /// An unusable answer ([`BAD_TOKEN_RETRIES`]): transient until the bound is reached.
    #[error("token endpoint answered without a usable access_token ({reason}); fetching again after a pause (unusable answer {count} of at most {BAD_TOKEN_RETRIES} in a row)")]
    BadToken { reason: String, count: u32 },
    #[error("token response exceeds {limit} bytes; refused unread")]
    TooLarge { limit: usize },
    #[error(transparent)]
    Secret(#[from] SecretError),
}

impl TokenError {
    pub fn is_transient(&self) -> bool {
        match self {
            TokenError::Unavailable(_) | TokenError::BadToken { .. } => true,
            TokenError::Secret(e) => e.is_transient(),
            TokenError::Rejected { .. }
            | TokenError::Redirected { .. }
            | TokenError::Malformed(_)
            | TokenError::TooLarge { .. } => false,
        }
    }
}

/// What a collector request carries.
pub enum Auth {
    None,
    /// `Authorization: Bearer <token>` with a fixed token.
    Bearer(Secret),
    /// Any fixed header, e.g. an API key.
    Header {
        name: HeaderName,
        value: Secret,
    },
    OAuth(Box<TokenSource>),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("Auth::None"),
            Auth::Bearer(_) => f.write_str("Auth::Bearer(***)"),
            Auth::Header { name, .. } => write!(f, "Auth::Header({name}: ***)"),
            Auth::OAuth(t) => write!(f, "Auth::OAuth({} as {})", t.url, t.client_id),
        }
    }
}

/// The header to send, and the token it carries (to drop exactly that one after a 401).
pub struct Credential {
    pub header: Option<(HeaderName, HeaderValue)>,
    pub token: Option<Secret>,
}

impl Auth {
    pub async fn credential(&self) -> Result<Credential, TokenError> {
        let header = |name: HeaderName, value: &str| {
            let mut v = HeaderValue::from_str(value).map_err(|_| {
                TokenError::Malformed("credential is not a valid header value".into())
            })?;
            v.set_sensitive(true);
            Ok::<_, TokenError>(Some((name, v)))
        };
        match self {
            Auth::None => Ok(Credential {
                header: None,
                token: None,
            }),
            Auth::Bearer(t) => Ok(Credential {
                header: header(
                    reqwest::header::AUTHORIZATION,
                    &format!("Bearer {}", t.expose()),
                )?,
                token: None,
            }),
            Auth::Header { name, value } => Ok(Credential {
                header: header(name.clone(), value.expose())?,
                token: None,
            }),
            Auth::OAuth(source) => {
                let token = source.token().await?;
                match header(
                    reqwest::header::AUTHORIZATION,
                    &format!("Bearer {}", token.expose()),
                ) {
                    Ok(h) => Ok(Credential {
                        header: h,
                        token: Some(token),
                    }),
                    // Checked when fetched, so not expected; never keep a token that cannot go.
                    Err(_) => {
                        source.invalidate(&token).await;
                        Err(TokenError::BadToken {
                            reason: "not a valid header value".into(),
                            count: 1,
                        })
                    }
                }
            }
        }
    }

    /// Whether a 401 may be cured by fetching a new token.
    pub fn can_refresh(&self) -> bool {
        matches!(self, Auth::OAuth(_))
    }

    pub async fn invalidate(&self, token: &Secret) {
        if let Auth::OAuth(source) = self {
            source.invalidate(token).await;
        }
    }

    /// Token fetches so far (OAuth only), for stats and tests.
    pub fn token_fetches(&self) -> u64 {
        match self {
            Auth::OAuth(s) => s.fetches(),
            _ => 0,
        }
    }
}

struct Cached {
    token: Secret,
    refresh_at: Instant,
}

#[derive(Default)]
struct State {
    cached: Option<Cached>,
    rejected: Option<(Instant, TokenError)>,
    /// Unusable answers in a row: how many, when to ask again, and the error to answer until then.
    bad: Option<(u32, Instant, TokenError)>,
}

/// OAuth2 client-credentials tokens, cached across invocations.
pub struct TokenSource {
    http: reqwest::Client,
    url: String,
    client_id: String,
    secret: SecretSource,
    method: AuthMethod,
    skew: Duration,
    timeout: Duration,
    state: Mutex<State>,
    fetches: AtomicU64,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct OAuthError {
    error: Option<String>,
}

impl TokenSource {
    pub fn new(
        http: reqwest::Client,
        url: impl Into<String>,
        client_id: impl Into<String>,
        secret: SecretSource,
        method: AuthMethod,
        timeout: Duration,
    ) -> Self {
        TokenSource {
            http,
            url: url.into(),
            client_id: client_id.into(),
            secret,
            method,
            skew: DEFAULT_SKEW,
            timeout,
            state: Mutex::new(State::default()),
            fetches: AtomicU64::new(0),
        }
    }

    pub fn with_skew(mut self, skew: Duration) -> Self {
        self.skew = skew;
        self
    }

    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// A valid token: the cached one, or a new one. Concurrent callers wait for one fetch.
    pub async fn token(&self) -> Result<Secret, TokenError> {
        let mut state = self.state.lock().await;
        if let Some(c) = &state.cached {
            if Instant::now() < c.refresh_at {
                return Ok(c.token.clone());
            }
        }
        if let Some((at, err)) = &state.rejected {
            if at.elapsed() < REJECTION_HOLD {
                return Err(err.clone());
            }
        }
        if let Some((_, at, err)) = &state.bad {
            if Instant::now() < *at {
                return Err(err.clone());
            }
        }
        state.cached = None;
        match self.fetch().await {
            Ok(c) => {
                let token = c.token.clone();
                state.cached = Some(c);
                state.rejected = None;
                state.bad = None;
                Ok(token)
            }
            Err(TokenError::Malformed(reason)) => {
                let count = state.bad.as_ref().map_or(0, |(n, _, _)| *n) + 1;
                if count > BAD_TOKEN_RETRIES {
                    tracing::error!(url = %self.url, answers = count, "token endpoint keeps answering without a usable access_token; giving up for now");
                    state.bad = None;
                    let e = TokenError::Malformed(reason);
                    state.rejected = Some((Instant::now(), e.clone()));
                    self.secret.invalidate().await;
                    return Err(e);
                }
                let pause = BAD_TOKEN_PAUSE.saturating_mul(1 << (count - 1));
                tracing::warn!(url = %self.url, answer = count, pause_ms = pause.as_millis() as u64, reason = %reason, "token endpoint answered without a usable access_token; fetching again after a pause");
                let e = TokenError::BadToken { reason, count };
                state.bad = Some((count, Instant::now() + pause, e.clone()));
                Err(e)
            }
            Err(e) => {
                if !e.is_transient() {
                    // Maybe the secret was rotated: read it again next time.
                    self.secret.invalidate().await;
                    state.rejected = Some((Instant::now(), e.clone()));
                }
                Err(e)
            }
        }
    }

    /// Drop `used` if it is still the cached token (other requests may have replaced it already).
    pub async fn invalidate(&self, used: &Secret) {
        let mut state = self.state.lock().await;
        if state.cached.as_ref().is_some_and(|c| &c.token == used) {
            state.cached = None;
        }
    }

    async fn fetch(&self) -> Result<Cached, TokenError> {
        let secret = self.secret.get().await?;
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let sent = Instant::now();
        let now_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let resp = self
            .request(&secret)
            .send()
            .await
            .map_err(|e| TokenError::Unavailable(e.without_url().to_string()))?;
        let body = token_body(resp).await?;
        let (token, expires_in) = parse_token(&body)?;
        let lifetime = token_lifetime(expires_in.as_ref(), jwt_exp(&token), now_unix.as_secs());
        let reuse_for = lifetime.saturating_sub(effective_skew(lifetime, self.skew));
        Ok(Cached {
            token: Secret::new(token),
            // `lifetime` is at most a day, so this cannot overflow; `sent` is the safe fallback.
            refresh_at: sent.checked_add(reuse_for).unwrap_or(sent),
        })
    }

    /// The client-credentials request, the secret in the body or in Basic auth.
    fn request(&self, secret: &Secret) -> reqwest::RequestBuilder {
        let req = self.http.post(&self.url).timeout(self.timeout);
        match self.method {
            AuthMethod::Body => req.form(&[
                ("grant_type", "client_credentials"),
                ("client_id", self.client_id.as_str()),
                ("client_secret", secret.expose()),
            ]),
            AuthMethod::Basic => req
                .basic_auth(
                    form_encode(&self.client_id),
                    Some(form_encode(secret.expose())),
                )
                .form(&[("grant_type", "client_credentials")]),
        }
    }
}

/// The body of a successful token answer (capped); any other answer as its error.
async fn token_body(mut resp: reqwest::Response) -> Result<Vec<u8>, TokenError> {
    let status = resp.status();
    if status.is_redirection() {
        let location = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok());
        return Err(TokenError::Redirected {
            status: status.as_u16(),
            location: super::response::location_host(resp.url(), location),
        });
    }
    let (body, complete) = super::response::read_body_capped(&mut resp, TOKEN_BODY_CAP)
        .await
        .map_err(|e| TokenError::Unavailable(e.without_url().to_string()))?;
    if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 {
        return Err(TokenError::Unavailable(format!("HTTP {}", status.as_u16())));
    }
    if !complete {
        return Err(TokenError::TooLarge {
            limit: TOKEN_BODY_CAP,
        });
    }
    if !status.is_success() {
        let error = serde_json::from_slice::<OAuthError>(&body)
            .ok()
            .and_then(|e| e.error)
            .unwrap_or_default();
        return Err(TokenError::Rejected {
            status: status.as_u16(),
            error,
        });
    }
    Ok(body)
}

/// The access token and `expires_in` of a token response.
fn parse_token(body: &[u8]) -> Result<(String, Option<serde_json::Value>), TokenError> {
    let parsed: TokenResponse = serde_json::from_slice(body)
        // The error's position only: its text may quote a value, and values may be secret.
        .map_err(|e| {
            TokenError::Malformed(format!(
                "not a token response ({:?} error at line {}, column {})",
                e.classify(),
                e.line(),
                e.column()
            ))
        })?;
    let token = parsed
        .access_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| TokenError::Malformed("no access_token".into()))?;
    // A token that cannot travel in a header (control characters, line breaks) is refused
    // here, not at every collector request; the value itself is never shown.
    if HeaderValue::from_str(&format!("Bearer {token}")).is_err() {
        return Err(TokenError::Malformed(
            "access_token holds characters not allowed in a header".into(),
        ));
    }
    Ok((token, parsed.expires_in))
}

/// How long a token lives: `expires_in` (a number or a numeric string) or the JWT `exp`, the
/// earlier of the two, at most [`MAX_LIFETIME`]; [`DEFAULT_LIFETIME`] when neither is usable.
pub fn token_lifetime(
    expires_in: Option<&serde_json::Value>,
    jwt_exp: Option<u64>,
    now_unix: u64,
) -> Duration {
    let expires_in = expires_in.and_then(|v| match v {
        serde_json::Value::Number(n) => n
            .as_u64()
            // A float ("3600.0", or 1e300) is read saturating; negative means already expired.
            .or_else(|| n.as_f64().map(|f| f.max(0.0) as u64)),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    });
    let from_jwt = jwt_exp.map(|exp| exp.saturating_sub(now_unix));
    let secs = match (expires_in, from_jwt) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => return DEFAULT_LIFETIME,
    };
    Duration::from_secs(secs).min(MAX_LIFETIME)
}

/// The skew, but never more than half the lifetime, so a short-lived token is still reused.
pub fn effective_skew(lifetime: Duration, skew: Duration) -> Duration {
    skew.min(lifetime / 2)
}

/// RFC 6749 §2.3.1: Basic credentials are form-encoded before they are joined.
fn form_encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The `exp` claim of a JWT, read without verifying it (only to know when to refresh).
pub fn jwt_exp(token: &str) -> Option<u64> {
    let mut parts = token.split('.');
    let (_header, payload, _sig) = (parts.next()?, parts.next()?, parts.next()?);
    let raw = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&raw).ok()?;
    claims.get("exp")?.as_u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwt_exp_reads_the_claim() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"exp":1700000000,"sub":"x"}"#);
        assert_eq!(
            jwt_exp(&format!("eyJhbGciOiJub25lIn0.{payload}.sig")),
            Some(1_700_000_000)
        );
        assert_eq!(jwt_exp("opaque-token"), None);
        assert_eq!(jwt_exp("a.!!!.c"), None);
    }

    #[test]
    fn skew_is_capped_for_short_tokens() {
        assert_eq!(
            effective_skew(Duration::from_secs(1800), DEFAULT_SKEW),
            DEFAULT_SKEW
        );
        assert_eq!(
            effective_skew(Duration::from_secs(4), DEFAULT_SKEW),
            Duration::from_secs(2)
        );
    }

    proptest::proptest! {
        /// No `expires_in` or `exp` can make the lifetime exceed a day or the refresh instant
        /// overflow.
        #[test]
        fn lifetimes_are_clamped(
            n in proptest::prelude::any::<u64>(),
            f in proptest::prelude::any::<f64>(),
            exp in proptest::option::of(proptest::prelude::any::<u64>()),
            now in proptest::prelude::any::<u64>(),
        ) {
            for v in [serde_json::json!(n), serde_json::json!(n.to_string()), serde_json::json!(f), serde_json::json!(-1)] {
                let life = token_lifetime(Some(&v), exp, now);
                proptest::prop_assert!(life <= MAX_LIFETIME);
                let reuse = life.saturating_sub(effective_skew(life, DEFAULT_SKEW));
                proptest::prop_assert!(Instant::now().checked_add(reuse).is_some());
            }
        }
    }

    #[test]
    fn lifetime_takes_the_earlier_and_defaults() {
        let v = serde_json::json!(3600);
        assert_eq!(
            token_lifetime(Some(&v), Some(1_000_100), 1_000_000),
            Duration::from_secs(100)
        );
        assert_eq!(token_lifetime(None, None, 5), DEFAULT_LIFETIME);
        let huge = serde_json::json!(u64::MAX);
        assert_eq!(token_lifetime(Some(&huge), None, 0), MAX_LIFETIME);
    }

    #[test]
    fn permanent_and_transient_by_type() {
        assert!(TokenError::Unavailable("x".into()).is_transient());
        assert!(!TokenError::Rejected {
            status: 401,
            error: "invalid_client".into()
        }
        .is_transient());
        assert!(!TokenError::Secret(SecretError::NotFound { arn: "a".into() }).is_transient());
        assert!(TokenError::Secret(SecretError::Unavailable {
            arn: "a".into(),
            message: "m".into()
        })
        .is_transient());
    }

    #[test]
    fn auth_method_parses() {
        assert_eq!("basic".parse::<AuthMethod>(), Ok(AuthMethod::Basic));
        assert_eq!("body".parse::<AuthMethod>(), Ok(AuthMethod::Body));
        assert!("digest".parse::<AuthMethod>().is_err());
    }
}
