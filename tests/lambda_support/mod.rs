//! The Lambda execution environment, for tests of the two function binaries as Lambda runs them:
//! a Runtime API server (`/2018-06-01/runtime/...`) per function, the built binary started with
//! `AWS_LAMBDA_RUNTIME_API` pointing at it, events handed out with the deadline headers, results
//! and init errors collected, the process restarted after a crash or a timeout the way Lambda
//! replaces an execution environment. [`triggers`] adds what invokes the functions in AWS: the SQS
//! event-source mapping and the asynchronous invocation of CloudWatch Logs subscriptions.
#![allow(dead_code)]

pub mod triggers;

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::{mpsc, oneshot};

pub const DECODE: &str = "apigw-stream-decode";
pub const SHIPPER: &str = "apigw-stream-shipper";
pub const CONTROL: &str = "apigw-stream-control";
pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";

/// Lambda's limit on a synchronous invocation's request and response (6 MB).
pub const MAX_SYNC_PAYLOAD: usize = 6 * 1024 * 1024;
/// How long Lambda waits for a runtime to reach its first `/next` (the init phase).
const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Output kept per function process (the tail beyond is dropped).
const MAX_LOG_BYTES: usize = 16 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// The function binaries

/// Directory holding the function binaries: `APIGW_STREAM_FUNCTIONS_DIR` when set (e.g. a release
/// build for measurements); else this build's profile directory when `scripts/test` built them
/// there (`cargo build -p apigw-stream-decode -p apigw-stream-shipper`) after the last source
/// change; else a build of their own under `target/lambda-functions`. (Not the shared one: cargo
/// holds its artifact lock while the tests run, so a nested build there would wait forever.)
pub fn functions_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("APIGW_STREAM_FUNCTIONS_DIR") {
            return PathBuf::from(dir);
        }
        // target/<profile>/deps/<this test> → target/<profile>
        let exe = std::env::current_exe().expect("path of the test binary");
        let profile_dir = exe
            .parent()
            .and_then(|d| d.parent())
            .expect("the test binary lives in target/<profile>/deps")
            .to_path_buf();
        if built_after_sources(&profile_dir) {
            return profile_dir;
        }
        let target = profile_dir.parent().expect("target dir");
        let own = target
            .join("lambda-functions")
            .join(profile_dir.file_name().expect("profile dir name"));
        let release = own.ends_with("release");
        build_functions(&own, release);
        own
    })
}

/// Both binaries exist in `dir` and are newer than every source file they are built from.
fn built_after_sources(dir: &std::path::Path) -> bool {
    fn newest(path: &std::path::Path) -> std::time::SystemTime {
        let mut t = std::fs::metadata(path)
            .and_then(|m| m.modified())
            .unwrap_or(UNIX_EPOCH);
        if path.is_dir() {
            for e in std::fs::read_dir(path).into_iter().flatten().flatten() {
                t = t.max(newest(&e.path()));
            }
        }
        t
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let sources = ["src", "functions", "Cargo.toml", "Cargo.lock"]
        .iter()
        .map(|p| newest(&root.join(p)))
        .max()
        .unwrap_or(UNIX_EPOCH);
    [DECODE, SHIPPER, CONTROL].iter().all(|b| {
        std::fs::metadata(dir.join(b))
            .and_then(|m| m.modified())
            .is_ok_and(|t| t >= sources)
    })
}

/// `cargo build` the function packages into `profile_dir` (`target/debug` or `target/release`).
pub fn build_functions(profile_dir: &std::path::Path, release: bool) {
    let target_dir = profile_dir.parent().expect("target dir");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut cmd = Command::new(cargo);
    // What cargo set for this test process (package variables, library paths) would differ from
    // a plain `cargo build` and make it rebuild every crate whose build script watches them.
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        let keep = [
            "CARGO_HOME",
            "CARGO_TARGET_DIR",
            "CARGO_BUILD_",
            "CARGO_NET_",
            "CARGO_REGISTR",
            "CARGO_HTTP_",
            "CARGO_TERM_",
            "CARGO_PROFILE_",
        ]
        .iter()
        .any(|p| k.starts_with(p));
        if (k.starts_with("CARGO") && !keep)
            || k.starts_with("__CARGO")
            || k == "LD_LIBRARY_PATH"
            || k == "OUT_DIR"
        {
            cmd.env_remove(k.as_ref());
        }
    }
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "build", "--locked", "-p", DECODE, "-p", SHIPPER, "-p", CONTROL,
        ])
        .arg("--target-dir")
        .arg(target_dir);
    if release {
        cmd.arg("--release");
    }
    let started = Instant::now();
    let status = cmd
        .status()
        .expect("run cargo build for the function binaries");
    assert!(status.success(), "cargo build of the functions failed");
    eprintln!(
        "built {DECODE}, {SHIPPER} and {CONTROL} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

pub fn binary(name: &str) -> PathBuf {
    let path = functions_dir().join(name);
    assert!(path.exists(), "{} was not built", path.display());
    path
}

// ---------------------------------------------------------------------------------------------
// Outcomes

/// How one invocation ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// `POST /invocation/{id}/response`.
    Response(Vec<u8>),
    /// `POST /invocation/{id}/error`: the error type header and the body.
    Error {
        error_type: Option<String>,
        body: serde_json::Value,
    },
    /// The process reported `/init/error` (this invocation started a new environment).
    InitError(serde_json::Value),
    /// The process exited or was killed before answering.
    Crashed(String),
    /// No answer before the deadline: Lambda stops the environment (`Sandbox.Timedout`).
    TimedOut,
}

