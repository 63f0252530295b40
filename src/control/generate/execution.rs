//! Synthetic REST execution logs (data tracing on): every line kind API Gateway writes for a
//! request — extended id, Lambda authorizer (allowed and denied), usage plan with the route
//! template, method request path/query/headers/body, the Lambda proxy event, integration response,
//! method response, errors (malformed proxy response, Lambda timeout, integration timeout), key
//! throttling, the lines after completion — with masked secrets, header values holding `, `, and
//! lines cut at 1 KB with ` [TRUNCATED]`. Or, for the 1 MB delivery, the same lines uncut inside
//! JSON events (the record fields we create the delivery with,
//! [`crate::decode::execution::delivery::RECORD_FIELDS`]).
//!
//! Every request is whole inside one payload. [`Expected`] says what each should decode to.

use rand::rngs::StdRng;
use rand::RngExt;

use super::catalog::Stage;
use super::lines::Request;
use super::{alnum, hex};

/// Which logs the generator writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogKind {
    /// Access logs of every API kind (the default mix).
    #[default]
    Access,
    /// Standard REST execution logs: one event per line, cut at 1 KB.
    Execution,
    /// The 1 MB execution-log delivery: one JSON event per line, uncut.
    Delivery,
}

impl LogKind {
    pub fn parse(s: &str) -> Option<LogKind> {
        match s {
            "access" => Some(LogKind::Access),
            "execution" => Some(LogKind::Execution),
            "delivery" | "execution-1mb" => Some(LogKind::Delivery),
            _ => None,
        }
    }
}

/// What happened to a synthetic request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Lambda proxy integration, answered by the function.
    Proxy,
    /// The same behind a Lambda authorizer that allowed it.
    Authorized,
    /// The Lambda authorizer denied it (401).
    AuthorizerDenied,
    /// Usage-plan key throttling (429, four lines).
    Throttled,
    /// `Execution failed due to configuration error: Malformed Lambda proxy response` (502).
    MalformedProxy,
    /// `Lambda execution failed … Task timed out` (502).
    LambdaTimeout,
    /// `Execution failed due to a timeout error` (504).
    IntegrationTimeout,
}

/// What one request's lines should decode to (the generator's truth, for tests).
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    pub request_id: String,
    pub scenario: Scenario,
    pub method: String,
    pub path: String,
    pub route: String,
    /// `k=v&k2=v2` as the decoder writes it (values escaped), when the request had a query.
    pub query: Option<String>,
    pub status: u16,
    pub client_ip: String,
    /// Request headers as sent, in order (masked where API Gateway masks).
    pub request_headers: Vec<(String, String)>,
    /// The header line was cut at 1 KB (then only a prefix of the headers is recoverable).
    pub request_headers_cut: bool,
    pub request_body: Option<String>,
    pub request_body_cut: bool,
    pub response_body: Option<String>,
    pub response_body_cut: bool,
    /// A request for a static file (the static-file filter drops it).
    pub is_static: bool,
}

/// Longest line text API Gateway keeps in standard execution logs.
pub const LINE_LIMIT: usize = 1024;

/// Queries drawn for GET requests: (name, value) as API Gateway logs them (decoded)…
const QUERIES: &[&[(&str, &str)]] = &[
    &[("limit", "10")],
    &[("limit", "25"), ("offset", "50")],
    &[("q", "blue cat"), ("sort", "-created")],
    &[("fields", "id, name, owner"), ("limit", "5")],
    &[("filter[status]", "open"), ("page", "2")],
    &[("redirect", "https://example.com/a?b=c&d=e")],
];

/// …and each as a query string, escaped where the structure would change (written by hand).
const QUERY_ENCODED: &[&str] = &[
    "limit=10",
    "limit=25&offset=50",
    "q=blue%20cat&sort=-created",
    "fields=id,%20name,%20owner&limit=5",
    "filter[status]=open&page=2",
    "redirect=https://example.com/a?b=c%26d=e",
];

const ACCEPTS: &[&str] = &[
    "application/json",
    "application/json, text/plain, */*",
    "*/*",
    "application/json;q=0.9, */*;q=0.8",
];

/// The lines of one request (text after the `(id) ` prefix, uncut) with their offsets in ms.
pub struct Rendered {
    pub lines: Vec<(i64, String)>,
    pub expected: Expected,
}

