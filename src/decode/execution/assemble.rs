//! Assembly within one payload: execution-log lines grouped by request id, in order, each group
//! made into one canonical record.
//!
//! A request is complete at `Method completed with status`; lines of the same request that come
//! after it (integration request id, X-Ray id) still attach. A request whose completion line is
//! not in the payload becomes a record flagged `partial` that carries its raw lines
//! (`execution.lines`), so that a later stage can join it with the rest.
//!
//! [`assemble_split`] serves stitching ([`crate::stitch`]): only requests seen whole (their
//! `Extended Request Id` line and their completion line) become records; the rest are returned as
//! [`Pending`] lines to meet their other part, and lines that only trail a completed request
//! (integration request id, X-Ray id) are counted and dropped, since that request was already
//! delivered whole.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::Deserialize;

use super::line::{self, Event, Line};
use super::map::{self, Names};
use crate::decode::logs::LogEvent;
use crate::decode::normalize::{exec_log_group, parse_execute_api_domain, Context, FilterName};
use crate::transaction::{
    ApiKind, Body, BodyEncoding, Execution, ExecutionLine, Headers, Source, SourceFormat,
    Transaction,
};

/// An execution-log event recognised in a payload, before grouping.
#[derive(Debug, Clone)]
pub struct Item<'a> {
    /// Index of the log event in the payload.
    pub event: usize,
    /// The line text (the message itself, or the text a delivered JSON event carries).
    pub text: Cow<'a, str>,
    /// A request id given beside the text (delivered JSON events).
    pub request_id: Option<String>,
    /// A time given beside the text (delivered JSON events).
    pub time_ms: Option<i64>,
    /// The API context a delivered event names beside its line (api id, stage, resource path,
    /// method): preferred to what the log group's name says.
    pub api: Option<Box<super::delivery::DeliveredApi>>,
    /// A line without a request id may join the request before it (the standard format without
    /// the `(id)` prefix, and our delivery's records). False for other JSON events: one that names
    /// no request is an orphan, never a neighbour's line.
    pub carries: bool,
}

/// Counts of one assembly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Lines that joined a request.
    pub lines: u64,
    /// Of those, lines of a kind the parser does not know.
    pub other: u64,
    /// Lines with no request to join (no prefix, and no request before them).
    pub orphans: u64,
    /// Requests without their completion line in the payload.
    pub incomplete: u64,
    /// With stitching: requests not seen whole, returned as [`Pending`] fragments.
    pub fragments: u64,
    /// With stitching: groups of only trailing lines (integration request id, X-Ray id) of a
    /// request already delivered whole, dropped.
    pub trailers: u64,
}

/// The lines of a request the payload did not hold whole, for the stitch stage: each line's text
/// (a delivery event's text, not its JSON) with the time the event carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub request_id: String,
    pub lines: Vec<ExecutionLine>,
    /// The API context a delivery named beside the lines.
    pub api: Option<super::delivery::DeliveredApi>,
}

/// Where the lines of one request stand: the one rule for "this request is whole", shared by the
/// decode stage (a payload's groups) and the stitch stage (a request's parts put together).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Shape {
    /// Holds the `Extended Request Id` line, the first line API Gateway writes for a request.
    pub started: bool,
    /// Holds `Method completed with status`.
    pub complete: bool,
    /// Its first line is one a request starts with (older logs have no extended id).
    pub opens: bool,
}

impl Shape {
    /// The shape of a request's lines, in order.
    pub fn of<'a>(events: impl IntoIterator<Item = &'a Event<'a>>) -> Shape {
        let mut s = Shape::default();
        for (n, event) in events.into_iter().enumerate() {
            if n == 0 {
                s.opens = rank(event) <= 5;
            }
            s.note(event);
        }
        s
    }

    fn note(&mut self, event: &Event<'_>) {
        match event {
            Event::ExtendedRequestId(_) => self.started = true,
            Event::MethodCompleted { .. } => self.complete = true,
            _ => {}
        }
    }

    /// Seen from its first line to its completion line.
    pub fn whole(self) -> bool {
        self.started && self.complete
    }

    /// Good enough to deliver unflagged once the stitch hold is over: whole, or (logs without
    /// an extended id) opening and completing.
    pub fn sound(self) -> bool {
        self.complete && (self.started || self.opens)
    }
}