impl Outcome {
    pub fn is_error(&self) -> bool {
        !matches!(self, Outcome::Response(_))
    }

    /// The response as JSON (`null` for an empty body), or why it is not one.
    pub fn json(&self) -> Result<serde_json::Value, String> {
        match self {
            Outcome::Response(b) if b.is_empty() => Ok(serde_json::Value::Null),
            Outcome::Response(b) => serde_json::from_slice(b).map_err(|e| e.to_string()),
            other => Err(format!("not a response: {other:?}")),
        }
    }

    /// The `errorMessage` of an error or init error.
    pub fn error_message(&self) -> Option<String> {
        match self {
            Outcome::Error { body, .. } | Outcome::InitError(body) => Some(
                body.get("errorMessage")
                    .and_then(|m| m.as_str())
                    .unwrap_or_default()
                    .to_string(),
            ),
            _ => None,
        }
    }

    /// Whether this is the runtime's report of a panic in the handler.
    pub fn is_panic(&self) -> bool {
        self.error_message().is_some_and(|m| m.contains("panicked"))
    }
}

/// One invocation: its outcome and what Lambda would report for it.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    pub outcome: Outcome,
    /// The init duration when this invocation started a new environment (process start → first
    /// `/next`), as Lambda's REPORT line has it for cold starts.
    pub init: Option<Duration>,
    /// Event handed out by `/next` → result posted.
    pub duration: Duration,
    /// Peak resident set of the process so far (VmHWM), in KiB.
    pub peak_rss_kib: Option<u64>,
}

// ---------------------------------------------------------------------------------------------
// The Runtime API server

struct Event {
    request_id: String,
    body: Vec<u8>,
    deadline_ms: u64,
    function_arn: String,
}

enum Posted {
    Response(Vec<u8>),
    Error {
        error_type: Option<String>,
        body: serde_json::Value,
    },
}

#[derive(Default)]
struct Progress {
    /// Times `/next` was called, and when last.
    polls: u64,
    last_poll: Option<Instant>,
    init_error: Option<serde_json::Value>,
    /// When `/next` handed out each request.
    delivered: HashMap<String, Instant>,
}

