//! Synthetic workload: API Gateway access logs as CloudWatch Logs would deliver them to the
//! decode Lambda — `{"awslogs":{"data": base64(gzip(LogData JSON))}}`, one log stream per payload,
//! up to about 1 MB of uncompressed LogData each.
//!
//! The mix: REST, HTTP and a little WebSocket traffic over several APIs and stages, each stage
//! logging in the recommended JSON format or one of the console templates (JSON, CLF, CSV, XML);
//! realistic paths with ids, static files (for the filter), a status mix, IPv4 and IPv6, long and
//! odd user agents. The same seed gives the same output (with fixed timestamps, see
//! [`GenerateOptions::start_ms`]).
//!
//! Each [`Payload`] lists the request ids it carries. Whether a line becomes a record, or is
//! filtered, is the decode library's decision: tests decode the payloads to get their expectations.

mod catalog;
pub mod execution;
mod lines;

use std::io::Write;

use base64::Engine;
use flate2::write::GzEncoder;
use flate2::Compression;
use rand::rngs::StdRng;
use rand::{Rng, RngExt, SeedableRng};

pub use catalog::LineFormat;
use catalog::{Route, Stage, HOT_IPS, STAGES, STATUSES, USER_AGENTS, WEBSOCKET_EVENTS};
pub use execution::{Expected, LogKind, Scenario};
use lines::Request;

/// Fixed start of the synthetic timeline (2024-06-01T00:00:00Z) when timestamps must be reproducible.
pub const DEFAULT_START_MS: i64 = 1_717_200_000_000;
/// CloudWatch Logs' subscription batches hold at most 1 MB and 10,000 events.
pub const DEFAULT_BATCH_BYTES: usize = 1_000_000;
pub const MAX_BATCH_EVENTS: usize = 10_000;

#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Number of requests (log lines) to produce.
    pub requests: u64,
    pub seed: u64,
    /// `Some(t)`: the timeline starts at `t` (epoch ms) and advances a few ms per request, so the
    /// output is byte-for-byte reproducible. `None`: each payload is stamped with the wall clock
    /// when it is produced (what `local` uses to measure latency).
    pub start_ms: Option<i64>,
    /// Bound on one payload's uncompressed LogData JSON.
    pub max_batch_bytes: usize,
    /// gzip level (CloudWatch Logs uses 6).
    pub compression: u32,
    pub region: String,
    pub account: String,
    /// Access logs (the default mix), or REST execution logs (standard or 1 MB delivery).
    pub logs: LogKind,
    /// Execution logs: the fraction of requests whose lines are cut across two payloads (at a
    /// random line; the rest of the request comes first in a later payload of the same log
    /// stream), as a subscription may deliver them. 0: every request whole in one payload.
    pub split_fraction: f64,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            requests: 100_000,
            seed: 1,
            start_ms: Some(DEFAULT_START_MS),
            max_batch_bytes: DEFAULT_BATCH_BYTES,
            compression: 6,
            region: "us-east-1".to_string(),
            account: "123456789012".to_string(),
            logs: LogKind::Access,
            split_fraction: 0.0,
        }
    }
}

/// One subscription delivery: the Lambda event and what it holds.
#[derive(Debug, Clone)]
pub struct Payload {
    pub log_group: String,
    pub log_stream: String,
    pub subscription_filter: String,
    /// Timestamp of the payload's log events (epoch ms).
    pub logged_ms: i64,
    /// The request id of every request, in order (access logs: one line each).
    pub request_ids: Vec<String>,
    /// The request ids of the requests that ask for static files (what the default filter drops).
    pub static_request_ids: Vec<String>,
    /// Execution logs: what each request should decode to, in order (empty for access logs).
    pub expected: Vec<Expected>,
    /// Requests of `request_ids` whose lines this payload holds only in part: the rest comes
    /// first in a later payload of the same stream (see [`GenerateOptions::split_fraction`]).
    pub split_request_ids: Vec<String>,
    /// Log events in the payload.
    pub log_events: usize,
    /// Uncompressed LogData JSON size.
    pub logdata_bytes: usize,
    /// The Lambda event JSON: `{"awslogs":{"data":"..."}}`.
    pub event: Vec<u8>,
}