/// Where a line kind comes in a request (orders parts whose first lines share a time).
pub fn rank(event: &Event<'_>) -> u8 {
    match event {
        Event::ExtendedRequestId(_) => 0,
        Event::AuthorizerStarted => 1,
        Event::UsagePlanVerifying { .. } => 2,
        Event::ApiKeyAuthorized { .. } => 3,
        Event::UsagePlanSucceeded => 4,
        Event::ExecutionStarted { .. } => 5,
        Event::HttpMethod { .. } => 6,
        Event::MethodCompleted { .. } => 8,
        Event::IntegrationRequestId(_) | Event::XrayTraceId(_) => 9,
        _ => 7,
    }
}

/// What a record needs of one line besides its parse: where the line came from and when.
#[derive(Debug, Clone, Copy)]
pub struct LineMeta<'b> {
    /// Its log event's id.
    pub event_id: &'b str,
    /// The line's own time (a delivery names it), else its log event's.
    pub time_ms: i64,
    /// Its log event's time and message, kept in the record of a request not seen whole.
    pub event_ms: i64,
    pub event_message: &'b str,
    /// The line's text (a delivery event's text, not its JSON).
    pub text: &'b str,
    /// Its event was decoded lossily (bytes that were not UTF-8, lone surrogates).
    pub lossy: bool,
    /// The API context a delivery named beside the line.
    pub api: Option<&'b super::delivery::DeliveredApi>,
}

impl<'b> LineMeta<'b> {
    fn of(item: &'b Item<'_>, event: &'b LogEvent) -> Self {
        LineMeta {
            event_id: &event.id,
            time_ms: item.time_ms.unwrap_or(event.timestamp),
            event_ms: event.timestamp,
            event_message: &event.message,
            text: &item.text,
            lossy: event.lossy,
            api: item.api.as_deref(),
        }
    }

    /// A line that travelled in a stitch fragment (its text is its message).
    pub fn of_line(l: &'b ExecutionLine, api: Option<&'b super::delivery::DeliveredApi>) -> Self {
        LineMeta {
            event_id: &l.event_id,
            time_ms: l.timestamp,
            event_ms: l.timestamp,
            event_message: &l.message,
            text: &l.message,
            lossy: false,
            api,
        }
    }

    /// The line as a record or a fragment keeps it: its text at its own time.
    fn pending(&self) -> ExecutionLine {
        ExecutionLine {
            event_id: self.event_id.to_string(),
            timestamp: self.time_ms,
            message: self.text.to_string(),
        }
    }
}

struct Group<'b> {
    id: &'b str,
    lines: Vec<(LineMeta<'b>, Line<'b>)>,
    shape: Shape,
    /// Every line only trails a completed request (integration request id, X-Ray id).
    trailers_only: bool,
}

/// The record of one request whose lines are already parsed (the stitch stage's, which parses
/// each line of a request's parts once).
pub fn build_parsed<'b>(
    request_id: &'b str,
    lines: Vec<(LineMeta<'b>, Line<'b>)>,
    ctx: &Context,
    max_body_bytes: usize,
) -> Option<Transaction> {
    if !line::usable_request_id(request_id) || lines.is_empty() {
        return None;
    }
    let g = Group {
        id: request_id,
        shape: Shape::of(lines.iter().map(|(_, l)| &l.event)),
        lines,
        trailers_only: false,
    };
    Some(build(&g, ctx, max_body_bytes))
}

