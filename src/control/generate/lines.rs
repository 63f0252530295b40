//! Rendering one request as the access-log line API Gateway would write for a stage's format.
//!
//! API Gateway substitutes `$context` values into the template as they are, without escaping,
//! so an odd user agent can break a JSON line exactly as it does in real logs.

use std::fmt::Write;

use super::catalog::{LineFormat, Stage};
use crate::transaction::ApiKind;

/// One synthetic request, before formatting.
#[derive(Debug, Clone)]
pub struct Request {
    pub request_id: String,
    pub extended_request_id: String,
    pub time_ms: i64,
    pub method: &'static str,
    /// Path as the client sent it, without the stage prefix.
    pub path: String,
    /// Route template (`resourcePath` for REST, the path part of `routeKey` for HTTP).
    pub route: &'static str,
    pub status: u16,
    pub response_length: Option<u64>,
    pub latency_ms: u64,
    pub integration_latency_ms: Option<u64>,
    pub ip: String,
    pub user_agent: &'static str,
    pub principal_id: Option<String>,
    pub api_key_id: Option<String>,
    /// WebSocket: (eventType, routeKey, connectionId).
    pub websocket: Option<(&'static str, &'static str, String)>,
}

/// `$context.requestTime`: CLF time, second resolution, UTC.
pub fn request_time(time_ms: i64) -> String {
    use chrono::{Datelike, Timelike};
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    // Written field by field: `format()` re-reads its pattern for every line, a few percent of
    // a `local` run.
    match chrono::DateTime::from_timestamp_millis(time_ms) {
        Some(t) => format!(
            "{:02}/{}/{:04}:{:02}:{:02}:{:02} +0000",
            t.day(),
            MONTHS[t.month0() as usize % 12],
            t.year(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        None => "-".to_string(),
    }
}

fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    match v {
        Some(v) => v.to_string(),
        None => "-".to_string(),
    }
}

fn error_message(status: u16) -> &'static str {
    match status {
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal server error",
        502 => "Internal server error",
        503 => "Service Unavailable",
        _ => "-",
    }
}

/// `$context.path`: the stage prefix plus the client path on execute-api domains.
fn context_path(stage: &Stage, path: &str) -> String {
    match stage.stage_prefix() {
        "" => path.to_string(),
        prefix => format!("/{prefix}{path}"),
    }
}

/// HTTP API `routeKey`: `METHOD /template`.
fn route_key(req: &Request) -> String {
    format!("{} {}", req.method, req.route)
}

/// What every format needs besides the request.
struct At<'a> {
    stage: &'a Stage,
    domain: String,
    time: String,
    account: &'a str,
}

/// Render `req` as `stage` logs it.
pub fn render(stage: &Stage, region: &str, account: &str, req: &Request) -> String {
    let at = At {
        stage,
        domain: stage.domain(region),
        time: request_time(req.time_ms),
        account,
    };
    let mut line = String::with_capacity(640);
    // Writing to a String cannot fail.
    let _ = match (stage.format, stage.kind) {
        (LineFormat::Recommended, ApiKind::Rest) => recommended_rest(&mut line, &at, req),
        (LineFormat::Recommended, _) => recommended_route(&mut line, &at, req),
        (LineFormat::ConsoleJson, ApiKind::Rest) => console_json_rest(&mut line, &at, req),
        (LineFormat::ConsoleJson, _) => console_json_route(&mut line, &at, req),
        (LineFormat::ConsoleClf, ApiKind::Rest) => clf_rest(&mut line, &at, req),
        (LineFormat::ConsoleClf, _) => clf_route(&mut line, &at, req),
        (LineFormat::ConsoleCsv, ApiKind::Rest) => csv_rest(&mut line, &at, req),
        (LineFormat::ConsoleCsv, _) => csv_route(&mut line, &at, req),
        (LineFormat::ConsoleXml, ApiKind::Rest) => xml_rest(&mut line, &at, req),
        (LineFormat::ConsoleXml, _) => xml_route(&mut line, &at, req),
        (LineFormat::WebsocketJson, _) => websocket(&mut line, &at, req),
    };
    line
}

