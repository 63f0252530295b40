//! Fields of one parsed line + where it came from → the canonical record (docs/architecture.md).

use chrono::DateTime;

use crate::decode::formats::fields::{find_execute_api, EXECUTE_API};
use crate::decode::formats::{Fields, ParsedLine, Var};
use crate::decode::logs::{LogData, LogEvent};
use crate::transaction::{ApiKind, Source, Transaction};

/// API Gateway writes this in place of a client-supplied request id that is not a UUID.
const REPLACED_REQUEST_ID: &str = "UUID_REPLACED_INVALID_REQUEST_ID";

/// What the payload says about every line in it.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub log_group: &'a str,
    pub log_stream: &'a str,
    pub owner: &'a str,
    pub subscription_filters: &'a [String],
    /// The region the decoder runs in (Lambda's AWS_REGION), used when the line has no domain.
    pub region: Option<&'a str>,
}

impl<'a> Context<'a> {
    pub fn of(data: &'a LogData, region: Option<&'a str>) -> Self {
        Context {
            log_group: &data.log_group,
            log_stream: &data.log_stream,
            owner: &data.owner,
            subscription_filters: &data.subscription_filters,
            region,
        }
    }
}

/// `apigw-stream/{kind}/{api-id}/{stage}`: the filter names this project creates. A log group
/// shared by several stages gets `apigw-stream/{kind}/-/-`: the kind only, id and stage per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterName<'a> {
    pub kind: ApiKind,
    pub api_id: Option<&'a str>,
    pub stage: Option<&'a str>,
}

impl<'a> FilterName<'a> {
    pub fn parse(name: &'a str) -> Option<Self> {
        let rest = name.strip_prefix("apigw-stream/")?;
        let mut parts = rest.splitn(3, '/');
        let kind = ApiKind::parse(parts.next()?)?;
        let api_id = parts.next().filter(|s| !s.is_empty())?;
        let stage = parts.next().filter(|s| !s.is_empty())?;
        let present = |s: &'a str| (s != "-").then_some(s);
        Some(FilterName {
            kind,
            api_id: present(api_id),
            stage: present(stage),
        })
    }

    /// Build the name for an API stage.
    pub fn format(kind: ApiKind, api_id: &str, stage: &str) -> String {
        format!("apigw-stream/{}/{api_id}/{stage}", kind.as_str())
    }
}

/// `{api-id}.execute-api.{region}.amazonaws.com[.cn]` → (api id, region).
pub fn parse_execute_api_domain(domain: &str) -> Option<(&str, &str)> {
    let at = find_execute_api(domain)?;
    let (id, rest) = (&domain[..at], &domain[at + EXECUTE_API.len()..]);
    let region = rest
        .strip_suffix(".amazonaws.com")
        .or_else(|| rest.strip_suffix(".amazonaws.com.cn"))?;
    (!id.is_empty() && !region.is_empty()).then_some((id, region))
}

/// Build the canonical record for one parsed line.
pub fn to_transaction(parsed: ParsedLine<'_>, event: &LogEvent, ctx: &Context) -> Transaction {
    let ParsedLine {
        format,
        mut fields,
        partial,
    } = parsed;
    let source = Source {
        log_group: ctx.log_group.to_string(),
        log_stream: ctx.log_stream.to_string(),
        event_id: event.id.clone(),
        format,
    };
    let id = record_id(&mut fields, ctx.log_stream, &event.id);
    let time_ms = record_time(&fields, event.timestamp);
    let mut t = Transaction::new(id, time_ms, source);
    t.flags.partial = partial || event.lossy;

    let domain = fields.take(Var::DomainName);
    let from_domain = domain.as_deref().and_then(parse_execute_api_domain);
    fill_api(&mut t, &mut fields, ctx, from_domain);
    fill_route(&mut t, &mut fields);
    fill_target(
        &mut t,
        &mut fields,
        from_domain.is_some() || domain.is_none(),
    );
    t.request.host = domain.clone();
    t.api.domain = domain;
    fill_client_and_response(&mut t, &mut fields);
    t
}