struct ApiState {
    events: tokio::sync::Mutex<mpsc::UnboundedReceiver<Event>>,
    /// Bumped when a process is stopped or started: a `/next` still pending from an earlier
    /// process (its connection may outlive it) gives up instead of taking the next event.
    generation: tokio::sync::watch::Sender<u64>,
    results: Mutex<HashMap<String, oneshot::Sender<(Posted, Instant)>>>,
    progress: Mutex<Progress>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

async fn next(State(st): State<Arc<ApiState>>) -> Response {
    {
        let mut p = lock(&st.progress);
        p.polls += 1;
        p.last_poll = Some(Instant::now());
    }
    let mut generation = st.generation.subscribe();
    generation.borrow_and_update();
    let mut events = tokio::select! {
        g = st.events.lock() => g,
        _ = generation.changed() => return StatusCode::GONE.into_response(),
    };
    let event = tokio::select! {
        e = events.recv() => match e {
            Some(e) => e,
            None => return StatusCode::GONE.into_response(),
        },
        _ = generation.changed() => return StatusCode::GONE.into_response(),
    };
    drop(events);
    lock(&st.progress)
        .delivered
        .insert(event.request_id.clone(), Instant::now());
    let mut headers = HeaderMap::new();
    let h = |v: &str| HeaderValue::from_str(v).expect("header value");
    headers.insert("Lambda-Runtime-Aws-Request-Id", h(&event.request_id));
    headers.insert(
        "Lambda-Runtime-Deadline-Ms",
        h(&event.deadline_ms.to_string()),
    );
    headers.insert(
        "Lambda-Runtime-Invoked-Function-Arn",
        h(&event.function_arn),
    );
    headers.insert(
        "Lambda-Runtime-Trace-Id",
        h(&format!(
            "Root=1-{:08x}-{};Parent={};Sampled=0",
            now_ms() / 1000,
            &uuid::Uuid::new_v4().simple().to_string()[..24],
            &uuid::Uuid::new_v4().simple().to_string()[..16]
        )),
    );
    headers.insert("Content-Type", h("application/json"));
    (StatusCode::OK, headers, event.body).into_response()
}

fn finish(st: &ApiState, id: &str, posted: Posted) -> StatusCode {
    match lock(&st.results).remove(id) {
        Some(tx) => {
            let _ = tx.send((posted, Instant::now()));
            StatusCode::ACCEPTED
        }
        // An unknown or already answered request id (the Runtime API answers 400).
        None => StatusCode::BAD_REQUEST,
    }
}

async fn response(
    State(st): State<Arc<ApiState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    if body.len() > MAX_SYNC_PAYLOAD {
        let posted = Posted::Error {
            error_type: Some("Function.ResponseSizeTooLarge".into()),
            body: serde_json::json!({"errorMessage": format!("response of {} bytes", body.len())}),
        };
        finish(&st, &id, posted);
        return StatusCode::PAYLOAD_TOO_LARGE;
    }
    finish(&st, &id, Posted::Response(body.to_vec()))
}

fn error_body(headers: &HeaderMap, body: &[u8]) -> (Option<String>, serde_json::Value) {
    let error_type = headers
        .get("Lambda-Runtime-Function-Error-Type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = serde_json::from_slice(body).unwrap_or_else(
        |_| serde_json::json!({"errorMessage": String::from_utf8_lossy(body).to_string()}),
    );
    (error_type, body)
}

async fn error(
    State(st): State<Arc<ApiState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let (error_type, body) = error_body(&headers, &body);
    finish(&st, &id, Posted::Error { error_type, body })
}

async fn init_error(
    State(st): State<Arc<ApiState>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let (_, body) = error_body(&headers, &body);
    lock(&st.progress).init_error = Some(body);
    StatusCode::ACCEPTED
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// A function: its Runtime API and its current process

/// A function's settings: the binary, its environment and its timeout.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    pub binary: &'static str,
    pub name: String,
    pub env: Vec<(String, String)>,
    pub timeout: Duration,
    pub memory_mb: u32,
    /// The account in the function's ARN (the invocation context's `invoked_function_arn`).
    pub account: String,
}

impl FunctionSpec {
    pub fn new(binary: &'static str, name: &str) -> Self {
        FunctionSpec {
            binary,
            name: name.to_string(),
            env: vec![("LOG_LEVEL".into(), "info".into())],
            timeout: Duration::from_secs(30),
            memory_mb: 256,
            account: ACCOUNT.to_string(),
        }
    }