impl Payload {
    /// Requests in the payload.
    pub fn events(&self) -> usize {
        self.request_ids.len()
    }
}

/// LogData as CloudWatch Logs writes it (`messageType`, `owner`, `logGroup`, `logStream`,
/// `subscriptionFilters`, `logEvents`), written by hand: through serde this was a fifth of the
/// generator's time in `local`.
fn logdata_json(
    owner: &str,
    log_group: &str,
    log_stream: &str,
    filter: &str,
    events: &[LogEventOut],
    out: &mut Vec<u8>,
) {
    use crate::json::escape::string;
    // Access lines are JSON: their quotes grow by a backslash each when escaped.
    let text: usize = events.iter().map(|e| e.message.len() + e.id.len()).sum();
    out.reserve(text + text / 8 + events.len() * 48 + 256);
    out.extend_from_slice(br#"{"messageType":"DATA_MESSAGE","owner":"#);
    string(out, owner);
    out.extend_from_slice(br#","logGroup":"#);
    string(out, log_group);
    out.extend_from_slice(br#","logStream":"#);
    string(out, log_stream);
    out.extend_from_slice(br#","subscriptionFilters":["#);
    string(out, filter);
    out.extend_from_slice(br#"],"logEvents":["#);
    for (i, e) in events.iter().enumerate() {
        out.extend_from_slice(if i == 0 { br#"{"id":"# } else { br#",{"id":"# });
        string(out, &e.id);
        out.extend_from_slice(br#","timestamp":"#);
        out.extend_from_slice(itoa::Buffer::new().format(e.timestamp).as_bytes());
        out.extend_from_slice(br#","message":"#);
        string(out, &e.message);
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
}

struct LogEventOut {
    id: String,
    timestamp: i64,
    message: String,
}

/// Produces payloads until the requested number of requests is reached.
pub struct Generator {
    opts: GenerateOptions,
    rng: StdRng,
    produced: u64,
    /// Log stream names, per stage.
    streams: Vec<Vec<String>>,
    stage_weights: Vec<(usize, u32)>,
    connections: Vec<String>,
    /// Split requests' later lines, by (stage, stream), waiting for that stream's next payload.
    tails: std::collections::BTreeMap<(usize, usize), Vec<LogEventOut>>,
}

impl Generator {
    pub fn new(opts: GenerateOptions) -> Self {
        let mut rng = StdRng::seed_from_u64(opts.seed);
        let streams = STAGES
            .iter()
            .map(|_| (0..4).map(|_| hex(&mut rng, 16)).collect())
            .collect();
        let connections = (0..64).map(|_| b64_id(&mut rng, 11)).collect();
        let stage_weights = STAGES
            .iter()
            .enumerate()
            .map(|(i, s)| (i, s.weight))
            .collect();
        Generator {
            opts,
            rng,
            produced: 0,
            streams,
            stage_weights,
            connections,
            tails: std::collections::BTreeMap::new(),
        }
    }

    /// Requests still to produce.
    pub fn remaining(&self) -> u64 {
        self.opts.requests.saturating_sub(self.produced)
    }

    fn next_payload(&mut self) -> Option<Payload> {
        if self.opts.logs != LogKind::Access {
            return self.next_execution_payload();
        }
        let remaining = self.remaining();
        if remaining == 0 {
            return None;
        }
        let stage_index = *pick(&mut self.rng, &self.stage_weights);
        let stage = &STAGES[stage_index];
        let stream_index = self.rng.random_range(0..self.streams[stage_index].len());
        let log_stream = self.streams[stage_index][stream_index].clone();
        // Busy streams fill whole batches; quiet ones deliver a few lines at a time.
        let wanted = if self.rng.random_bool(0.2) {
            self.rng.random_range(1..=40)
        } else {
            self.rng.random_range(200..=3000)
        };
        let count = (wanted as u64).min(remaining) as usize;
        let wall_ms = chrono::Utc::now().timestamp_millis();

        let mut events = Vec::with_capacity(count);
        let mut request_ids = Vec::with_capacity(count);
        let mut static_request_ids = Vec::new();
        // LogData framing around the events, then each event's JSON with its escapes.
        let mut size = 200 + stage.log_group.len() + log_stream.len();
        let mut logged_ms = wall_ms;
        while events.len() < count.min(MAX_BATCH_EVENTS) {
            let seq = self.produced;
            // When the log event is written: as the response goes out.
            let timestamp = match self.opts.start_ms {
                Some(start) => start + (seq as i64) * 3,
                None => wall_ms,
            };
            let (req, is_static) = self.request(stage, seq, timestamp);
            let message = lines::render(stage, &self.opts.region, &self.opts.account, &req);
            let event_size = json_event_size(&message);
            if !events.is_empty() && size + event_size > self.opts.max_batch_bytes {
                break;
            }
            size += event_size;
            logged_ms = timestamp;
            events.push(LogEventOut {
                id: event_id(timestamp, seq),
                timestamp,
                message,
            });
            if is_static {
                static_request_ids.push(req.request_id.clone());
            }
            request_ids.push(req.request_id);
            self.produced += 1;
        }

        let mut p = self.seal(stage.log_group, log_stream, stage.filter_name(), &events);
        p.logged_ms = logged_ms;
        p.request_ids = request_ids;
        p.static_request_ids = static_request_ids;
        Some(p)
    }

    /// Wrap events as CloudWatch Logs delivers them: LogData JSON, gzip, base64, Lambda event.
    fn seal(
        &self,
        log_group: &str,
        log_stream: String,
        filter: String,
        events: &[LogEventOut],
    ) -> Payload {
        // The LogData and its gzip are scratch: only the event leaves this thread.
        let mut json = crate::scratch::take();
        logdata_json(
            &self.opts.account,
            log_group,
            &log_stream,
            &filter,
            events,
            &mut json,
        );
        let logdata_bytes = json.len();
        let mut gz = crate::scratch::take();
        gz.reserve(json.len() / 4);
        let mut encoder = GzEncoder::new(gz, Compression::new(self.opts.compression));
        // Writing to a Vec cannot fail.
        let _ = encoder.write_all(&json);
        let gz = encoder.finish().unwrap_or_default();
        crate::scratch::give(json);
        const HEAD: &[u8] = br#"{"awslogs":{"data":""#;
        let mut event = Vec::with_capacity(HEAD.len() + gz.len().div_ceil(3) * 4 + 3);
        event.extend_from_slice(HEAD);
        crate::b64::append(&mut event, &gz);
        crate::scratch::give(gz);
        event.extend_from_slice(b"\"}}");
        Payload {
            log_group: log_group.to_string(),
            log_stream,
            subscription_filter: filter,
            logged_ms: events.last().map_or(0, |e| e.timestamp),
            request_ids: Vec::new(),
            static_request_ids: Vec::new(),
            expected: Vec::new(),
            split_request_ids: Vec::new(),
            log_events: events.len(),
            logdata_bytes,
            event,
        }
    }

    /// Where a stage's execution logs go: (log group, log stream).
    fn execution_target(&self, stage_index: usize, stream_index: usize) -> (String, String) {
        let stage = &STAGES[stage_index];
        let log_group = if self.opts.logs == LogKind::Delivery {
            delivery_log_group(stage.api_id, stage.stage)
        } else {
            format!(
                "API-Gateway-Execution-Logs_{}/{}",
                stage.api_id, stage.stage
            )
        };
        (log_group, self.streams[stage_index][stream_index].clone())
    }

    /// One payload of REST execution logs: requests of one stage's log stream (whole, or with
    /// `split_fraction` some cut, their first part here and the rest in a later payload).
    /// A REST stage (by the stages' weights) and one of its log streams.
    fn pick_execution_stream(&mut self) -> (usize, usize) {
        let rest: Vec<(usize, u32)> = self
            .stage_weights
            .iter()
            .copied()
            .filter(|(i, _)| STAGES[*i].kind == crate::transaction::ApiKind::Rest)
            .collect();
        let stage_index = *pick(&mut self.rng, &rest);
        let stream_index = self.rng.random_range(0..self.streams[stage_index].len());
        (stage_index, stream_index)
    }

    fn next_execution_payload(&mut self) -> Option<Payload> {
        let remaining = self.remaining();
        if remaining == 0 {
            // What is left of split requests, one payload per stream.
            let ((stage_index, stream_index), events) = self.tails.pop_first()?;
            let (log_group, log_stream) = self.execution_target(stage_index, stream_index);
            let filter = STAGES[stage_index].filter_name();
            return Some(self.seal(&log_group, log_stream, filter, &events));
        }
        let (stage_index, stream_index) = self.pick_execution_stream();
        let stage = &STAGES[stage_index];
        let (log_group, log_stream) = self.execution_target(stage_index, stream_index);
        let delivery = self.opts.logs == LogKind::Delivery;
        let wanted = if self.rng.random_bool(0.2) {
            self.rng.random_range(1..=5)
        } else {
            self.rng.random_range(20..=150)
        };
        let count = (wanted as u64).min(remaining) as usize;
        let wall_ms = chrono::Utc::now().timestamp_millis();
        // The rest of requests split earlier in this stream comes first.
        let mut events: Vec<LogEventOut> = self
            .tails
            .remove(&(stage_index, stream_index))
            .unwrap_or_default();
        let mut request_ids = Vec::with_capacity(count);
        let mut expected = Vec::with_capacity(count);
        let mut static_request_ids = Vec::new();
        let mut split_request_ids = Vec::new();
        let mut size = 200
            + log_group.len()
            + log_stream.len()
            + events
                .iter()
                .map(|e| json_event_size(&e.message))
                .sum::<usize>();
        while request_ids.len() < count {
            let DrawnRequest {
                req,
                is_static,
                expected: drawn,
                events: new_events,
                tail,
                bytes: added,
            } = self.draw_execution_request(stage_index, wall_ms, delivery);
            // Whole requests only: one that does not fit starts the next payload (its draw is
            // discarded; the sequence number is reused, so ids stay unique and the output
            // deterministic).
            if !events.is_empty()
                && (size + added > self.opts.max_batch_bytes
                    || events.len() + new_events.len() > MAX_BATCH_EVENTS)
            {
                break;
            }
            size += added;
            events.extend(new_events);
            if let Some(tail) = tail {
                split_request_ids.push(req.request_id.clone());
                self.tails
                    .entry((stage_index, stream_index))
                    .or_default()
                    .extend(tail);
            }
            if is_static {
                static_request_ids.push(req.request_id.clone());
            }
            request_ids.push(req.request_id);
            expected.push(drawn);
            self.produced += 1;
        }
        let filter = stage.filter_name();
        let mut p = self.seal(&log_group, log_stream, filter, &events);
        p.request_ids = request_ids;
        p.expected = expected;
        p.static_request_ids = static_request_ids;
        p.split_request_ids = split_request_ids;
        Some(p)
    }

    /// Draw the next request of stage `stage_index` and render it as execution-log events,
    /// maybe cut at a random line (the cut-off part is `tail`); `bytes` is the size of what stays.
    fn draw_execution_request(
        &mut self,
        stage_index: usize,
        wall_ms: i64,
        delivery: bool,
    ) -> DrawnRequest {
        let stage = &STAGES[stage_index];
        let seq = self.produced;
        let timestamp = match self.opts.start_ms {
            Some(start) => start + (seq as i64) * 3,
            None => wall_ms,
        };
        let (req, is_static) = self.request(stage, seq, timestamp);
        let mut r = execution::render(
            &mut self.rng,
            stage,
            &self.opts.region,
            &self.opts.account,
            &req,
            is_static,
            delivery,
        );
        if !delivery {
            r.mark_cuts();
        }
        let start = match self.opts.start_ms {
            Some(_) => req.time_ms,
            None => wall_ms,
        };
        let mut events = Vec::with_capacity(r.lines.len());
        let mut bytes = 0;
        for (n, (offset, text)) in r.lines.iter().enumerate() {
            let time = start + offset;
            let message = if delivery {
                execution::delivery_message(stage, &self.opts.region, &req, time, text)
            } else {
                execution::standard_message(&req.request_id, text)
            };
            bytes += json_event_size(&message);
            events.push(LogEventOut {
                id: event_id(time, seq * 64 + n as u64),
                timestamp: time,
                message,
            });
        }
        // Cut at a random line: the rest waits for this stream's next payload.
        let tail = (self.opts.split_fraction > 0.0
            && events.len() >= 2
            && self.rng.random_bool(self.opts.split_fraction.min(1.0)))
        .then(|| {
            let at = self.rng.random_range(1..events.len());
            events.split_off(at)
        });
        if let Some(tail) = &tail {
            bytes -= tail
                .iter()
                .map(|e| json_event_size(&e.message))
                .sum::<usize>();
        }
        DrawnRequest {
            req,
            is_static,
            expected: r.expected,
            events,
            tail,
            bytes,
        }
    }

    /// A request whose response was logged at `timestamp`.
    fn request(&mut self, stage: &Stage, seq: u64, timestamp: i64) -> (Request, bool) {
        let rng = &mut self.rng;
        let request_id = match stage.kind {
            crate::transaction::ApiKind::Rest => uuid_id(rng, seq),
            _ => seq_b64_id(rng, seq),
        };
        let extended_request_id = b64_id(rng, 11);
        let (method, path, route, is_static, websocket) = if stage.routes.is_empty() {
            let (event_type, route_key) = *pick(rng, WEBSOCKET_EVENTS_W);
            let connection = self.connections[rng.random_range(0..self.connections.len())].clone();
            (
                "-",
                "-".to_string(),
                "-",
                false,
                Some((event_type, route_key, connection)),
            )
        } else {
            let route: &Route = pick_route(rng, stage.routes);
            let method = route.methods[rng.random_range(0..route.methods.len())];
            (
                method,
                fill_path(rng, route.template),
                route.template,
                route.is_static,
                None,
            )
        };
        let mut status = *pick(rng, STATUSES_W);
        if websocket.is_some() && status == 304 {
            status = 200;
        }
        let response_length = match (status, method) {
            (204 | 304, _) | (_, "HEAD") => Some(0),
            _ if rng.random_bool(0.03) => None,
            _ => Some(rng.random_range(2..=60_000)),
        };
        // Latency spikes: a few slow requests in every batch.
        let latency_ms: u64 = if rng.random_bool(0.01) {
            rng.random_range(1_000..=29_000)
        } else {
            rng.random_range(3..=400)
        };
        let integration_latency_ms = match status {
            401 | 403 | 429 => None,
            _ => Some(latency_ms.saturating_sub(rng.random_range(1..=5)).max(1)),
        };
        let ip = client_ip(rng);
        let user_agent = *pick(rng, USER_AGENTS_W);
        let principal_id = rng
            .random_bool(0.2)
            .then(|| format!("user-{}", rng.random_range(1..5000)));
        let api_key_id = (stage.kind == crate::transaction::ApiKind::Rest && rng.random_bool(0.3))
            .then(|| alnum(rng, 10));
        let req = Request {
            request_id,
            extended_request_id,
            time_ms: timestamp - latency_ms as i64,
            method,
            path,
            route,
            status,
            response_length,
            latency_ms,
            integration_latency_ms,
            ip,
            user_agent,
            principal_id,
            api_key_id,
            websocket,
        };
        (req, is_static)
    }
}

impl Iterator for Generator {
    type Item = Payload;
    fn next(&mut self) -> Option<Payload> {
        self.next_payload()
    }
}

// Weighted tables as (value, weight) slices for `pick`.
const STATUSES_W: &[(u16, u32)] = STATUSES;
const USER_AGENTS_W: &[(&str, u32)] = USER_AGENTS;
const WEBSOCKET_EVENTS_W: &[((&str, &str), u32)] = &[
    (
        (WEBSOCKET_EVENTS[0].0, WEBSOCKET_EVENTS[0].1),
        WEBSOCKET_EVENTS[0].2,
    ),
    (
        (WEBSOCKET_EVENTS[1].0, WEBSOCKET_EVENTS[1].1),
        WEBSOCKET_EVENTS[1].2,
    ),
    (
        (WEBSOCKET_EVENTS[2].0, WEBSOCKET_EVENTS[2].1),
        WEBSOCKET_EVENTS[2].2,
    ),
    (
        (WEBSOCKET_EVENTS[3].0, WEBSOCKET_EVENTS[3].1),
        WEBSOCKET_EVENTS[3].2,
    ),
];

/// Bytes one event takes in LogData JSON: `{"id":"<56 digits>","timestamp":<13 digits>,
/// "message":"..."},` around the message, with its escapes (control characters counted as `\uXXXX`).
fn json_event_size(message: &str) -> usize {
    let escapes: usize = message
        .bytes()
        .map(|b| match b {
            b'"' | b'\\' => 1,
            0..=0x1f => 5,
            _ => 0,
        })
        .sum();
    message.len() + escapes + 110
}

/// The log group `enable --large-bodies` delivers a stage's 1 MB execution logs to.
pub fn delivery_log_group(api_id: &str, stage: &str) -> String {
    format!("/aws/vendedlogs/apigw-stream/execution/{api_id}/{stage}")
}

fn pick<'a, T>(rng: &mut StdRng, items: &'a [(T, u32)]) -> &'a T {
    let total: u32 = items.iter().map(|(_, w)| *w).sum();
    let mut at = rng.random_range(0..total.max(1));
    for (item, weight) in items {
        if at < *weight {
            return item;
        }
        at -= weight;
    }
    &items[items.len() - 1].0
}

fn pick_route<'a>(rng: &mut StdRng, routes: &'a [Route]) -> &'a Route {
    let total: u32 = routes.iter().map(|r| r.weight).sum();
    let mut at = rng.random_range(0..total.max(1));
    for route in routes {
        if at < route.weight {
            return route;
        }
        at -= route.weight;
    }
    &routes[routes.len() - 1]
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn alnum(rng: &mut StdRng, n: usize) -> String {
    (0..n)
        .map(|_| ALNUM[rng.random_range(0..ALNUM.len())] as char)
        .collect()
}

fn hex(rng: &mut StdRng, bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rng.fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// 16-character ids like API Gateway's HTTP request ids and extended ids (`GQIVriFLIAMEMsA=`).
fn b64_id(rng: &mut StdRng, bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rng.fill_bytes(&mut buf);
    base64::engine::general_purpose::STANDARD.encode(buf)
}

/// An HTTP-style id that embeds the sequence number, so ids never repeat within a run.
fn seq_b64_id(rng: &mut StdRng, seq: u64) -> String {
    let mut buf = [0u8; 11];
    rng.fill_bytes(&mut buf[..5]);
    buf[5..].copy_from_slice(&seq.to_be_bytes()[2..]);
    base64::engine::general_purpose::STANDARD.encode(buf)
}

/// A UUID v4 (REST request ids) whose last 48 bits are the sequence number: unique within a run.
fn uuid_id(rng: &mut StdRng, seq: u64) -> String {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    bytes[10..].copy_from_slice(&seq.to_be_bytes()[2..]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// CloudWatch event ids are 56-digit decimal strings.
fn event_id(timestamp: i64, seq: u64) -> String {
    format!(
        "{:020}{:020}{:016}",
        timestamp.max(0),
        seq,
        seq.wrapping_mul(2_654_435_761) % 10u64.pow(16)
    )
}

fn fill_path(rng: &mut StdRng, template: &str) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let name = &rest[open + 1..open + close];
        match name {
            "hash" => out.push_str(&hex(rng, 4)),
            "sku" => {
                out.push_str("SKU-");
                out.push_str(&alnum(rng, 6).to_uppercase());
            }
            "cartId" => out.push_str(
                &uuid::Builder::from_random_bytes(rng.random())
                    .into_uuid()
                    .to_string(),
            ),
            "orderId" => {
                out.push_str("ord_");
                out.push_str(&alnum(rng, 12));
            }
            "mediaId" => out.push_str(&alnum(rng, 11)),
            _ => out.push_str(&rng.random_range(1..100_000u32).to_string()),
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

fn client_ip(rng: &mut StdRng) -> String {
    if rng.random_bool(0.3) {
        return HOT_IPS[rng.random_range(0..HOT_IPS.len())].to_string();
    }
    if rng.random_bool(0.2) {
        let a: u16 = rng.random();
        let b: u16 = rng.random();
        let c: u16 = rng.random();
        return format!("2001:db8:{a:x}:{b:x}::{c:x}");
    }
    format!(
        "{}.{}.{}.{}",
        rng.random_range(1..224u8),
        rng.random::<u8>(),
        rng.random::<u8>(),
        rng.random_range(1..255u8)
    )
}

/// One request drawn and rendered as execution-log events (see
/// `Generator::draw_execution_request`).
struct DrawnRequest {
    req: Request,
    is_static: bool,
    expected: Expected,
    events: Vec<LogEventOut>,
    tail: Option<Vec<LogEventOut>>,
    bytes: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::io::Read;

    fn small(requests: u64, seed: u64) -> GenerateOptions {
        GenerateOptions {
            requests,
            seed,
            ..GenerateOptions::default()
        }
    }

    fn unpack(p: &Payload) -> serde_json::Value {
        let event: serde_json::Value = serde_json::from_slice(&p.event).unwrap();
        let data = event["awslogs"]["data"].as_str().unwrap();
        let gz = base64::engine::general_purpose::STANDARD
            .decode(data)
            .unwrap();
        let mut json = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut json)
            .unwrap();
        assert_eq!(json.len(), p.logdata_bytes);
        serde_json::from_slice(&json).unwrap()
    }

    #[test]
    fn logdata_is_cloudwatchs_shape_with_every_string_escaped() {
        let events = [
            LogEventOut {
                id: "1".into(),
                timestamp: 1_700_000_000_000,
                message: r#"{"requestId":"a\"b","ua":"x	y é"}"#.into(),
            },
            LogEventOut {
                id: "2".into(),
                timestamp: -1,
                message: "\u{1}\n".into(),
            },
        ];
        let mut json = Vec::new();
        logdata_json("1234", "/g\"", "s", "f", &events, &mut json);
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "messageType": "DATA_MESSAGE",
                "owner": "1234",
                "logGroup": "/g\"",
                "logStream": "s",
                "subscriptionFilters": ["f"],
                "logEvents": [
                    {"id": "1", "timestamp": 1_700_000_000_000_i64, "message": events[0].message},
                    {"id": "2", "timestamp": -1, "message": "\u{1}\n"},
                ],
            })
        );
        // A reused buffer is written after what it holds; seal gives it empty.
        let mut empty = Vec::new();
        logdata_json("o", "g", "s", "f", &[], &mut empty);
        assert!(empty.ends_with(br#""logEvents":[]}"#));
    }

    #[test]
    fn produces_exactly_n_requests_with_unique_ids() {
        let payloads: Vec<Payload> = Generator::new(small(5_000, 7)).collect();
        let total: usize = payloads.iter().map(Payload::events).sum();
        assert_eq!(total, 5_000);
        let ids: HashSet<&String> = payloads.iter().flat_map(|p| &p.request_ids).collect();
        assert_eq!(ids.len(), 5_000);
    }

    #[test]
    fn same_seed_same_bytes_other_seed_differs() {
        let a: Vec<Vec<u8>> = Generator::new(small(2_000, 42)).map(|p| p.event).collect();
        let b: Vec<Vec<u8>> = Generator::new(small(2_000, 42)).map(|p| p.event).collect();
        let c: Vec<Vec<u8>> = Generator::new(small(2_000, 43)).map(|p| p.event).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn payloads_are_real_subscription_events_one_stream_each() {
        for p in Generator::new(small(20_000, 3)) {
            let logdata = unpack(&p);
            assert_eq!(logdata["messageType"], "DATA_MESSAGE");
            assert_eq!(logdata["logGroup"], p.log_group.as_str());
            assert_eq!(logdata["logStream"], p.log_stream.as_str());
            let filter = logdata["subscriptionFilters"][0].as_str().unwrap();
            assert!(filter.starts_with("apigw-stream/"), "{filter}");
            assert_eq!(filter.split('/').count(), 4, "{filter}");
            let events = logdata["logEvents"].as_array().unwrap();
            assert_eq!(events.len(), p.events());
            assert!(
                p.logdata_bytes <= DEFAULT_BATCH_BYTES,
                "{}",
                p.logdata_bytes
            );
            for (e, id) in events.iter().zip(&p.request_ids) {
                assert_eq!(e["id"].as_str().unwrap().len(), 56);
                assert!(e["message"].as_str().unwrap().contains(id.as_str()));
            }
        }
    }

    #[test]
    fn the_mix_covers_every_format_kind_and_oddity() {
        let mut formats = HashSet::new();
        let mut kinds = HashSet::new();
        let (mut v6, mut statics, mut unicode, mut quoted, mut errors) = (0, 0, 0, 0, 0);
        let opts = GenerateOptions {
            max_batch_bytes: 100_000,
            ..small(30_000, 11)
        };
        for p in Generator::new(opts) {
            statics += p.static_request_ids.len();
            let logdata = unpack(&p);
            let filter = logdata["subscriptionFilters"][0]
                .as_str()
                .unwrap()
                .to_string();
            kinds.insert(filter.split('/').nth(1).unwrap().to_string());
            for e in logdata["logEvents"].as_array().unwrap() {
                let m = e["message"].as_str().unwrap();
                let format = if m.starts_with("<request") {
                    "xml"
                } else if m.starts_with("{\"requestId\"") && m.contains("eventType") {
                    "websocket"
                } else if m.starts_with("{\"requestId\"") {
                    "recommended"
                } else if m.starts_with("{ ") {
                    "console-json"
                } else if m.contains(" - - [") {
                    "clf"
                } else {
                    "csv"
                };
                formats.insert(format);
                v6 += usize::from(m.contains("2001:db8:"));
                unicode += usize::from(m.contains("日本語"));
                quoted += usize::from(m.contains("\"quoted\""));
                errors += usize::from(m.contains("\"status\":\"5") || m.contains(" 503 "));
            }
        }
        assert_eq!(formats.len(), 6, "{formats:?}");
        assert_eq!(
            kinds,
            ["rest", "http", "websocket"]
                .iter()
                .map(|s| s.to_string())
                .collect()
        );
        assert!(v6 > 100 && statics > 100 && unicode > 10 && quoted > 10 && errors > 10);
    }

    #[test]
    fn small_batch_bound_is_respected() {
        let opts = GenerateOptions {
            max_batch_bytes: 20_000,
            ..small(3_000, 5)
        };
        for p in Generator::new(opts) {
            assert!(p.logdata_bytes <= 20_000, "{}", p.logdata_bytes);
        }
    }

    #[test]
    fn wall_clock_mode_stamps_now() {
        let before = chrono::Utc::now().timestamp_millis();
        let opts = GenerateOptions {
            start_ms: None,
            ..small(100, 1)
        };
        let p = Generator::new(opts).next().unwrap();
        assert!(p.logged_ms >= before && p.logged_ms <= before + 60_000);
    }
}
