//! A local stand-in for the Bridge: the Keycloak-style token endpoint and `POST /api-transactions`,
//! validating what it receives, writing accepted windows to a directory, and injecting faults on
//! request. `apigw-stream bridge` serves it; tests and `apigw-stream local` start it in-process on
//! `127.0.0.1:0` and read back what it accepted through [`Receiver`].

use std::borrow::Cow;
use std::collections::{HashMap, HashSet, VecDeque};
use std::io::Read as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;
use tokio::task::JoinHandle;

mod uap_window;

use super::view::RecordView;
use super::{Secret, TOKEN_PATH, TRANSACTIONS_PATH};
use crate::json::Text;

/// Largest request body read at all (a real Edge would refuse far less; see `max_body_bytes`).
const READ_LIMIT: usize = 64 * 1024 * 1024;

/// Faults to inject; change them at any time with [`Receiver::set_faults`].
#[derive(Debug, Clone)]
pub struct Faults {
    /// Share of `/api-transactions` requests answered with `fail_status` (0.0..=1.0).
    pub fail_rate: f64,
    pub fail_status: u16,
    /// Delay before answering `/api-transactions` (a stalled server when large).
    pub latency: Duration,
    /// `expires_in` of issued tokens, in seconds; expired tokens get 401.
    pub token_ttl_secs: u64,
    /// Statuses for the next requests, in order, before any normal handling (e.g. 500, 429, 413;
    /// a 2xx entry means "handle normally").
    pub statuses: VecDeque<u16>,
    /// `Retry-After` seconds sent with injected 429 and 503 answers.
    pub retry_after_secs: Option<u64>,
    /// Bodies larger than this (decompressed) get 413.
    pub max_body_bytes: Option<usize>,
    /// Record ids whose windows get 400 (a collector refusing one record's content).
    pub reject_ids: HashSet<String>,
    /// The next token answers (this many) carry an `access_token` with a control character: a
    /// token no HTTP header can carry (the token endpoint's glitch, for clients to survive).
    pub bad_tokens: u32,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            fail_rate: 0.0,
            fail_status: 503,
            latency: Duration::ZERO,
            token_ttl_secs: 1800,
            statuses: VecDeque::new(),
            retry_after_secs: None,
            max_body_bytes: None,
            reject_ids: HashSet::new(),
            bad_tokens: 0,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ReceiverConfig {
    /// Credentials the token endpoint accepts; `None` accepts any.
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    /// Where accepted windows are written (`window-000001.json`, ...); `None` keeps only counts.
    pub out_dir: Option<PathBuf>,
    /// Accept `/api-transactions` without a token (for collectors configured with static auth).
    pub no_auth: bool,
    pub faults: Faults,
}

/// Counters since start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceiverStats {
    pub token_requests: u64,
    pub tokens_issued: u64,
    pub token_refusals: u64,
    /// Token answers made unusable on purpose ([`Faults::bad_tokens`]).
    pub bad_tokens_issued: u64,
    pub posts: u64,
    pub unauthorized: u64,
    pub faults_injected: u64,
    pub too_large: u64,
    pub invalid: u64,
    /// Windows refused because they held a record of `reject_ids`.
    pub rejected_windows: u64,
    pub accepted_windows: u64,
    pub accepted_records: u64,
    pub accepted_bytes: u64,
    pub gzip_windows: u64,
}

#[derive(Default)]
struct Inner {
    faults: Faults,
    tokens: HashMap<String, Instant>,
    issued: Vec<String>,
    stats: ReceiverStats,
    ids: IdLog,
    window_sizes: Vec<usize>,
    window_tokens: Vec<String>,
}

/// Accepted ids in one buffer: a `String` per id costs about twice its text in allocator
/// overhead, and `local` keeps every id of its run.
#[derive(Default)]
struct IdLog {
    text: String,
    ends: Vec<usize>,
}

impl IdLog {
    fn push(&mut self, id: &str) {
        self.text.push_str(id);
        self.ends.push(self.text.len());
    }

    fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts.zip(&self.ends).map(|(a, &b)| &self.text[a..b])
    }
}