/// The API's kind, id, stage, account and region: from the line, else from the subscription
/// filter's name, the domain, the log group or the payload's owner.
fn fill_api(
    t: &mut Transaction,
    fields: &mut Fields<'_>,
    ctx: &Context,
    from_domain: Option<(&str, &str)>,
) {
    // Read only when the line lacks what it tells: most lines carry kind, id and stage.
    let filter = std::cell::OnceCell::new();
    let filter = || {
        filter
            .get_or_init(|| {
                ctx.subscription_filters
                    .iter()
                    .find_map(|n| FilterName::parse(n))
            })
            .as_ref()
    };
    t.api.kind = kind_from_fields(fields)
        .or_else(|| filter().map(|f| f.kind))
        .or_else(|| kind_from_log_group(ctx.log_group))
        .unwrap_or(ApiKind::Unknown);
    t.api.id = fields
        .take(Var::ApiId)
        .or_else(|| filter().and_then(|f| f.api_id).map(str::to_string))
        .or_else(|| from_domain.map(|(id, _)| id.to_string()))
        .or_else(|| exec_log_group(ctx.log_group).map(|(id, _)| id.to_string()));
    t.api.stage = fields
        .take(Var::Stage)
        .or_else(|| filter().and_then(|f| f.stage).map(str::to_string))
        .or_else(|| exec_log_group(ctx.log_group).map(|(_, s)| s.to_string()));
    t.api.account = fields.take(Var::AccountId).or_else(|| {
        let owner = ctx.owner;
        (owner.len() == 12 && owner.bytes().all(|b| b.is_ascii_digit())).then(|| owner.to_string())
    });
    t.api.region = from_domain
        .map(|(_, r)| r.to_string())
        .or_else(|| ctx.region.map(str::to_string));
}

/// Route and method: REST has resourcePath; HTTP and WebSocket a routeKey ("GET /pets", "$default").
fn fill_route(t: &mut Transaction, fields: &mut Fields<'_>) {
    let route_key = fields.take(Var::RouteKey);
    let (route_method, route_path) = match route_key.as_deref() {
        Some(rk) => match rk.split_once(' ') {
            Some((m, p)) => (Some(m.to_string()), Some(p.to_string())),
            None => (None, Some(rk.to_string())),
        },
        None => (None, None),
    };
    t.request.route = fields.take(Var::ResourcePath).or(route_path);
    t.request.method = fields
        .take(Var::HttpMethod)
        .or(route_method.filter(|m| m != "ANY"))
        .map(|mut m| {
            m.make_ascii_uppercase();
            m
        });
}

/// Scheme, path (the stage cut off where it may be carried) and query.
fn fill_target(t: &mut Transaction, fields: &mut Fields<'_>, may_carry_stage: bool) {
    // execute-api endpoints serve TLS only.
    let scheme = if t.api.kind == ApiKind::Websocket {
        "wss"
    } else {
        "https"
    };
    t.request.scheme = Some(scheme.to_string());
    t.request.path = fields
        .take(Var::Path)
        .map(|p| strip_stage(p, t.api.stage.as_deref(), may_carry_stage));
    if let Some(p) = t.request.path.take() {
        // Some users log the path with its query; keep them apart.
        match p.split_once('?') {
            Some((path, q)) => {
                t.request.path = Some(path.to_string());
                t.request.query = Some(q.to_string());
            }
            None => t.request.path = Some(p),
        }
    }
    if let Some(q) = fields.take(Var::Query) {
        t.request.query = Some(q.trim_start_matches('?').to_string());
    }
}