/// Group `items` by request and build one record per request, in order of first appearance.
pub fn assemble(
    items: &[Item<'_>],
    events: &[LogEvent],
    ctx: &Context,
    max_body_bytes: usize,
) -> (Vec<Transaction>, Counts) {
    let mut counts = Counts::default();
    let groups = group(items, events, &mut counts);
    let mut out = Vec::with_capacity(groups.len());
    for g in &groups {
        if !g.shape.complete {
            counts.incomplete += 1;
        }
        out.push(build(g, ctx, max_body_bytes));
    }
    (out, counts)
}

/// As [`assemble`], for stitching: whole requests become records; a request not seen whole is
/// returned as [`Pending`] lines; trailing lines alone are counted (`trailers`) and dropped.
/// `all_pending`: every request is returned as lines, whole or not (joined mode, where even a
/// whole request waits for its access-log record).
pub fn assemble_split(
    items: &[Item<'_>],
    events: &[LogEvent],
    ctx: &Context,
    max_body_bytes: usize,
    all_pending: bool,
) -> (Vec<Transaction>, Vec<Pending>, Counts) {
    let mut counts = Counts::default();
    let groups = group(items, events, &mut counts);
    let mut out = Vec::with_capacity(groups.len());
    let mut pending = Vec::new();
    for g in &groups {
        if g.shape.whole() && !all_pending {
            out.push(build(g, ctx, max_body_bytes));
        } else if g.trailers_only {
            counts.trailers += 1;
        } else {
            counts.fragments += 1;
            pending.push(Pending {
                request_id: g.id.to_string(),
                lines: g.lines.iter().map(|(m, _)| m.pending()).collect(),
                api: g.lines.iter().find_map(|(m, _)| m.api.cloned()),
            });
        }
    }
    (out, pending, counts)
}

/// Group items by the request each names. A line names its request by its `(id)` prefix, by the
/// request id its delivered event carries, or in its text (`Starting execution for request: …`).
/// A line that names none inherits a request only inside a run of the 2016 format (lines without
/// a prefix, one after the other, after the line that named the request); anything else without a
/// usable request id is an orphan (counted), never attached to a neighbour: a delivered event or a
/// line that does not say whose it is must not rewrite another caller's transaction.
fn group<'b>(items: &'b [Item<'_>], events: &'b [LogEvent], counts: &mut Counts) -> Vec<Group<'b>> {
    let mut groups: Vec<Group<'b>> = Vec::new();
    let mut index: HashMap<&'b str, usize> = HashMap::new();
    // The request of the 2016-format run the previous item belonged to.
    let mut run: Option<&'b str> = None;
    for item in items {
        let line = line::parse(&item.text);
        // A plain line (its event's message is the text), not a delivered JSON event.
        let plain = events
            .get(item.event)
            .is_some_and(|e| e.message.as_str() == item.text.as_ref());
        let named_in_text = match line.event {
            Event::ExecutionStarted { request_id }
            | Event::UsagePlanVerifying { request_id, .. }
                if line::usable_request_id(request_id) =>
            {
                Some(request_id)
            }
            _ => None,
        };
        let given = item
            .request_id
            .as_deref()
            .filter(|id| line::usable_request_id(id));
        // One of our delivery's records (not any JSON event): it may continue a request too.
        let delivered = item.carries && !plain;
        let unprefixed = line.request_id.is_none() && given.is_none() && (plain || delivered);
        let id = line
            .request_id
            .or(given)
            .or(named_in_text)
            // The 2016 format has no prefix: a line belongs to the request its run names.
            .or(if unprefixed { run } else { None });
        // Our delivery's records (JSON that names its API beside the line) carry their request
        // to the unprefixed records after them, while that request is open (not completed).
        let open = !matches!(line.event, Event::MethodCompleted { .. });
        run = if (unprefixed && !delivered) || (delivered && open) {
            id
        } else {
            None
        };
        let Some(id) = id else {
            counts.orphans += 1;
            continue;
        };
        // Lines of one request are usually contiguous: try the last group first.
        let at = match groups.last() {
            Some(g) if g.id == id => groups.len() - 1,
            _ => *index.entry(id).or_insert_with(|| {
                groups.push(Group {
                    id,
                    lines: Vec::new(),
                    shape: Shape::default(),
                    trailers_only: true,
                });
                groups.len() - 1
            }),
        };
        counts.lines += 1;
        if !line.event.is_known() {
            counts.other += 1;
        }
        let g = &mut groups[at];
        g.shape.note(&line.event);
        if !matches!(
            line.event,
            Event::IntegrationRequestId(_) | Event::XrayTraceId(_)
        ) {
            g.trailers_only = false;
        }
        let Some(event) = events.get(item.event) else {
            counts.orphans += 1;
            continue;
        };
        groups[at].lines.push((LineMeta::of(item, event), line));
    }
    groups
}

/// The parts of a Lambda proxy event we use.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProxyEvent {
    #[serde(default)]
    resource: Option<String>,
    #[serde(default)]
    request_context: Option<ProxyContext>,
}