struct Shared {
    config: ReceiverConfig,
    inner: Mutex<Inner>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave counters half-written in a harmful way.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running receiver; stops when dropped.
pub struct Receiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Receiver {
    /// Bind `listen` (port 0 for any) and serve in the background.
    pub async fn start(listen: SocketAddr, config: ReceiverConfig) -> std::io::Result<Receiver> {
        if let Some(dir) = &config.out_dir {
            tokio::fs::create_dir_all(dir).await?;
        }
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                faults: config.faults.clone(),
                ..Inner::default()
            }),
            config,
        });
        let app = Router::new()
            .route(TOKEN_PATH, post(token))
            .route(TRANSACTIONS_PATH, post(transactions))
            .layer(DefaultBodyLimit::max(READ_LIMIT))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "bridge receiver stopped");
            }
        });
        Ok(Receiver { addr, shared, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// `http://127.0.0.1:PORT` (the Edge base URL).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn transactions_url(&self) -> String {
        format!("{}{TRANSACTIONS_PATH}", self.base_url())
    }
    pub fn token_url(&self) -> String {
        format!("{}{TOKEN_PATH}", self.base_url())
    }

    pub fn stats(&self) -> ReceiverStats {
        self.shared.lock().stats.clone()
    }
    /// `transaction-id`s (uap) or `id`s (ndjson) of every accepted record, in arrival order.
    pub fn accepted_ids(&self) -> Vec<String> {
        self.shared.lock().ids.iter().map(str::to_string).collect()
    }
    /// Calls `f` with every accepted id, in arrival order, without copying them out (a `local`
    /// run of a million records would otherwise hold them twice at its end).
    pub fn for_each_accepted_id(&self, mut f: impl FnMut(&str)) {
        self.shared.lock().ids.iter().for_each(&mut f);
    }
    /// Decompressed size of every accepted window.
    pub fn window_sizes(&self) -> Vec<usize> {
        self.shared.lock().window_sizes.clone()
    }
    /// The token each accepted window carried (empty without auth).
    pub fn window_tokens(&self) -> Vec<String> {
        self.shared.lock().window_tokens.clone()
    }
    /// Every token issued (tests search logs for them).
    pub fn issued_tokens(&self) -> Vec<String> {
        self.shared.lock().issued.clone()
    }
    pub fn faults(&self) -> Faults {
        self.shared.lock().faults.clone()
    }
    pub fn set_faults(&self, faults: Faults) {
        self.shared.lock().faults = faults;
    }
    /// Answer the next requests with these statuses.
    pub fn push_statuses(&self, statuses: impl IntoIterator<Item = u16>) {
        self.shared.lock().faults.statuses.extend(statuses);
    }
    /// Invalidate every issued token (the next request with one gets 401).
    pub fn revoke_tokens(&self) {
        self.shared.lock().tokens.clear();
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    (status, axum::Json(json!({ "error": error }))).into_response()
}

/// Client credentials from the form body or HTTP Basic (form-encoded parts, RFC 6749 §2.3.1).
fn client_credentials(
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> (Option<String>, Option<String>) {
    if let Some(basic) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    {
        if let Some(pair) = B64
            .decode(basic.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
        {
            if let Some((id, secret)) = pair.split_once(':') {
                let decode = |s: &str| {
                    form_urlencoded::parse(format!("v={s}").as_bytes())
                        .next()
                        .map(|(_, v)| v.into_owned())
                };
                return (decode(id), decode(secret));
            }
        }
    }
    (
        form.get("client_id").cloned(),
        form.get("client_secret").cloned(),
    )
}

async fn token(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let mut inner = shared.lock();
    inner.stats.token_requests += 1;
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        inner.stats.token_refusals += 1;
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    let (id, secret) = client_credentials(&headers, &form);
    let id_ok = shared
        .config
        .client_id
        .as_ref()
        .is_none_or(|want| id.as_ref() == Some(want));
    let secret_ok = shared
        .config
        .client_secret
        .as_ref()
        .is_none_or(|want| secret.as_deref() == Some(want.expose()));
    if id.is_none() || !id_ok || !secret_ok {
        inner.stats.token_refusals += 1;
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let ttl = inner.faults.token_ttl_secs;
    if inner.faults.bad_tokens > 0 {
        inner.faults.bad_tokens -= 1;
        inner.stats.bad_tokens_issued += 1;
        return axum::Json(json!({
            "access_token": "bad\u{1}token",
            "token_type": "Bearer",
            "expires_in": ttl,
        }))
        .into_response();
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    // An unsigned JWT, so clients can read `exp` as they would from Keycloak.
    let claims =
        json!({"exp": now + ttl, "iat": now, "azp": id, "jti": uuid::Uuid::new_v4().to_string()});
    let token = format!(
        "{}.{}.local",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    inner
        .tokens
        .insert(token.clone(), Instant::now() + Duration::from_secs(ttl));
    inner.issued.push(token.clone());
    inner.stats.tokens_issued += 1;
    let mut resp = axum::Json(json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": ttl,
        "refresh_expires_in": 0,
        "not-before-policy": 0,
        "scope": "profile email",
    }))
    .into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn status_response(status: u16, retry_after: Option<u64>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (status, axum::Json(json!({"error": "injected fault"}))).into_response();
    if let (Some(secs), StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE) =
        (retry_after, status)
    {
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    resp
}

async fn transactions(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let latency = {
        let mut inner = shared.lock();
        inner.stats.posts += 1;
        inner.faults.latency
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let bearer = match authorize(&shared, &headers) {
        Ok(bearer) => bearer,
        Err(resp) => return *resp,
    };
    if let Some(resp) = inject_fault(&shared) {
        return resp;
    }
    let gzipped = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    let body = match decompress(&shared, body, gzipped) {
        Ok(b) => b,
        Err(resp) => return *resp,
    };
    let ndjson = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-ndjson"));
    let ids = match validate(&shared, &body, ndjson) {
        Ok(ids) => ids,
        Err(resp) => return *resp,
    };
    accept(&shared, body, ids, bearer, gzipped, ndjson).await
}

/// The bearer token, or the 401 to answer (unless `no_auth`).
fn authorize(shared: &Shared, headers: &HeaderMap) -> Result<Option<String>, Box<Response>> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    if shared.config.no_auth {
        return Ok(bearer);
    }
    let mut inner = shared.lock();
    let valid = bearer
        .as_ref()
        .and_then(|t| inner.tokens.get(t))
        .is_some_and(|exp| Instant::now() < *exp);
    if valid {
        return Ok(bearer);
    }
    inner.stats.unauthorized += 1;
    let mut resp = (StatusCode::UNAUTHORIZED, "invalid or expired token").into_response();
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(r#"Bearer error="invalid_token""#),
    );
    Err(Box::new(resp))
}

/// The next scripted status, or a random failure at `fail_rate`.
fn inject_fault(shared: &Shared) -> Option<Response> {
    let mut inner = shared.lock();
    let retry_after = inner.faults.retry_after_secs;
    let injected = match inner.faults.statuses.pop_front() {
        // A 2xx in the sequence means "handle this one normally".
        Some(s) if (200..300).contains(&s) => None,
        Some(s) => Some(s),
        None if inner.faults.fail_rate > 0.0
            && rand::random_range(0.0..1.0) < inner.faults.fail_rate =>
        {
            Some(inner.faults.fail_status)
        }
        None => None,
    };
    if injected.is_some() {
        inner.stats.faults_injected += 1;
    }
    injected.map(|s| status_response(s, retry_after))
}

/// The window as sent (gunzipped when it says so), or 400 / 413.
fn decompress(shared: &Shared, body: Bytes, gzipped: bool) -> Result<Bytes, Box<Response>> {
    let body = if gzipped {
        let mut out = Vec::new();
        let mut dec = flate2::read::GzDecoder::new(&body[..]).take(READ_LIMIT as u64);
        if let Err(e) = dec.read_to_end(&mut out) {
            shared.lock().stats.invalid += 1;
            return Err(Box::new(
                (StatusCode::BAD_REQUEST, format!("bad gzip body: {e}")).into_response(),
            ));
        }
        Bytes::from(out)
    } else {
        body
    };
    let max = shared.lock().faults.max_body_bytes;
    if max.is_some_and(|m| body.len() > m) {
        shared.lock().stats.too_large += 1;
        return Err(Box::new(
            (StatusCode::PAYLOAD_TOO_LARGE, "window too large").into_response(),
        ));
    }
    Ok(body)
}

/// The window's record ids, or 400 for an invalid window or one holding a rejected id.
fn validate(shared: &Shared, body: &[u8], ndjson: bool) -> Result<Vec<String>, Box<Response>> {
    let ids = if ndjson {
        validate_ndjson(body)
    } else {
        validate_uap(body)
    };
    let refuse = |reason: String| {
        tracing::warn!(reason = %reason, "bridge receiver refused a window");
        Box::new(
            (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"error": reason})),
            )
                .into_response(),
        )
    };
    let ids = ids.map_err(|reason| {
        shared.lock().stats.invalid += 1;
        refuse(reason)
    })?;
    let mut inner = shared.lock();
    if let Some(bad) = ids.iter().find(|id| inner.faults.reject_ids.contains(*id)) {
        inner.stats.rejected_windows += 1;
        return Err(refuse(format!("record {bad} rejected")));
    }
    Ok(ids)
}

/// Count and keep an accepted window (written to `out_dir` when set).
async fn accept(
    shared: &Shared,
    body: Bytes,
    ids: Vec<String>,
    bearer: Option<String>,
    gzipped: bool,
    ndjson: bool,
) -> Response {
    let (seq, n) = {
        let mut inner = shared.lock();
        inner.stats.accepted_windows += 1;
        inner.stats.accepted_records += ids.len() as u64;
        inner.stats.accepted_bytes += body.len() as u64;
        if gzipped {
            inner.stats.gzip_windows += 1;
        }
        inner.window_sizes.push(body.len());
        inner.window_tokens.push(bearer.unwrap_or_default());
        let n = ids.len();
        for id in &ids {
            inner.ids.push(id);
        }
        (inner.stats.accepted_windows, n)
    };
    if let Some(dir) = &shared.config.out_dir {
        let ext = if ndjson { "ndjson" } else { "json" };
        let path = dir.join(format!("window-{seq:06}.{ext}"));
        if let Err(e) = tokio::fs::write(&path, &body).await {
            tracing::error!(path = %path.display(), error = %e, "cannot write an accepted window");
            return (StatusCode::INTERNAL_SERVER_ERROR, "cannot store the window").into_response();
        }
    }
    (StatusCode::OK, axum::Json(json!({"accepted": n}))).into_response()
}

// The window is checked in place: strings borrow from the body where they have no escapes.

#[derive(Deserialize)]
struct UapWindow<'a> {
    #[serde(borrow)]
    data: Vec<UapTxn<'a>>,
}

#[derive(Deserialize)]
struct UapTxn<'a> {
    #[serde(borrow)]
    timestamp: Cow<'a, str>,
    #[serde(borrow)]
    version: Cow<'a, str>,
    #[serde(rename = "transaction-id", borrow)]
    transaction_id: Cow<'a, str>,
    #[serde(borrow)]
    request: UapRequest<'a>,
    #[serde(borrow)]
    response: UapResponse<'a>,
}

#[derive(Deserialize)]
struct UapRequest<'a> {
    #[serde(rename = "http-method", borrow)]
    method: Cow<'a, str>,
    #[serde(rename = "uri-query-fragment", borrow)]
    uri: Cow<'a, str>,
    #[serde(borrow)]
    connection: UapConnection<'a>,
    #[serde(default, borrow)]
    headers: Vec<Text<'a>>,
    #[serde(borrow)]
    body: Option<UapBody<'a>>,
}