fn fill_client_and_response(t: &mut Transaction, fields: &mut Fields<'_>) {
    t.request.protocol = fields.take(Var::Protocol);
    t.request.client_ip = fields.take(Var::SourceIp);
    if let Some(ua) = fields.take(Var::UserAgent) {
        t.request.headers.insert("user-agent".into(), vec![ua]);
    }
    if let Some(ct) = fields.take(Var::ContentType) {
        t.response.headers.insert("content-type".into(), vec![ct]);
    }
    t.response.status = fields.get(Var::Status).and_then(|s| s.parse().ok());
    t.response.length = fields.get(Var::ResponseLength).and_then(parse_u64);
    t.response.latency_ms = fields.get(Var::ResponseLatency).and_then(parse_u64);
    t.response.integration_latency_ms = fields.get(Var::IntegrationLatency).and_then(parse_u64);
}

fn record_id(fields: &mut Fields<'_>, log_stream: &str, event_id: &str) -> String {
    let rid = fields
        .take(Var::RequestId)
        .filter(|r| r != REPLACED_REQUEST_ID);
    let ext = fields.take(Var::ExtendedRequestId);
    rid.or(ext)
        .unwrap_or_else(|| format!("{log_stream}/{event_id}"))
}

/// `requestTimeEpoch` (ms; seconds accepted), else `requestTime` (CLF, RFC 3339 or epoch), else the
/// log event's timestamp. Either key may hold either form: users name keys freely.
fn record_time(fields: &Fields, event_ts: i64) -> i64 {
    fields
        .get(Var::RequestTimeEpoch)
        .and_then(parse_request_time)
        .or_else(|| fields.get(Var::RequestTime).and_then(parse_request_time))
        .unwrap_or(event_ts)
}

fn parse_epoch(s: &str) -> Option<i64> {
    let v: f64 = s.trim().parse().ok()?;
    if !v.is_finite() || v <= 0.0 {
        return None;
    }
    // Below 1e11 it must be seconds (1e11 ms is 1973; 1e11 s is the year 5138).
    Some(if v < 1e11 {
        (v * 1000.0).round() as i64
    } else {
        v.round() as i64
    })
}

/// `10/Jun/2023:15:36:28 +0000` (what API Gateway writes), RFC 3339, or an epoch number.
pub fn parse_request_time(s: &str) -> Option<i64> {
    let s = s.trim();
    // A template may bracket the time as CLF does: `[$context.requestTime]`.
    let s = s
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(s);
    // Epoch digits (`requestTimeEpoch`, on most JSON lines) need neither date parser; below 16
    // digits the integer reading is the one `parse_epoch` gives.
    if let Some(v) = short_integer(s) {
        return (v > 0).then(|| if v < 100_000_000_000 { v * 1000 } else { v });
    }
    if let Some(ms) = parse_clf_time(s) {
        return Some(ms);
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.timestamp_millis());
    }
    parse_epoch(s)
}

/// `10/Jun/2023:15:36:28 +0000`, with the format compiled once (chrono's `parse_from_str` reads
/// the format string again for every line).
fn parse_clf_time(s: &str) -> Option<i64> {
    use chrono::format::{parse, Item, Parsed, StrftimeItems};
    static CLF: std::sync::LazyLock<Vec<Item<'static>>> =
        std::sync::LazyLock::new(|| StrftimeItems::new("%d/%b/%Y:%H:%M:%S %z").collect());
    let mut parsed = Parsed::new();
    parse(&mut parsed, s, CLF.iter()).ok()?;
    parsed.to_datetime().ok().map(|dt| dt.timestamp_millis())
}