/// The recommended JSON format, REST (`resourcePath`).
fn recommended_rest(line: &mut String, at: &At, req: &Request) -> std::fmt::Result {
    write!(
        line,
        r#"{{"requestId":"{}","extendedRequestId":"{}","requestTimeEpoch":"{}","httpMethod":"{}","path":"{}","resourcePath":"{}","protocol":"HTTP/1.1","status":"{}","responseLength":"{}","responseLatency":"{}","integrationLatency":"{}","ip":"{}","userAgent":"{}","domainName":"{}","apiId":"{}","stage":"{}","accountId":"{}","caller":"-","user":"-","apiKeyId":"{}","principalId":"{}","errorMessage":"{}","wafResponseCode":"{}"}}"#,
        req.request_id,
        req.extended_request_id,
        req.time_ms,
        req.method,
        context_path(at.stage, &req.path),
        req.route,
        req.status,
        opt(&req.response_length),
        req.latency_ms,
        opt(&req.integration_latency_ms),
        req.ip,
        req.user_agent,
        at.domain,
        at.stage.api_id,
        at.stage.stage,
        at.account,
        opt(&req.api_key_id),
        opt(&req.principal_id),
        error_message(req.status),
        if req.status == 403 {
            "WAF_BLOCK"
        } else {
            "WAF_ALLOW"
        },
    )
}

/// The recommended JSON format, HTTP and WebSocket (`routeKey`).
fn recommended_route(line: &mut String, at: &At, req: &Request) -> std::fmt::Result {
    write!(
        line,
        r#"{{"requestId":"{}","extendedRequestId":"{}","requestTimeEpoch":"{}","httpMethod":"{}","path":"{}","routeKey":"{}","protocol":"HTTP/1.1","status":"{}","responseLength":"{}","responseLatency":"{}","integrationLatency":"{}","ip":"{}","userAgent":"{}","domainName":"{}","apiId":"{}","stage":"{}","accountId":"{}","caller":"-","user":"-","principalId":"{}","errorMessage":"{}"}}"#,
        req.request_id,
        req.extended_request_id,
        req.time_ms,
        req.method,
        context_path(at.stage, &req.path),
        route_key(req),
        req.status,
        opt(&req.response_length),
        req.latency_ms,
        opt(&req.integration_latency_ms),
        req.ip,
        req.user_agent,
        at.domain,
        at.stage.api_id,
        at.stage.stage,
        at.account,
        opt(&req.principal_id),
        error_message(req.status),
    )
}

/// The console's JSON template, REST.
fn console_json_rest(line: &mut String, at: &At, req: &Request) -> std::fmt::Result {
    write!(
        line,
        r#"{{ "requestId":"{}", "extendedRequestId":"{}", "ip": "{}", "caller":"-", "user":"-", "requestTime":"{}", "httpMethod":"{}", "resourcePath":"{}", "status":"{}", "protocol":"HTTP/1.1", "responseLength":"{}" }}"#,
        req.request_id,
        req.extended_request_id,
        req.ip,
        at.time,
        req.method,
        req.route,
        req.status,
        opt(&req.response_length),
    )
}

/// The console's JSON template, HTTP.
fn console_json_route(line: &mut String, at: &At, req: &Request) -> std::fmt::Result {
    write!(
        line,
        r#"{{ "requestId":"{}", "ip": "{}", "requestTime":"{}", "httpMethod":"{}","routeKey":"{}", "status":"{}","protocol":"HTTP/1.1", "responseLength":"{}" }}"#,
        req.request_id,
        req.ip,
        at.time,
        req.method,
        route_key(req),
        req.status,
        opt(&req.response_length),
    )
}