#[derive(Deserialize)]
struct UapConnection<'a> {
    #[serde(rename = "connection-ip", borrow)]
    connection_ip: Cow<'a, str>,
    #[serde(rename = "server-ip", borrow)]
    server_ip: Cow<'a, str>,
}

#[derive(Deserialize)]
struct UapResponse<'a> {
    #[serde(rename = "status-code", borrow)]
    status: Cow<'a, str>,
    #[serde(default, borrow)]
    headers: Vec<Text<'a>>,
    #[serde(borrow)]
    body: Option<UapBody<'a>>,
}

#[derive(Deserialize)]
struct UapBody<'a> {
    length: u64,
    #[serde(borrow)]
    data: Cow<'a, str>,
}

fn check_headers(headers: &[Text], side: &str) -> Result<(), String> {
    for Text(h) in headers {
        let (name, value) = h
            .split_once(':')
            .ok_or_else(|| format!("{side} header {h:?} is not \"name:base64(value)\""))?;
        if name.is_empty() || !is_base64(value) {
            return Err(format!("{side} header {name:?} value is not base64"));
        }
    }
    Ok(())
}

/// UAP's `"secs.millis"`: whole seconds, a dot, three digits.
fn timestamp_ok(t: &str) -> bool {
    t.split_once('.').is_some_and(|(s, ms)| {
        s.parse::<i64>().is_ok() && ms.len() == 3 && ms.bytes().all(|b| b.is_ascii_digit())
    })
}