/// Mask as API Gateway does: asterisks, then the last 6 characters.
fn mask(secret: &str, stars: usize) -> String {
    let tail = &secret[secret.len().saturating_sub(6)..];
    format!("{}{tail}", "*".repeat(stars))
}

fn map_text(entries: &[(String, String)]) -> String {
    let mut s = String::from("{");
    for (i, (k, v)) in entries.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(k);
        s.push('=');
        s.push_str(v);
    }
    s.push('}');
    s
}

fn http_date(ms: i64) -> String {
    match chrono::DateTime::from_timestamp_millis(ms) {
        Some(t) => t.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
        None => "Thu, 01 Jan 1970 00:00:00 GMT".to_string(),
    }
}

fn pick_scenario(rng: &mut StdRng) -> Scenario {
    match rng.random_range(0..100u32) {
        0..=1 => Scenario::Throttled,
        2..=4 => Scenario::AuthorizerDenied,
        5..=6 => Scenario::MalformedProxy,
        7 => Scenario::LambdaTimeout,
        8 => Scenario::IntegrationTimeout,
        9..=33 => Scenario::Authorized,
        _ => Scenario::Proxy,
    }
}

/// A JSON document of roughly `len` bytes (strings with `, ` and escapes inside).
fn json_body(rng: &mut StdRng, len: usize) -> String {
    let mut s = format!(
        r#"{{"id":"{}","name":"Rex, the \"good\" dog","tags":["a, b","c"],"owner":{{"email":"user{}@example.com"}},"notes":""#,
        alnum(rng, 12),
        rng.random_range(1..10_000u32)
    );
    while s.len() + 2 < len {
        s.push_str(&alnum(rng, 60));
        s.push(' ');
    }
    s.push_str("\"}");
    s
}

/// Draw and render one request. `large`: bodies may be far over 1 KB (the delivery mode).
pub fn render(
    rng: &mut StdRng,
    stage: &Stage,
    region: &str,
    account: &str,
    req: &Request,
    is_static: bool,
    large: bool,
) -> Rendered {
    let at = Where {
        stage,
        region,
        account,
    };
    let d = draw(rng, &at, req, is_static, large);
    let mut log = Log {
        lines: Vec::with_capacity(28),
        at: 0,
    };
    log.line(format!("Extended Request Id: {}", req.extended_request_id));
    if matches!(
        d.scenario,
        Scenario::Authorized | Scenario::AuthorizerDenied
    ) && !authorize(rng, &at, &d, &mut log)
    {
        return d.finish(log.lines, None, None);
    }
    if !usage_plan(rng, &at, &d, &mut log) {
        return d.finish(log.lines, None, None);
    }
    let lambda_id = method_and_endpoint_request(rng, &at, &d, &mut log);
    if d.scenario == Scenario::IntegrationTimeout {
        log.line("Execution failed due to a timeout error".into());
        log.line("Method completed with status: 504".into());
        let request_body = d.request_body.clone();
        return d.finish(log.lines, request_body, None);
    }
    integration_response(&d, &lambda_id, &mut log);
    // Errors answer with API Gateway's own body; the decoder falls back to the integration's.
    let decoded_response = match d.scenario {
        Scenario::MalformedProxy => {
            Some(r#"{"statusCode":200,"body":{"not":"a string"}}"#.to_string())
        }
        Scenario::LambdaTimeout => Some(format!(
            r#"{{"errorMessage":"{lambda_id} Task timed out after 10.00 seconds"}}"#
        )),
        _ => d.response_body.clone(),
    };
    let request_body = d.request_body.clone();
    d.finish(log.lines, request_body, decoded_response)
}

/// The stage a request is rendered for, and its region and account.
struct Where<'a> {
    stage: &'a Stage,
    region: &'a str,
    account: &'a str,
}

/// Execution-log lines with their offsets from the request's start, and the current offset.
struct Log {
    lines: Vec<(i64, String)>,
    at: i64,
}

impl Log {
    fn line(&mut self, text: String) {
        self.lines.push((self.at, text));
    }
}

/// What was drawn for one request before its lines are written.
struct Draw<'a> {
    req: &'a Request,
    scenario: Scenario,
    status: u16,
    trace: String,
    key: String,
    masked_key: String,
    with_key: bool,
    api_stage: String,
    query: Option<usize>,
    headers: Vec<(String, String)>,
    request_body: Option<String>,
    response_body: Option<String>,
    is_static: bool,
}