#[derive(Deserialize)]
struct ProxyContext {
    #[serde(default)]
    identity: Option<ProxyIdentity>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProxyIdentity {
    #[serde(default)]
    source_ip: Option<String>,
}

/// What the lines of one request said, before it becomes a record.
#[derive(Default)]
struct Seen<'b> {
    method: Option<&'b str>,
    path: Option<&'b str>,
    route: Option<&'b str>,
    api_stage: Option<&'b str>,
    query: Option<(&'b str, bool)>,
    request_headers: Option<(&'b str, bool)>,
    request_body: Option<(&'b str, bool)>,
    proxy_event: Option<(&'b str, bool)>,
    endpoint_headers: Option<(&'b str, bool)>,
    endpoint_body: Option<(&'b str, bool)>,
    response_headers: Option<(&'b str, bool)>,
    response_body: Option<(&'b str, bool)>,
    status: Option<u16>,
    integration_latency_ms: Option<u64>,
    extended_request_id: Option<&'b str>,
    error: Option<&'b str>,
    denied: bool,
    throttled: bool,
}

fn read<'b>(lines: &[(LineMeta<'b>, Line<'b>)]) -> Seen<'b> {
    let mut s = Seen::default();
    // Between `Starting authorizer` and its outcome, endpoint lines are the authorizer's call.
    let mut in_authorizer = false;
    for (_, l) in lines {
        let cut = l.truncated;
        match l.event {
            Event::ExtendedRequestId(v) => s.extended_request_id = Some(v),
            Event::AuthorizerStarted => in_authorizer = true,
            Event::AuthorizerSucceeded => in_authorizer = false,
            Event::AuthorizerDenied => {
                in_authorizer = false;
                s.denied = true;
            }
            Event::UsagePlanVerifying { api_stage, .. } => s.api_stage = api_stage,
            Event::ApiKeyAuthorized { method, route } => {
                s.route = Some(route);
                s.method = s.method.or(Some(method));
            }
            Event::HttpMethod { method, path } => {
                s.method = Some(method);
                s.path = Some(path);
            }
            Event::MethodRequestQuery(v) => s.query = Some((v, cut)),
            Event::MethodRequestHeaders(v) => s.request_headers = Some((v, cut)),
            Event::MethodRequestBody(v) => s.request_body = Some((v, cut)),
            Event::EndpointRequestBody(v) if !in_authorizer => s.proxy_event = Some((v, cut)),
            Event::EndpointRequestBody(v) => {
                // A TOKEN/REQUEST authorizer's event names the method and path in `methodArn`:
                // all a denied request tells about itself.
                if let Some((method, path)) = method_arn(v) {
                    s.method = s.method.or(Some(method));
                    s.path = s.path.or(Some(path));
                }
            }
            Event::ReceivedResponse { latency_ms, .. } if !in_authorizer => {
                s.integration_latency_ms = latency_ms;
            }
            Event::EndpointResponseHeaders(v) if !in_authorizer => {
                s.endpoint_headers = Some((v, cut))
            }
            Event::EndpointResponseBody(v) if !in_authorizer => s.endpoint_body = Some((v, cut)),
            Event::MethodResponseBody(v) => s.response_body = Some((v, cut)),
            Event::MethodResponseHeaders(v) => s.response_headers = Some((v, cut)),
            Event::ExecutionFailed(v) | Event::LambdaFailed(v) => s.error = Some(v),
            Event::Throttled(v) => {
                s.throttled = true;
                s.error = Some(v);
                // `…, HttpMethod POST. Limit: …`
                if let Some((_, rest)) = v.split_once(" HttpMethod ") {
                    let m = rest.split(['.', ',', ' ']).next().unwrap_or("");
                    if !m.is_empty() {
                        s.method = s.method.or(Some(m));
                    }
                }
            }
            Event::MethodCompleted { status } => s.status = status.or(s.status),
            _ => {}
        }
    }
    s
}

fn build(g: &Group<'_>, ctx: &Context, max_body_bytes: usize) -> Transaction {
    let (Some((first, _)), Some((last, _))) = (g.lines.first(), g.lines.last()) else {
        // A group always holds a line; an empty one has nothing to say.
        return Transaction::new(g.id.to_string(), 0, execution_source(ctx, ""));
    };
    let mut t = Transaction::new(
        g.id.to_string(),
        first.time_ms,
        execution_source(ctx, first.event_id),
    );
    let s = read(&g.lines);
    let named = g.lines.iter().find_map(|(m, _)| m.api);
    set_api(&mut t, ctx, s.api_stage);
    apply_named(&mut t, named);
    let mut partial = fill_request(&mut t, &s, named, max_body_bytes);
    partial |= fill_response(&mut t, &s, max_body_bytes);
    t.response.latency_ms = Some(last.time_ms.saturating_sub(first.time_ms).max(0) as u64);
    set_flags(&mut t, g, partial);
    t.execution = Some(execution_of(g, &s));
    t
}

fn execution_source(ctx: &Context, event_id: &str) -> Source {
    Source {
        log_group: ctx.log_group.to_string(),
        log_stream: ctx.log_stream.to_string(),
        event_id: event_id.to_string(),
        format: SourceFormat::Execution,
    }
}

/// What the delivery names beats what the log group's name suggests.
fn apply_named(t: &mut Transaction, named: Option<&super::delivery::DeliveredApi>) {
    let Some(api) = named else { return };
    if let Some(id) = &api.api_id {
        t.api.id = Some(id.clone());
    }
    if let Some(stage) = &api.stage {
        t.api.stage = Some(stage.clone());
    }
}

/// Method, path, query, headers, body, route, client and host; whether a part was cut.
fn fill_request(
    t: &mut Transaction,
    s: &Seen<'_>,
    named: Option<&super::delivery::DeliveredApi>,
    max_body_bytes: usize,
) -> bool {
    t.request.method = s
        .method
        .map(|m| m.trim().to_ascii_uppercase())
        .or_else(|| named.and_then(|a| a.http_method.clone()));
    if let Some(p) = s.path {
        match p.split_once('?') {
            Some((path, q)) => {
                t.request.path = Some(path.to_string());
                t.request.query = Some(q.to_string());
            }
            None => t.request.path = Some(p.to_string()),
        }
    }
    t.request.scheme = Some("https".to_string());
    let mut partial = false;
    if let Some((q, cut)) = s.query {
        let m = map::parse(q, Names::Param, cut);
        partial |= !m.complete;
        if !m.entries.is_empty() {
            t.request.query = Some(query_string(&m.entries));
        }
    }
    if let Some((h, cut)) = s.request_headers {
        partial |= headers_into(&mut t.request.headers, h, cut);
    }
    t.request.body = s
        .request_body
        .and_then(|(b, cut)| body(b, cut, max_body_bytes));
    fill_origin(t, s, named);
    partial
}

/// Route, client address and host: from the lines, the delivery, or the proxy event.
fn fill_origin(t: &mut Transaction, s: &Seen<'_>, named: Option<&super::delivery::DeliveredApi>) {
    let proxy = s
        .proxy_event
        .filter(|(b, cut)| !cut && b.starts_with('{'))
        .and_then(|(b, _)| serde_json::from_str::<ProxyEvent>(b).ok());
    t.request.route = s
        .route
        .map(str::to_string)
        .or_else(|| named.and_then(|a| a.resource_path.clone()))
        .or_else(|| proxy.as_ref().and_then(|p| p.resource.clone()))
        .or_else(|| s.proxy_event.and_then(|(b, _)| cut_resource(b)));
    t.request.client_ip = first_hop(&t.request.headers).or_else(|| {
        proxy
            .and_then(|p| p.request_context)
            .and_then(|c| c.identity)
            .and_then(|i| i.source_ip)
    });
    if let Some(host) = t.request.headers.get("host").and_then(|v| v.first()) {
        t.request.host = Some(host.clone());
        if let Some((_, region)) = parse_execute_api_domain(host) {
            t.api.region = Some(region.to_string());
            t.api.domain = Some(host.clone());
        }
    }
}

/// Status, latency, headers and body of the response; whether a part was cut.
fn fill_response(t: &mut Transaction, s: &Seen<'_>, max_body_bytes: usize) -> bool {
    let mut partial = false;
    match (s.response_headers, s.endpoint_headers) {
        (Some((h, cut)), _) | (None, Some((h, cut))) => {
            partial |= headers_into(&mut t.response.headers, h, cut);
        }
        (None, None) => {}
    }
    t.response.body = s
        .response_body
        .or(s.endpoint_body)
        .and_then(|(b, cut)| body(b, cut, max_body_bytes));
    t.response.status = s.status;
    t.response.integration_latency_ms = s.integration_latency_ms;
    partial
}

fn set_flags(t: &mut Transaction, g: &Group<'_>, partial: bool) {
    let captured = !t.request.headers.is_empty()
        || !t.response.headers.is_empty()
        || t.request.body.is_some()
        || t.response.body.is_some();
    t.flags.discovery_only = !captured;
    t.flags.body_truncated = [&t.request.body, &t.response.body]
        .into_iter()
        .flatten()
        .any(|b| b.truncated);
    // A line with bytes that were not UTF-8 (or JSON escapes of lone surrogates) was decoded
    // lossily: its record is flagged, and a body holding U+FFFD (the mark such decoding leaves,
    // also after a trip through the stitch queue) is flagged `body_lossy`.
    let lossy_line = g.lines.iter().any(|(m, _)| m.lossy);
    t.flags.body_lossy = [&t.request.body, &t.response.body]
        .into_iter()
        .flatten()
        .any(|b| b.data.contains('\u{fffd}'));
    t.flags.partial = partial || !g.shape.complete || lossy_line || t.flags.body_lossy;
}

/// The execution part; a request not seen whole keeps its lines (for a later stitch).
fn execution_of(g: &Group<'_>, s: &Seen<'_>) -> Execution {
    Execution {
        extended_request_id: s.extended_request_id.map(str::to_string),
        error: s.error.map(str::to_string),
        authorizer_denied: s.denied,
        throttled: s.throttled,
        complete: g.shape.complete,
        lines: if g.shape.complete {
            Vec::new()
        } else {
            g.lines
                .iter()
                .map(|(m, _)| ExecutionLine {
                    event_id: m.event_id.to_string(),
                    timestamp: m.event_ms,
                    message: m.event_message.to_string(),
                })
                .collect()
        },
        lines_truncated: false,
    }
}

/// Kind, id, stage, account and region from the payload (log group, filter name, owner) and the
/// usage-plan line's `API Stage: <api>/<stage>`.
fn set_api(t: &mut Transaction, ctx: &Context, api_stage: Option<&str>) {
    t.api.kind = ApiKind::Rest;
    let from_group = exec_log_group(ctx.log_group);
    let from_line = api_stage.and_then(|s| s.split_once('/'));
    let filter = ctx
        .subscription_filters
        .iter()
        .find_map(|n| FilterName::parse(n));
    t.api.id = from_group
        .map(|(id, _)| id)
        .or(from_line.map(|(id, _)| id))
        .or(filter.as_ref().and_then(|f| f.api_id))
        .map(str::to_string);
    t.api.stage = from_group
        .map(|(_, s)| s)
        .or(from_line.map(|(_, s)| s))
        .or(filter.as_ref().and_then(|f| f.stage))
        .map(str::to_string);
    let owner = ctx.owner;
    t.api.account =
        (owner.len() == 12 && owner.bytes().all(|b| b.is_ascii_digit())).then(|| owner.to_string());
    t.api.region = ctx.region.map(str::to_string);
}

/// Parse a header map into `headers` (lower-case names, values in order). True when it was cut.
fn headers_into(headers: &mut Headers, text: &str, cut: bool) -> bool {
    let m = map::parse(text, Names::Header, cut);
    for (k, v) in m.entries {
        headers
            .entry(k.to_ascii_lowercase())
            .or_default()
            .push(v.to_string());
    }
    !m.complete
}

/// `k=v&k2=v2`, with the characters that would change the query's structure escaped (API Gateway
/// logs the decoded values).
fn query_string(entries: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(entries.iter().map(|(k, v)| k.len() + v.len() + 2).sum());
    for (i, (k, v)) in entries.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        escape_query(k, &mut out, true);
        out.push('=');
        escape_query(v, &mut out, false);
    }
    out
}

fn escape_query(s: &str, out: &mut String, is_name: bool) {
    for c in s.chars() {
        let keep = c.is_ascii_alphanumeric()
            || matches!(
                c,
                '-' | '.'
                    | '_'
                    | '~'
                    | '!'
                    | '$'
                    | '\''
                    | '('
                    | ')'
                    | '*'
                    | ','
                    | ';'
                    | ':'
                    | '@'
                    | '/'
                    | '?'
                    | '['
                    | ']'
            )
            || (c == '=' && !is_name);
        if keep {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push('%');
                out.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
                out.push(char::from(b"0123456789ABCDEF"[usize::from(b & 15)]));
            }
        }
    }
}

/// `"methodArn":"arn:aws:execute-api:{region}:{account}:{api}/{stage}/{METHOD}/{path}"` → (method,
/// path).
fn method_arn(event: &str) -> Option<(&str, &str)> {
    let (_, rest) = event.split_once("\"methodArn\":\"")?;
    let arn = &rest[..rest.find('"')?];
    let resource = arn.splitn(6, ':').nth(5)?;
    let mut parts = resource.splitn(3, '/');
    let (_api, _stage) = (parts.next()?, parts.next()?);
    let (method, path) = parts.next()?.split_once('/')?;
    // The path starts after the method's slash; keep it.
    let path = &resource[resource.len() - path.len() - 1..];
    (!method.is_empty()).then_some((method, path))
}

/// The client: the first `X-Forwarded-For` hop.
fn first_hop(headers: &Headers) -> Option<String> {
    let xff = headers.get("x-forwarded-for")?.first()?;
    let hop = xff.split(',').next()?.trim();
    (!hop.is_empty()).then(|| hop.to_string())
}

/// `"resource":"/pets/{id}"` from the start of a proxy event cut at 1 KB (it comes first).
fn cut_resource(event: &str) -> Option<String> {
    let rest = event.strip_prefix("{\"resource\":\"")?;
    let end = rest.find('"')?;
    let r = &rest[..end];
    (r.starts_with('/') && !r.contains('\\')).then(|| r.to_string())
}

/// A body line's text as a body: empty means none; `[Binary Data]` is a body we cannot see
/// (flagged truncated); longer than `max` is cut and flagged.
fn body(text: &str, cut: bool, max: usize) -> Option<Body> {
    if text.is_empty() {
        return None;
    }
    if text == "[Binary Data]" {
        return Some(Body {
            data: String::new(),
            encoding: BodyEncoding::Utf8,
            truncated: true,
        });
    }
    let mut data = text.to_string();
    let mut truncated = cut;
    if data.len() > max {
        crate::transport::truncate::truncate_utf8(&mut data, max);
        truncated = true;
    }
    Some(Body {
        data,
        encoding: BodyEncoding::Utf8,
        truncated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(messages: &[&str]) -> Vec<LogEvent> {
        messages
            .iter()
            .enumerate()
            .map(|(i, m)| LogEvent {
                id: format!("e{i}"),
                timestamp: 1_000 + i as i64 * 10,
                message: m.to_string(),
                lossy: false,
            })
            .collect()
    }

    fn run(evs: &[LogEvent], group: &str) -> (Vec<Transaction>, Counts) {
        let items: Vec<Item> = evs
            .iter()
            .enumerate()
            .filter_map(|(i, e)| super::super::recognize(&e.message, i, true))
            .collect();
        let ctx = Context {
            log_group: group,
            log_stream: "s",
            owner: "123456789012",
            subscription_filters: &[],
            region: None,
        };
        assemble(&items, evs, &ctx, 1 << 20)
    }

    #[test]
    fn interleaved_requests_trailing_lines_and_a_fragment() {
        let evs = events(&[
            "(a) HTTP Method: GET, Resource Path: /pets/1",
            "(b) HTTP Method: POST, Resource Path: /pets",
            "(a) Method request query string: {limit=10, q=blue cat}",
            "(a) Method completed with status: 200",
            "(a) X-ray Tracing ID : 1-abc",
            "(b) Method request body before transformations: {\"name\":\"Rex\"}",
            "(a) Some future line kind",
        ]);
        let (recs, counts) = run(&evs, "API-Gateway-Execution-Logs_abc123/prod");
        assert_eq!(
            counts,
            Counts {
                lines: 7,
                other: 1,
                orphans: 0,
                incomplete: 1,
                ..Counts::default()
            }
        );
        let a = &recs[0];
        assert_eq!((a.id.as_str(), a.response.status), ("a", Some(200)));
        assert_eq!(a.request.query.as_deref(), Some("limit=10&q=blue%20cat"));
        assert_eq!(a.response.latency_ms, Some(60));
        assert_eq!(
            (a.api.id.as_deref(), a.api.stage.as_deref()),
            (Some("abc123"), Some("prod"))
        );
        assert!(a.flags.discovery_only && !a.flags.partial);
        let b = &recs[1];
        assert!(b.flags.partial && !b.flags.discovery_only);
        let lines = &b.execution.as_ref().unwrap().lines;
        assert_eq!(
            lines
                .iter()
                .map(|l| l.event_id.as_str())
                .collect::<Vec<_>>(),
            ["e1", "e5"]
        );
    }

    #[test]
    fn unprefixed_2016_lines_follow_their_request() {
        let evs = events(&[
            "Verifying Usage Plan for request: 9ac0eacd-87c5. API Key: ****bMZHBg API Stage: ulhoxnm2x2/dev",
            "Starting execution for request: 9ac0eacd-87c5",
            "HTTP Method: POST, Resource Path: /repos/hello",
            "Method request headers: {X-Forwarded-For=199.203.61.109, 54.240.145.13, x-api-key=****bMZHBg}",
            "Method completed with status: 200",
        ]);
        let (recs, counts) = run(&evs, "/aws/x");
        assert_eq!((recs.len(), counts.orphans, counts.incomplete), (1, 0, 0));
        let r = &recs[0];
        assert_eq!(r.id, "9ac0eacd-87c5");
        assert_eq!(r.request.client_ip.as_deref(), Some("199.203.61.109"));
        assert_eq!(
            (r.api.id.as_deref(), r.api.stage.as_deref()),
            (Some("ulhoxnm2x2"), Some("dev"))
        );
    }

    #[test]
    fn authorizer_calls_do_not_stand_in_for_the_integration() {
        let evs = events(&[
            "(a) Starting authorizer: x1 for request: a",
            r#"(a) Endpoint request body after transformations: {"type":"TOKEN","requestContext":{"identity":{"sourceIp":"9.9.9.9"}}}"#,
            "(a) Endpoint response body before transformations: {\"principalId\":\"u\"}",
            "(a) Unauthorized request: a",
            "(a) Method completed with status: 401",
        ]);
        let (recs, _) = run(&evs, "g");
        let r = &recs[0];
        assert!(r.execution.as_ref().unwrap().authorizer_denied);
        assert_eq!(r.request.client_ip, None);
        assert_eq!(r.response.body, None);
    }

    #[test]
    fn query_strings_keep_their_structure() {
        assert_eq!(
            query_string(&[("q", "koa-oop"), ("page", "2")]),
            "q=koa-oop&page=2"
        );
        assert_eq!(
            query_string(&[("a b", "x&y=z"), ("t", "日")]),
            "a%20b=x%26y=z&t=%E6%97%A5"
        );
    }

    #[test]
    fn bodies() {
        assert_eq!(body("", false, 10), None);
        let b = body("[Binary Data]", false, 10).unwrap();
        assert!(b.truncated && b.data.is_empty());
        let b = body("0123456789abc", false, 10).unwrap();
        assert_eq!((b.data.as_str(), b.truncated), ("0123456789", true));
        let b = body("{}", true, 10).unwrap();
        assert!(b.truncated);
    }

    #[test]
    fn method_and_path_from_an_authorizer_event() {
        assert_eq!(
            method_arn(
                r#"{"type":"TOKEN","methodArn":"arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/pets/42","authorizationToken":"x"}"#
            ),
            Some(("GET", "/pets/42"))
        );
        assert_eq!(
            method_arn(r#"{"methodArn":"arn:aws:execute-api:r:a:abc/prod"}"#),
            None
        );
    }

    #[test]
    fn resource_from_a_cut_proxy_event() {
        assert_eq!(
            cut_resource(r#"{"resource":"/pets/{id}","path":"/pets/4"#).as_deref(),
            Some("/pets/{id}")
        );
        assert_eq!(cut_resource(r#"{"path":"/x"}"#), None);
    }
}