/// Valid standard base64; short values are decoded on the stack.
fn is_base64(value: &str) -> bool {
    let mut buf = [0u8; 768];
    if value.len() <= 1024 {
        return B64.decode_slice(value, &mut buf).is_ok();
    }
    B64.decode(value).is_ok()
}

fn check_body(body: &Option<UapBody>, side: &str) -> Result<(), String> {
    if let Some(b) = body {
        let raw = B64
            .decode(b.data.as_bytes())
            .map_err(|_| format!("{side} body data is not base64"))?;
        if raw.len() as u64 != b.length {
            return Err(format!(
                "{side} body length {} but data holds {} bytes",
                b.length,
                raw.len()
            ));
        }
    }
    Ok(())
}

/// Check a UAP window; the transaction ids on success, the first problem otherwise. A window
/// in our encoder's exact shape is checked by hand; any other, or one that fails, by serde.
pub fn validate_uap(body: &[u8]) -> Result<Vec<String>, String> {
    match uap_window::check(body) {
        Some(ids) => Ok(ids),
        None => validate_uap_with_serde(body),
    }
}

fn validate_uap_with_serde(body: &[u8]) -> Result<Vec<String>, String> {
    let window: UapWindow = crate::json::from_slice(body)
        .map_err(|e| format!("not a UAP window {{\"data\":[...]}}: {e}"))?;
    let mut ids = Vec::with_capacity(window.data.len());
    for (i, t) in window.data.into_iter().enumerate() {
        let fail = |what: String| format!("data[{i}] ({}): {what}", t.transaction_id);
        if !timestamp_ok(&t.timestamp) {
            return Err(fail(format!(
                "timestamp {:?} is not \"secs.millis\"",
                t.timestamp
            )));
        }
        if t.version.is_empty() || t.transaction_id.is_empty() || t.request.method.is_empty() {
            return Err(fail(
                "version, transaction-id and http-method must not be empty".into(),
            ));
        }
        if t.request.connection.connection_ip.is_empty()
            || t.request.connection.server_ip.is_empty()
        {
            return Err(fail("connection-ip and server-ip are required".into()));
        }
        if !t.request.uri.starts_with('/') {
            return Err(fail(format!(
                "uri-query-fragment {:?} does not start with /",
                t.request.uri
            )));
        }
        if t.response.status.parse::<u16>().is_err() {
            return Err(fail(format!(
                "status-code {:?} is not a number string",
                t.response.status
            )));
        }
        check_headers(&t.request.headers, "request").map_err(fail)?;
        check_headers(&t.response.headers, "response").map_err(fail)?;
        check_body(&t.request.body, "request").map_err(fail)?;
        check_body(&t.response.body, "response").map_err(fail)?;
        ids.push(t.transaction_id.into_owned());
    }
    Ok(ids)
}

/// Check an NDJSON window of canonical records; their ids on success.
pub fn validate_ndjson(body: &[u8]) -> Result<Vec<String>, String> {
    let mut ids = Vec::new();
    for (n, line) in body.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let t = RecordView::parse(line)
            .map_err(|e| format!("line {}: not an apigw-stream/v1 record: {e}", n + 1))?;
        ids.push(t.id.into_owned());
    }
    Ok(ids)
}