/// Draw the scenario, the ids, the request headers and both bodies (in this order: the draws
/// of the random generator make the output).
fn draw<'a>(
    rng: &mut StdRng,
    at: &Where<'_>,
    req: &'a Request,
    is_static: bool,
    large: bool,
) -> Draw<'a> {
    let scenario = pick_scenario(rng);
    let trace = format!("1-{}-{}", hex(rng, 4), hex(rng, 12));
    let status = match scenario {
        Scenario::Throttled => 429,
        Scenario::AuthorizerDenied => 401,
        Scenario::MalformedProxy | Scenario::LambdaTimeout => 502,
        Scenario::IntegrationTimeout => 504,
        Scenario::Proxy | Scenario::Authorized => req.status,
    };
    let key = format!("{}{}", alnum(rng, 34), alnum(rng, 6));
    let masked_key = mask(&key, 34);
    let with_key = req.api_key_id.is_some();
    let has_body = matches!(req.method, "POST" | "PUT" | "PATCH");
    let query =
        (req.method == "GET" && rng.random_bool(0.4)).then(|| rng.random_range(0..QUERIES.len()));
    let headers = request_headers(rng, at, req, scenario, has_body, (&masked_key, &trace));
    let (request_body, response_body) = bodies(rng, req, scenario, status, has_body, large);
    Draw {
        req,
        scenario,
        status,
        trace,
        key,
        masked_key,
        with_key,
        api_stage: format!("{}/{}", at.stage.api_id, at.stage.stage),
        query,
        headers,
        request_body,
        response_body,
        is_static,
    }
}

/// The request headers API Gateway logs (masked as it masks them).
fn request_headers(
    rng: &mut StdRng,
    at: &Where<'_>,
    req: &Request,
    scenario: Scenario,
    has_body: bool,
    (masked_key, trace): (&str, &str),
) -> Vec<(String, String)> {
    let proxy_hop = format!(
        "130.176.{}.{}",
        rng.random_range(0..=255u8),
        rng.random_range(1..255u8)
    );
    let mut headers: Vec<(String, String)> = vec![
        (
            "Accept".into(),
            ACCEPTS[rng.random_range(0..ACCEPTS.len())].into(),
        ),
        ("Accept-Encoding".into(), "gzip, deflate, br".into()),
    ];
    if matches!(scenario, Scenario::Authorized | Scenario::AuthorizerDenied) {
        let token = alnum(rng, 40);
        headers.push(("Authorization".into(), mask(&token, 60)));
    }
    if has_body {
        headers.push(("Content-Type".into(), "application/json".into()));
    }
    if rng.random_bool(0.2) {
        headers.push((
            "Cookie".into(),
            format!("session={}; theme=dark", alnum(rng, 16)),
        ));
    }
    headers.push(("Host".into(), at.stage.domain(at.region)));
    if rng.random_bool(0.1) {
        headers.push((
            "If-Modified-Since".into(),
            http_date(req.time_ms - 86_400_000),
        ));
    }
    if req.user_agent != "-" {
        headers.push(("User-Agent".into(), req.user_agent.into()));
    }
    if req.api_key_id.is_some() {
        headers.push(("x-api-key".into(), masked_key.to_string()));
    }
    headers.push(("X-Amzn-Trace-Id".into(), format!("Root={trace}")));
    headers.push(("X-Forwarded-For".into(), format!("{}, {proxy_hop}", req.ip)));
    headers.push(("X-Forwarded-Port".into(), "443".into()));
    headers.push(("X-Forwarded-Proto".into(), "https".into()));
    headers
}