/// Up to 15 ASCII digits (exact in an `f64` too), as an integer.
fn short_integer(s: &str) -> Option<i64> {
    ((1..=15).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

fn parse_u64(s: &str) -> Option<u64> {
    if let Some(v) = short_integer(s) {
        return u64::try_from(v).ok();
    }
    let v: f64 = s.trim().parse().ok()?;
    (v.is_finite() && v >= 0.0).then(|| v.round() as u64)
}

fn kind_from_fields(f: &Fields) -> Option<ApiKind> {
    if f.get(Var::ResourcePath).is_some() {
        return Some(ApiKind::Rest);
    }
    if f.get(Var::EventType).is_some() || f.get(Var::ConnectionId).is_some() {
        return Some(ApiKind::Websocket);
    }
    match f.get(Var::RouteKey) {
        Some("$connect" | "$disconnect") => Some(ApiKind::Websocket),
        Some(_) => Some(ApiKind::Http),
        None => None,
    }
}

fn kind_from_log_group(group: &str) -> Option<ApiKind> {
    if exec_log_group(group).is_some() {
        return Some(ApiKind::Rest);
    }
    let g = group.to_ascii_lowercase();
    if g.contains("websocket") {
        Some(ApiKind::Websocket)
    } else if g.contains("http-api") || g.contains("httpapi") || g.contains("http_api") {
        Some(ApiKind::Http)
    } else if g.contains("rest-api") || g.contains("restapi") || g.contains("rest_api") {
        Some(ApiKind::Rest)
    } else {
        None
    }
}

/// `API-Gateway-Execution-Logs_{api-id}/{stage}[/Canary]` → (api id, stage).
pub fn exec_log_group(group: &str) -> Option<(&str, &str)> {
    let rest = group.strip_prefix("API-Gateway-Execution-Logs_")?;
    let (id, stage) = rest.split_once('/')?;
    let stage = stage.strip_suffix("/Canary").unwrap_or(stage);
    (!id.is_empty() && !stage.is_empty()).then_some((id, stage))
}

/// `$context.path` on execute-api domains is `/{stage}/...`; the client sent `/...`.
fn strip_stage(mut path: String, stage: Option<&str>, may_carry_stage: bool) -> String {
    let Some(stage) = stage.filter(|s| *s != "$default") else {
        return path;
    };
    if !may_carry_stage {
        return path;
    }
    match path.strip_prefix('/').and_then(|p| p.strip_prefix(stage)) {
        // `/prod` → `/`; `/prod/pets` → `/pets`; `/prod?x` → `/?x`. In place: no new allocation.
        Some("") => "/".to_string(),
        Some(rest) if rest.starts_with('/') => {
            path.replace_range(..=stage.len(), "");
            path
        }
        Some(rest) if rest.starts_with('?') => {
            path.replace_range(1..=stage.len(), "");
            path
        }
        _ => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::formats::parse_line;
    use crate::transaction::SourceFormat;

    fn event(msg: &str) -> LogEvent {
        LogEvent {
            id: "37000000000000000000000000000000000000000000000000000001".into(),
            timestamp: 1_690_373_223_000,
            message: msg.into(),
            lossy: false,
        }
    }

    fn ctx<'a>(filters: &'a [String], group: &'a str) -> Context<'a> {
        Context {
            log_group: group,
            log_stream: "stream-1",
            owner: "123456789012",
            subscription_filters: filters,
            region: None,
        }
    }

    #[test]
    fn rest_recommended_format() {
        let line = r#"{"requestId":"48752d0f-c99d-4cfa-a5a7-f3c6834d19e5","extendedRequestId":"Vts2pH6ArPEFcuQ=","requestTimeEpoch":"1686411388000","httpMethod":"GET","path":"/prod/pets/42","resourcePath":"/pets/{petId}","protocol":"HTTP/1.1","status":"200","responseLength":"48","responseLatency":"31","integrationLatency":"27","ip":"1.128.0.0","userAgent":"curl/8.4.0","domainName":"asad15n3p0.execute-api.us-east-1.amazonaws.com","apiId":"asad15n3p0","stage":"prod","accountId":"123456789012","caller":"-","user":"-","apiKeyId":"-","principalId":"-","errorMessage":"-","wafResponseCode":"-"}"#;
        let e = event(line);
        let t = to_transaction(
            parse_line(line).unwrap(),
            &e,
            &ctx(&[], "/aws/apigateway/petstore-prod"),
        );
        assert_eq!(t.id, "48752d0f-c99d-4cfa-a5a7-f3c6834d19e5");
        assert_eq!(t.time_ms, 1_686_411_388_000);
        assert_eq!(t.api.kind, ApiKind::Rest);
        assert_eq!(t.api.region.as_deref(), Some("us-east-1"));
        assert_eq!(t.request.path.as_deref(), Some("/pets/42"));
        assert_eq!(t.request.route.as_deref(), Some("/pets/{petId}"));
        assert_eq!(t.request.headers["user-agent"], vec!["curl/8.4.0"]);
        assert_eq!(t.response.status, Some(200));
        assert_eq!(t.response.latency_ms, Some(31));
        assert_eq!(t.response.integration_latency_ms, Some(27));
        assert!(t.flags.discovery_only);
        assert_eq!(t.source.format, SourceFormat::AccessJson);
        let expected = serde_json::json!({
            "schema": "apigw-stream/v1", "id": "48752d0f-c99d-4cfa-a5a7-f3c6834d19e5", "time_ms": 1686411388000i64,
            "api": {"kind": "rest", "id": "asad15n3p0", "stage": "prod", "account": "123456789012",
                    "region": "us-east-1", "domain": "asad15n3p0.execute-api.us-east-1.amazonaws.com"},
            "request": {"method": "GET", "scheme": "https", "host": "asad15n3p0.execute-api.us-east-1.amazonaws.com",
                        "path": "/pets/42", "query": null, "route": "/pets/{petId}", "protocol": "HTTP/1.1",
                        "client_ip": "1.128.0.0", "headers": {"user-agent": ["curl/8.4.0"]}, "body": null},
            "response": {"status": 200, "length": 48, "latency_ms": 31, "integration_latency_ms": 27,
                         "headers": {}, "body": null},
            "flags": {"discovery_only": true, "body_truncated": false, "partial": false},
            "source": {"log_group": "/aws/apigateway/petstore-prod", "log_stream": "stream-1",
                       "event_id": "37000000000000000000000000000000000000000000000000000001", "format": "access-json"}
        });
        assert_eq!(serde_json::to_value(&t).unwrap(), expected);
    }

    #[test]
    fn http_console_json_uses_filter_name_and_clf_time() {
        let line = r#"{"requestId":"GQIVriFLIAMEMsA=","ip":"1.128.0.0","requestTime":"09/Jun/2023:12:54:08 +0000","httpMethod":"GET","routeKey":"GET /","status":"200","protocol":"HTTP/1.1","responseLength":"47140"}"#;
        let filters = vec!["apigw-stream/http/1ax3mj7iqf/$default".to_string()];
        let t = to_transaction(
            parse_line(line).unwrap(),
            &event(line),
            &ctx(&filters, "/aws/apigateway/x"),
        );
        assert_eq!(t.api.kind, ApiKind::Http);
        assert_eq!(t.api.id.as_deref(), Some("1ax3mj7iqf"));
        assert_eq!(t.api.stage.as_deref(), Some("$default"));
        assert_eq!(t.time_ms, 1_686_315_248_000);
        assert_eq!(t.request.route.as_deref(), Some("/"));
        assert_eq!(t.request.path, None);
    }

    #[test]
    fn websocket_line() {
        let line = r#"{"requestId":"Iq9gwFDNoAMFo1A=","ip":"1.128.0.0","caller":"-","user":"-","requestTime":"26/Jul/2023:12:20:46 +0000","eventType":"CONNECT","routeKey":"$connect","status":"500","connectionId":"Iq8gj1UmIAMCKpA=","apiId":"z1ctxygne5","stage":"production","domainName":"z1ctxygne5.execute-api.us-east-1.amazonaws.com"}"#;
        let t = to_transaction(parse_line(line).unwrap(), &event(line), &ctx(&[], "g"));
        assert_eq!(t.api.kind, ApiKind::Websocket);
        assert_eq!(t.request.route.as_deref(), Some("$connect"));
        assert_eq!(t.response.status, Some(500));
    }

    #[test]
    fn id_falls_back_to_stream_and_event() {
        let line = r#"{"status":"200","httpMethod":"GET","requestId":"-"}"#;
        let t = to_transaction(parse_line(line).unwrap(), &event(line), &ctx(&[], "g"));
        assert_eq!(
            t.id,
            "stream-1/37000000000000000000000000000000000000000000000000000001"
        );
        assert_eq!(t.time_ms, 1_690_373_223_000);
        let replaced = r#"{"requestId":"UUID_REPLACED_INVALID_REQUEST_ID","extendedRequestId":"abc=","status":"200"}"#;
        let t = to_transaction(
            parse_line(replaced).unwrap(),
            &event(replaced),
            &ctx(&[], "g"),
        );
        assert_eq!(t.id, "abc=");
    }

    #[test]
    fn digit_times_and_numbers_read_as_the_float_path_reads_them() {
        // What `parse_epoch` and the float reading of `parse_u64` give, for the digit strings
        // the integer path now takes first (up to 15 digits) and the ones it leaves.
        let float_epoch = |s: &str| parse_epoch(s);
        let float_u64 = |s: &str| {
            let v: f64 = s.parse().ok()?;
            (v.is_finite() && v >= 0.0).then(|| v.round() as u64)
        };
        for s in [
            "0",
            "7",
            "000",
            "1686411388",
            "99999999999",
            "100000000000",
            "1686411388000",
            "001686411388000",
            "999999999999999",
            "0001686411388000",
            "12345678901234567",
        ] {
            assert_eq!(parse_request_time(s), float_epoch(s), "{s}");
            assert_eq!(parse_u64(s), float_u64(s), "{s}");
        }
        assert_eq!(parse_request_time("1686411388"), Some(1_686_411_388_000));
        assert_eq!(parse_request_time("1686411388000"), Some(1_686_411_388_000));
        assert_eq!(parse_request_time("0"), None);
        assert_eq!(parse_u64("48"), Some(48));
    }

    #[test]
    fn stage_prefix_only_stripped_when_present() {
        assert_eq!(
            strip_stage("/prod/pets".into(), Some("prod"), true),
            "/pets"
        );
        assert_eq!(strip_stage("/prod".into(), Some("prod"), true), "/");
        assert_eq!(
            strip_stage("/production/x".into(), Some("prod"), true),
            "/production/x"
        );
        assert_eq!(
            strip_stage("/prod/pets".into(), Some("prod"), false),
            "/prod/pets"
        );
        assert_eq!(strip_stage("/pets".into(), Some("$default"), true), "/pets");
    }

    #[test]
    fn filter_names_and_domains() {
        let f = FilterName::parse("apigw-stream/rest/abc123/prod").unwrap();
        assert_eq!(
            (f.kind, f.api_id, f.stage),
            (ApiKind::Rest, Some("abc123"), Some("prod"))
        );
        let shared = FilterName::parse("apigw-stream/http/-/-").unwrap();
        assert_eq!(
            (shared.kind, shared.api_id, shared.stage),
            (ApiKind::Http, None, None)
        );
        assert!(FilterName::parse("other/rest/a/b").is_none());
        assert!(FilterName::parse("apigw-stream/soap/a/b").is_none());
        assert_eq!(
            FilterName::format(ApiKind::Http, "x", "$default"),
            "apigw-stream/http/x/$default"
        );
        assert_eq!(
            parse_execute_api_domain("asad15n3p0.execute-api.us-east-1.amazonaws.com"),
            Some(("asad15n3p0", "us-east-1"))
        );
        assert_eq!(parse_execute_api_domain("api.example.com"), None);
    }
}