/// The console's CLF template, REST.
fn clf_rest(line: &mut String, at: &At, req: &Request) -> std::fmt::Result {
    write!(
        line,
        r#"{} - - [{}] "{} {} HTTP/1.1" {} {} {} {}"#,
        req.ip,
        at.time,
        req.method,
        req.route,
        req.status,
        opt(&req.response_length),
        req.request_id,
        req.extended_request_id,
    )
}

/// The console's CLF template, HTTP.
fn clf_route(line: &mut String, at: &At, req: &Request) -> std::fmt::Result {
    write!(
        line,
        r#"{} - - [{}] "{} {} HTTP/1.1" {} {} {}"#,
        req.ip,
        at.time,
        req.method,
        route_key(req),
        req.status,
        opt(&req.response_length),
        req.request_id,
    )
}

/// The console's CSV template, REST.
fn csv_rest(line: &mut String, at: &At, req: &Request) -> std::fmt::Result {
    write!(
        line,
        "{},-,-,{},{},{},HTTP/1.1,{},{},{},{}",
        req.ip,
        at.time,
        req.method,
        req.route,
        req.status,
        opt(&req.response_length),
        req.request_id,
        req.extended_request_id,
    )
}

/// The console's CSV template, HTTP.
fn csv_route(line: &mut String, at: &At, req: &Request) -> std::fmt::Result {
    write!(
        line,
        "{},{},{},{},HTTP/1.1,{},{},{}",
        req.ip,
        at.time,
        req.method,
        route_key(req),
        req.status,
        opt(&req.response_length),
        req.request_id,
    )
}

/// The console's XML template, REST.
fn xml_rest(line: &mut String, at: &At, req: &Request) -> std::fmt::Result {
    write!(
        line,
        r#"<request id="{}"> <extendedRequestId>{}</extendedRequestId> <ip>{}</ip> <caller>-</caller> <user>-</user> <requestTime>{}</requestTime> <httpMethod>{}</httpMethod> <resourcePath>{}</resourcePath> <status>{}</status> <protocol>HTTP/1.1</protocol> <responseLength>{}</responseLength> </request>"#,
        req.request_id,
        req.extended_request_id,
        req.ip,
        at.time,
        req.method,
        req.route,
        req.status,
        opt(&req.response_length),
    )
}

/// The console's XML template, HTTP.
fn xml_route(line: &mut String, at: &At, req: &Request) -> std::fmt::Result {
    write!(
        line,
        r#"<request id="{}"> <ip>{}</ip> <requestTime>{}</requestTime> <httpMethod>{}</httpMethod> <routeKey>{}</routeKey> <status>{}</status> <protocol>HTTP/1.1</protocol> <responseLength>{}</responseLength> </request>"#,
        req.request_id,
        req.ip,
        at.time,
        req.method,
        route_key(req),
        req.status,
        opt(&req.response_length),
    )
}

/// WebSocket JSON lines as seen in the wild.
fn websocket(line: &mut String, at: &At, req: &Request) -> std::fmt::Result {
    let (event_type, route, connection) = match &req.websocket {
        Some((e, r, c)) => (*e, *r, c.as_str()),
        None => ("-", "-", "-"),
    };
    write!(
        line,
        r#"{{"requestId":"{}","ip":"{}","caller":"-","user":"-","requestTime":"{}","eventType":"{}","routeKey":"{}","status":"{}","connectionId":"{}","apiId":"{}","stage":"{}","domainName":"{}"}}"#,
        req.request_id,
        req.ip,
        at.time,
        event_type,
        route,
        req.status,
        connection,
        at.stage.api_id,
        at.stage.stage,
        at.domain,
    )
}

#[cfg(test)]
mod time_tests {
    use super::*;

    #[test]
    fn request_time_is_chronos_clf_format() {
        for ms in [
            0,
            1_717_200_000_000,
            951_782_400_123,
            4_102_444_799_999,
            -86_400_000,
        ] {
            let t = chrono::DateTime::from_timestamp_millis(ms).unwrap();
            assert_eq!(
                request_time(ms),
                t.format("%d/%b/%Y:%H:%M:%S +0000").to_string()
            );
        }
    }
}