    pub fn env(mut self, name: &str, value: impl Into<String>) -> Self {
        self.env.retain(|(k, _)| k != name);
        self.env.push((name.to_string(), value.into()));
        self
    }

    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    pub fn arn(&self) -> String {
        format!(
            "arn:aws:lambda:{REGION}:{}:function:{}",
            self.account, self.name
        )
    }
}

struct Process {
    child: Child,
    started: Instant,
    /// `/next` polls before this process started.
    polls_at_start: u64,
    /// Set once its first `/next` arrived (init done).
    init: Option<Duration>,
}

/// One function: a Runtime API on 127.0.0.1 and at most one process serving it.
pub struct Function {
    pub spec: FunctionSpec,
    runtime_api: String,
    state: Arc<ApiState>,
    events: mpsc::UnboundedSender<Event>,
    server: tokio::task::JoinHandle<()>,
    process: Option<Process>,
    output: Arc<Mutex<Vec<u8>>>,
    /// Processes started so far (cold starts).
    pub starts: u32,
}

impl Function {
    pub async fn new(spec: FunctionSpec) -> Function {
        let (tx, rx) = mpsc::unbounded_channel();
        let state = Arc::new(ApiState {
            events: tokio::sync::Mutex::new(rx),
            results: Mutex::new(HashMap::new()),
            progress: Mutex::new(Progress::default()),
            generation: tokio::sync::watch::Sender::new(0),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            // Read bodies up to past the limit, so an oversized response is seen and refused.
            .layer(DefaultBodyLimit::max(MAX_SYNC_PAYLOAD + 1024 * 1024))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the runtime API");
        let addr = listener.local_addr().expect("runtime API address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Function {
            spec,
            runtime_api: addr.to_string(),
            state,
            events: tx,
            server,
            process: None,
            output: Arc::new(Mutex::new(Vec::new())),
            starts: 0,
        }
    }

    /// Start a process (a new execution environment) if none is running.
    fn ensure_started(&mut self) {
        if let Some(p) = &mut self.process {
            if matches!(p.child.try_wait(), Ok(None)) {
                return;
            }
            self.process = None;
        }
        lock(&self.state.progress).init_error = None;
        self.state.generation.send_modify(|g| *g += 1);
        let mut cmd = Command::new(binary(self.spec.binary));
        // Only what Lambda sets, plus the function's own variables: nothing leaks in from the
        // developer's shell (AWS profiles, proxies).
        cmd.env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", &self.runtime_api)
            .env("AWS_LAMBDA_FUNCTION_NAME", &self.spec.name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env(
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                self.spec.memory_mb.to_string(),
            )
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{}", self.spec.name),
            )
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/29/[$LATEST]test")
            .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
            .env("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023")
            .env("AWS_REGION", REGION)
            .env("AWS_DEFAULT_REGION", REGION)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_SESSION_TOKEN", "testing")
            .env("_HANDLER", "bootstrap")
            .env("TZ", ":UTC")
            .envs(self.spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let polls_at_start = lock(&self.state.progress).polls;
        let started = Instant::now();
        let mut child = cmd.spawn().expect("start the function binary");
        for pipe in [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let out = self.output.clone();
            std::thread::spawn(move || copy_output(pipe, &out));
        }
        self.starts += 1;
        self.process = Some(Process {
            child,
            started,
            polls_at_start,
            init: None,
        });
    }

    /// Wait for the current process to reach `/next` (init done), report `/init/error`, or exit.
    async fn wait_init(&mut self) -> Result<(), Outcome> {
        let limit = Instant::now() + INIT_TIMEOUT;
        loop {
            let p = self.process.as_mut().expect("a started process");
            if p.init.is_some() {
                return Ok(());
            }
            let init_error = {
                let prog = lock(&self.state.progress);
                if prog.init_error.is_none() && prog.polls > p.polls_at_start {
                    let at = prog.last_poll.unwrap_or_else(Instant::now);
                    p.init = Some(at.saturating_duration_since(p.started));
                    return Ok(());
                }
                prog.init_error.clone()
            };
            if let Some(body) = init_error {
                self.wait_exit(Duration::from_secs(2)).await;
                return Err(Outcome::InitError(body));
            }
            if let Ok(Some(status)) = p.child.try_wait() {
                return Err(Outcome::Crashed(format!("exited during init: {status}")));
            }
            if Instant::now() > limit {
                self.kill();
                return Err(Outcome::Crashed("init did not finish in 10 s".into()));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Start the environment without invoking it; returns the init duration, or how init failed.
    pub async fn start(&mut self) -> Result<Duration, Outcome> {
        self.ensure_started();
        self.wait_init().await?;
        Ok(self
            .process
            .as_ref()
            .and_then(|p| p.init)
            .unwrap_or_default())
    }

    /// Invoke with `payload` under a new request id.
    pub async fn invoke(&mut self, payload: &[u8]) -> Invocation {
        let id = uuid::Uuid::new_v4().to_string();
        self.invoke_as(&id, payload).await
    }

    /// Invoke with `payload` under `request_id` (Lambda keeps the id across async retries).
    pub async fn invoke_as(&mut self, request_id: &str, payload: &[u8]) -> Invocation {
        let cold = self.process.is_none()
            || self
                .process
                .as_mut()
                .is_some_and(|p| !matches!(p.child.try_wait(), Ok(None)));
        self.ensure_started();
        let init_result = self.wait_init().await;
        let init = if cold {
            self.process.as_ref().and_then(|p| p.init)
        } else {
            None
        };
        if let Err(outcome) = init_result {
            self.kill();
            return Invocation {
                request_id: request_id.to_string(),
                outcome,
                init,
                duration: Duration::ZERO,
                peak_rss_kib: None,
            };
        }

        let (tx, rx) = oneshot::channel();
        lock(&self.state.results).insert(request_id.to_string(), tx);
        let deadline = Instant::now() + self.spec.timeout;
        let sent_at = Instant::now();
        self.events
            .send(Event {
                request_id: request_id.to_string(),
                body: payload.to_vec(),
                deadline_ms: now_ms() + self.spec.timeout.as_millis() as u64,
                function_arn: self.spec.arn(),
            })
            .expect("runtime API alive");

        tokio::pin!(rx);
        let outcome = loop {
            tokio::select! {
                r = &mut rx => {
                    let (posted, at) = r.expect("result sender kept until answered");
                    let from = lock(&self.state.progress).delivered.remove(request_id).unwrap_or(sent_at);
                    let duration = at.saturating_duration_since(from);
                    let outcome = match posted {
                        Posted::Response(b) => Outcome::Response(b),
                        Posted::Error { error_type, body } => Outcome::Error { error_type, body },
                    };
                    break (outcome, duration);
                }
                _ = tokio::time::sleep(Duration::from_millis(10)) => {
                    let exited = self.process.as_mut().and_then(|p| p.child.try_wait().ok().flatten());
                    if let Some(status) = exited {
                        lock(&self.state.results).remove(request_id);
                        self.kill();
                        break (Outcome::Crashed(format!("exited during the invocation: {status}")), sent_at.elapsed());
                    }
                    if Instant::now() > deadline {
                        lock(&self.state.results).remove(request_id);
                        self.kill();
                        break (Outcome::TimedOut, sent_at.elapsed());
                    }
                }
            }
        };
        let peak_rss_kib = self
            .process
            .as_ref()
            .and_then(|p| peak_rss_kib(p.child.id()));
        Invocation {
            request_id: request_id.to_string(),
            outcome: outcome.0,
            init,
            duration: outcome.1,
            peak_rss_kib,
        }
    }

    /// Peak resident set (VmHWM) of the running process, KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        self.process
            .as_ref()
            .and_then(|p| peak_rss_kib(p.child.id()))
    }

    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(|p| p.child.id())
    }

    /// Stop the environment; the next invocation starts a new one (a cold start).
    pub fn kill(&mut self) {
        if let Some(mut p) = self.process.take() {
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
        self.state.generation.send_modify(|g| *g += 1);
    }

    async fn wait_exit(&mut self, timeout: Duration) {
        let limit = Instant::now() + timeout;
        while let Some(p) = &mut self.process {
            if !matches!(p.child.try_wait(), Ok(None)) || Instant::now() > limit {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.kill();
    }

    /// [`output`](Self::output) once it has not grown for 200 ms (at most 5 s).
    pub fn settled_output(&self) -> String {
        let until = Instant::now() + Duration::from_secs(5);
        let mut len = lock(&self.output).len();
        loop {
            std::thread::sleep(Duration::from_millis(200));
            let now = lock(&self.output).len();
            if now == len || Instant::now() > until {
                return self.output();
            }
            len = now;
        }
    }

    /// Everything the processes of this function wrote to stdout and stderr so far.
    pub fn output(&self) -> String {
        String::from_utf8_lossy(&lock(&self.output)).into_owned()
    }

    /// The JSON log lines the function wrote whose `fields.message` is `message`. A function
    /// writes its log lines before it answers, but its stdout is copied on another thread, which
    /// on a busy machine lags behind the answer: wait until the output has settled first.
    pub fn log_lines(&self, message: &str) -> Vec<serde_json::Value> {
        self.settled_output()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v.pointer("/fields/message").and_then(|m| m.as_str()) == Some(message))
            .collect()
    }

    /// Panics the output reports (the default hook's "panicked at" line, or the runtime's).
    pub fn assert_no_panic(&self) {
        let out = self.output();
        assert!(
            !out.contains("panicked"),
            "{} panicked:\n{}",
            self.spec.name,
            tail(&out, 4000)
        );
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        self.kill();
        self.server.abort();
    }
}

fn copy_output(mut pipe: Box<dyn Read + Send>, out: &Mutex<Vec<u8>>) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match pipe.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                let mut o = lock(out);
                if o.len() + n > MAX_LOG_BYTES {
                    let drop_n = (o.len() + n - MAX_LOG_BYTES).min(o.len());
                    o.drain(..drop_n);
                }
                o.extend_from_slice(&buf[..n]);
            }
        }
    }
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

pub fn tail(s: &str, n: usize) -> &str {
    let mut start = s.len().saturating_sub(n);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

// ---------------------------------------------------------------------------------------------
// One moto server per test binary

/// moto's server shared by the tests of one binary (each test uses its own queue names). It runs
/// under a shell that kills it when this process's end of its stdin closes, i.e. when the test
/// binary exits however it exits.
pub struct SharedMoto {
    pub endpoint: String,
    _stdin: Mutex<std::process::ChildStdin>,
}

// The shell that owns moto is never waited for on success: it lives as long as the test binary and
// ends with it (its stdin closes); the OS reaps it then.
#[allow(clippy::zombie_processes)]
pub fn moto() -> &'static SharedMoto {
    static MOTO: OnceLock<SharedMoto> = OnceLock::new();
    MOTO.get_or_init(|| {
        // moto with SQS's FIFO receive rules (tests/moto/moto_server_ext.py): the stitch queue.
        let (path, script) = crate::common::ext_server();
        assert!(
            path.exists(),
            "{} not found — run scripts/setup-test-env first",
            path.display()
        );
        for _attempt in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("free port")
                .port();
            let mut child = Command::new("sh")
                .arg("-c")
                .arg(r#""$0" "$2" -H 127.0.0.1 -p "$1" >/dev/null 2>&1 & m=$!; read -r _; kill $m"#)
                .arg(&path)
                .arg(port.to_string())
                .arg(&script)
                .env("MOTO_ALLOW_NONEXISTENT_REGION", "true")
                .stdin(Stdio::piped())
                .spawn()
                .expect("spawn moto_server");
            let stdin = child.stdin.take().expect("moto's stdin");
            let limit = Instant::now() + Duration::from_secs(30);
            while Instant::now() < limit {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return SharedMoto {
                        endpoint: format!("http://127.0.0.1:{port}"),
                        _stdin: Mutex::new(stdin),
                    };
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            drop(stdin);
            let _ = child.wait();
        }
        panic!("moto_server did not start");
    })
}

impl SharedMoto {
    pub fn sdk_config(&self) -> aws_config::SdkConfig {
        apigw_stream::control::aws::emulator_config(&self.endpoint, REGION)
    }

    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.sdk_config())
    }
}