/// The request body (methods that carry one) and the response body the scenario gives.
fn bodies(
    rng: &mut StdRng,
    req: &Request,
    scenario: Scenario,
    status: u16,
    has_body: bool,
    large: bool,
) -> (Option<String>, Option<String>) {
    let long = |rng: &mut StdRng| {
        if large && rng.random_bool(0.15) {
            rng.random_range(2_000..=200_000)
        } else if rng.random_bool(0.2) {
            rng.random_range(1_100..=4_000)
        } else {
            rng.random_range(40..=700)
        }
    };
    let request_body = has_body.then(|| {
        let n = long(rng);
        json_body(rng, n)
    });
    let response_body = match (scenario, status) {
        (Scenario::Throttled, _) | (Scenario::AuthorizerDenied, _) => None,
        (Scenario::MalformedProxy | Scenario::LambdaTimeout, _) => {
            Some(r#"{"message": "Internal server error"}"#.to_string())
        }
        (Scenario::IntegrationTimeout, _) => {
            Some(r#"{"message": "Endpoint request timed out"}"#.to_string())
        }
        (_, 204 | 304) => None,
        (_, s) if s >= 400 => Some(format!(r#"{{"message":"status {s}"}}"#)),
        _ if req.method == "HEAD" => None,
        _ => {
            let n = long(rng);
            Some(json_body(rng, n))
        }
    };
    (request_body, response_body)
}

/// The authorizer's lines; `false` when it denied the request (its lines end there).
fn authorize(rng: &mut StdRng, at: &Where<'_>, d: &Draw<'_>, log: &mut Log) -> bool {
    let (region, account, stage, req) = (at.region, at.account, at.stage, d.req);
    let id = req.request_id.as_str();
    let authorizer = alnum(rng, 6).to_lowercase();
    log.line(format!(
        "Starting authorizer: {authorizer} for request: {id}"
    ));
    log.line(format!("Incoming identity: {}", mask(&d.key, 60)));
    log.line(format!("Endpoint request URI: https://lambda.{region}.amazonaws.com/2015-03-31/functions/arn:aws:lambda:{region}:{account}:function:authorizer/invocations"));
    log.line(format!(
        r#"Endpoint request body after transformations: {{"type":"TOKEN","methodArn":"arn:aws:execute-api:{region}:{account}:{}/{}/{}{}","authorizationToken":"{}"}}"#,
        stage.api_id,
        stage.stage,
        req.method,
        req.path,
        mask(&d.key, 60)
    ));
    log.line(format!("Sending request to https://lambda.{region}.amazonaws.com/2015-03-31/functions/arn:aws:lambda:{region}:{account}:function:authorizer/invocations"));
    log.at += 3;
    if d.scenario == Scenario::AuthorizerDenied {
        log.line(format!("Unauthorized request: {id}"));
        log.line("Method completed with status: 401".into());
        return false;
    }
    log.line(format!(
        r#"Authorizer result body before parsing: {{"principalId":"user-{}","policyDocument":{{"Version":"2012-10-17","Statement":[{{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"*"}}]}}}}"#,
        rng.random_range(1..5000u32)
    ));
    log.line("Using valid authorizer policy for principal: user".into());
    log.line("Successfully completed authorizer execution".into());
    true
}

/// The usage plan's lines; `false` when it throttled the request (its lines end there).
fn usage_plan(rng: &mut StdRng, at: &Where<'_>, d: &Draw<'_>, log: &mut Log) -> bool {
    let (req, api_stage, masked_key) = (d.req, &d.api_stage, &d.masked_key);
    log.line(format!(
        "Verifying Usage Plan for request: {}. API Key: {} API Stage: {api_stage}",
        req.request_id,
        if d.with_key { masked_key.as_str() } else { "" }
    ));
    if d.scenario == Scenario::Throttled {
        log.line(format!("Key throttle limit exceeded for RestApi {}, Stage {}, Resource {}, HttpMethod {}. Limit: 10.00 Burst: 20", at.stage.api_id, at.stage.stage, alnum(rng, 6).to_lowercase(), req.method));
        log.line("Method completed with status: 429".into());
        return false;
    }
    if d.with_key {
        log.line(format!("API Key {masked_key} authorized because method '{} {}' requires API Key and a valid API Key was provided. Request will contribute to throttle and quota limits", req.method, req.route));
        log.line(format!(
            "Usage Plan check succeeded for API Key {masked_key} and API Stage {api_stage}"
        ));
    } else {
        log.line(format!("API Key  authorized because method '{} {}' does not require API Key. Request will not contribute to throttle or quota limits", req.method, req.route));
        log.line(format!(
            "Usage Plan check succeeded for API Key  and API Stage {api_stage}"
        ));
    }
    true
}

/// The method request as received and the integration request as sent; returns the Lambda
/// request id of the integration (drawn after its latency).
fn method_and_endpoint_request(
    rng: &mut StdRng,
    at: &Where<'_>,
    d: &Draw<'_>,
    log: &mut Log,
) -> String {
    let (region, account, stage, req) = (at.region, at.account, at.stage, d.req);
    let id = req.request_id.as_str();
    log.line(format!("Starting execution for request: {id}"));
    log.line(format!(
        "HTTP Method: {}, Resource Path: {}",
        req.method, req.path
    ));
    log.line(format!("Method request path: {}", path_params(req)));
    let query_map: Vec<(String, String)> = d
        .query
        .map(|q| {
            QUERIES[q]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .unwrap_or_default();
    log.line(format!(
        "Method request query string: {}",
        map_text(&query_map)
    ));
    log.line(format!("Method request headers: {}", map_text(&d.headers)));
    log.line(format!(
        "Method request body before transformations: {}",
        d.request_body.as_deref().unwrap_or("")
    ));
    let function = format!(
        "arn:aws:lambda:{region}:{account}:function:{}-handler",
        stage.api_id
    );
    let invoke = format!(
        "https://lambda.{region}.amazonaws.com/2015-03-31/functions/{function}/invocations"
    );
    log.line(format!("Endpoint request URI: {invoke}"));
    log.line(format!("Endpoint request headers: {{x-amzn-lambda-integration-tag={id}, Authorization={}, X-Amz-Date=20240601T000000Z, x-amzn-apigateway-api-id={}, X-Amz-Source-Arn=arn:aws:execute-api:{region}:{account}:{}/{}/{}{}, Accept=application/json, User-Agent=AmazonAPIGateway_{}, X-Amz-Security-Token={}}}", mask(&alnum(rng, 20), 380), stage.api_id, stage.api_id, stage.stage, req.method, req.route, stage.api_id, alnum(rng, 700)));
    log.line(format!(
        "Endpoint request body after transformations: {}",
        proxy_event(req, stage, account, &d.headers, d.request_body.as_deref())
    ));
    log.line(format!("Sending request to {invoke}"));
    log.at += req.integration_latency_ms.unwrap_or(5) as i64;
    uuid::Builder::from_random_bytes(rng.random())
        .into_uuid()
        .to_string()
}

/// The integration's response and how the method completed (no draws).
fn integration_response(d: &Draw<'_>, lambda_id: &str, log: &mut Log) {
    let (req, status, trace) = (d.req, d.status, &d.trace);
    log.line(format!(
        "Received response. Status: 200, Integration latency: {} ms",
        req.integration_latency_ms.unwrap_or(5)
    ));
    log.line(format!("Endpoint response headers: {{Date={}, Content-Type=application/json, Content-Length={}, Connection=keep-alive, x-amzn-RequestId={lambda_id}, x-amzn-Remapped-Content-Length=0, X-Amz-Executed-Version=$LATEST, X-Amzn-Trace-Id=root={trace};sampled=1}}", http_date(req.time_ms), d.response_body.as_ref().map_or(2, |b| b.len() + 40)));
    match d.scenario {
        Scenario::MalformedProxy => {
            log.line(r#"Endpoint response body before transformations: {"statusCode":200,"body":{"not":"a string"}}"#.into());
            log.line(
                "Execution failed due to configuration error: Malformed Lambda proxy response"
                    .into(),
            );
            log.line("Method completed with status: 502".into());
        }
        Scenario::LambdaTimeout => {
            log.line(format!(
                r#"Endpoint response body before transformations: {{"errorMessage":"{lambda_id} Task timed out after 10.00 seconds"}}"#
            ));
            log.line(format!("Lambda execution failed with status 200 due to customer function error: {lambda_id} Task timed out after 10.00 seconds. Lambda request id: {lambda_id}"));
            log.line("Method completed with status: 502".into());
        }
        _ => {
            let escaped =
                serde_json::to_string(d.response_body.as_deref().unwrap_or("")).unwrap_or_default();
            log.line(format!(
                r#"Endpoint response body before transformations: {{"statusCode":{status},"headers":{{"Content-Type":"application/json"}},"body":{escaped}}}"#
            ));
            log.line(format!(
                "Method response body after transformations: {}",
                d.response_body.as_deref().unwrap_or("")
            ));
            log.line(format!("Method response headers: {{Content-Type=application/json, Cache-Control=no-cache, no-store, X-Amzn-Trace-Id=Root={trace};Sampled=1}}"));
            log.line("Successfully completed execution".into());
            log.line(format!("Method completed with status: {status}"));
        }
    }
    log.line(format!("AWS Integration Endpoint RequestId : {lambda_id}"));
    log.line(format!("X-ray Tracing ID : {trace}"));
}

impl Draw<'_> {
    /// The lines and what the decoder should make of them.
    fn finish(
        self,
        lines: Vec<(i64, String)>,
        request_body: Option<String>,
        response_body: Option<String>,
    ) -> Rendered {
        let req = self.req;
        let expected = Expected {
            request_id: req.request_id.clone(),
            scenario: self.scenario,
            method: req.method.to_string(),
            path: req.path.clone(),
            route: req.route.to_string(),
            query: self.query.map(|q| QUERY_ENCODED[q].to_string()),
            status: self.status,
            client_ip: req.ip.clone(),
            request_headers: self.headers,
            request_headers_cut: false,
            request_body: request_body.filter(|b| !b.is_empty()),
            request_body_cut: false,
            response_body: response_body.filter(|b| !b.is_empty()),
            response_body_cut: false,
            is_static: self.is_static,
        };
        Rendered { lines, expected }
    }
}

impl Rendered {
    /// Record which lines standard execution logging cuts at 1 KB.
    pub fn mark_cuts(&mut self) {
        let line = |label: &str| self.lines.iter().find(|(_, l)| l.starts_with(label));
        let cut = |label: &str| line(label).is_some_and(|(_, l)| l.len() > LINE_LIMIT);
        self.expected.request_headers_cut = cut("Method request headers: ");
        self.expected.request_body_cut = cut("Method request body before transformations: ");
        self.expected.response_body_cut = match line("Method response body after transformations: ")
        {
            Some((_, l)) => l.len() > LINE_LIMIT,
            None => cut("Endpoint response body before transformations: "),
        };
    }
}

/// `{petId=42}` from the route template and the path.
fn path_params(req: &Request) -> String {
    let mut params = Vec::new();
    for (t, p) in req.route.split('/').zip(req.path.split('/')) {
        if let Some(name) = t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
            params.push((name.to_string(), p.to_string()));
        }
    }
    map_text(&params)
}

/// The Lambda proxy event API Gateway sends (what `Endpoint request body` shows).
fn proxy_event(
    req: &Request,
    stage: &Stage,
    account: &str,
    headers: &[(String, String)],
    body: Option<&str>,
) -> String {
    let hdrs: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    serde_json::json!({
        "resource": req.route,
        "path": req.path,
        "httpMethod": req.method,
        "headers": hdrs,
        "requestContext": {
            "resourcePath": req.route,
            "httpMethod": req.method,
            "accountId": account,
            "apiId": stage.api_id,
            "stage": stage.stage,
            "requestId": req.request_id,
            "identity": {"sourceIp": req.ip, "userAgent": req.user_agent},
        },
        "body": body,
        "isBase64Encoded": false,
    })
    .to_string()
}

/// A standard execution-log message: `(id) text`, the text cut at 1 KB.
pub fn standard_message(id: &str, text: &str) -> String {
    if text.len() <= LINE_LIMIT {
        return format!("({id}) {text}");
    }
    let mut end = LINE_LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("({id}) {} [TRUNCATED]", &text[..end])
}

/// One record of the 1 MB delivery as we create it: output format `json`, the record fields of
/// [`crate::decode::execution::delivery::RECORD_FIELDS`], the line (with its `(id) ` prefix) in `payload`.
pub fn delivery_message(
    stage: &Stage,
    region: &str,
    req: &Request,
    time_ms: i64,
    text: &str,
) -> String {
    serde_json::json!({
        "resource_arn": format!(
            "arn:aws:apigateway:{region}::/restapis/{}/stages/{}",
            stage.api_id, stage.stage
        ),
        "event_timestamp": time_ms,
        "api_id": stage.api_id,
        "stage": stage.stage,
        "resource_path": req.route,
        "http_method": req.method,
        // Uncut: the delivery carries lines up to 1 MB.
        "payload": format!("({}) {text}", req.request_id),
    })
    .to_string()
}
