//! One execution-log line → a typed event. Borrowing only: no allocation per line.
//!
//! A line is `(<request-id>) <text>`; the 2016 format has no prefix. Lines longer than 1 KB end
//! with ` [TRUNCATED]`, which is removed and reported as [`Line::truncated`].

/// One line of an execution log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line<'a> {
    /// The `(…)` prefix, when the line has one.
    pub request_id: Option<&'a str>,
    pub event: Event<'a>,
    /// API Gateway cut the line at 1 KB.
    pub truncated: bool,
}

/// What a line says. Map and body variants carry the text after the label, unparsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<'a> {
    ExtendedRequestId(&'a str),
    AuthorizerStarted,
    AuthorizerSucceeded,
    /// `Unauthorized request: <id>`: the Lambda authorizer denied the request.
    AuthorizerDenied,
    /// `Verifying Usage Plan for request: <id>. API Key: … API Stage: <api>/<stage>`.
    UsagePlanVerifying {
        request_id: &'a str,
        api_stage: Option<&'a str>,
    },
    /// `API Key … authorized because method 'POST /pets/{id}' …`: method and route template.
    ApiKeyAuthorized {
        method: &'a str,
        route: &'a str,
    },
    UsagePlanSucceeded,
    ExecutionStarted {
        request_id: &'a str,
    },
    /// `HTTP Method: GET, Resource Path: /pets/42` (the path the client asked for).
    HttpMethod {
        method: &'a str,
        path: &'a str,
    },
    MethodRequestPath(&'a str),
    MethodRequestQuery(&'a str),
    MethodRequestHeaders(&'a str),
    MethodRequestBody(&'a str),
    EndpointRequestUri(&'a str),
    EndpointRequestHeaders(&'a str),
    EndpointRequestBody(&'a str),
    SendingRequest,
    /// `Received response. Status: 200, Integration latency: 12 ms` (older lines lack `Status:`).
    ReceivedResponse {
        status: Option<u16>,
        latency_ms: Option<u64>,
    },
    EndpointResponseHeaders(&'a str),
    EndpointResponseBody(&'a str),
    MethodResponseBody(&'a str),
    MethodResponseHeaders(&'a str),
    ExecutionSucceeded,
    /// `Execution failed due to …` (the whole text).
    ExecutionFailed(&'a str),
    /// `Lambda execution failed with status … due to customer function error: …`.
    LambdaFailed(&'a str),
    /// `Key throttle limit exceeded for RestApi …` and the other `… throttle limit exceeded` lines.
    Throttled(&'a str),
    MethodCompleted {
        status: Option<u16>,
    },
    IntegrationRequestId(&'a str),
    XrayTraceId(&'a str),
    /// A line of a kind not listed above (counted, kept with the record's lines).
    Other(&'a str),
}

impl Event<'_> {
    /// Kinds that only execution logs write: enough to recognise a line without its `(id)` prefix.
    pub fn is_known(&self) -> bool {
        !matches!(self, Event::Other(_))
    }
}

const TRUNCATED: &str = " [TRUNCATED]";

/// A request id that can name a request: API Gateway's are 36 characters of letters, digits and
/// `-`; anything empty, longer than 80 or with other characters is not one.
pub fn usable_request_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 80 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Split `(<id>) text`. The id is what API Gateway puts there: letters, digits and `-`.
pub fn split_request_id(message: &str) -> (Option<&str>, &str) {
    let Some(rest) = message.strip_prefix('(') else {
        return (None, message);
    };
    // Request ids are 36 characters; look no further than a little beyond.
    let window = &rest.as_bytes()[..rest.len().min(80)];
    let Some(close) = window.iter().position(|&b| b == b')') else {
        return (None, message);
    };
    let id = &rest[..close];
    let valid = usable_request_id(id);
    match rest[close + 1..].strip_prefix(' ') {
        Some(text) if valid => (Some(id), text),
        _ => (None, message),
    }
}

/// Parse one message.
pub fn parse(message: &str) -> Line<'_> {
    let (request_id, text) = split_request_id(message);
    let (text, truncated) = match text.strip_suffix(TRUNCATED) {
        Some(t) => (t, true),
        None => (text, false),
    };
    Line {
        request_id,
        event: parse_text(text),
        truncated,
    }
}

/// The text after `label`, when the text starts with it.
fn after<'a>(text: &'a str, label: &str) -> Option<&'a str> {
    text.strip_prefix(label)
}

/// The event of a line's text (prefix and truncation marker removed).
pub fn parse_text(text: &str) -> Event<'_> {
    // Dispatch on the first byte first: most lines are decided by one or two prefix checks.
    let e = match text.as_bytes().first() {
        Some(b'M') => method_line(text),
        Some(b'E') => endpoint_line(text),
        Some(b'A') => a_line(text),
        Some(b'S') => s_line(text),
        Some(b'H') => {
            after(text, "HTTP Method: ").map(|rest| match rest.split_once(", Resource Path: ") {
                Some((method, path)) => Event::HttpMethod { method, path },
                None => Event::HttpMethod {
                    method: rest,
                    path: "",
                },
            })
        }
        Some(b'R') => after(text, "Received response. ").map(received),
        Some(b'V') => after(text, "Verifying Usage Plan for request: ").map(|rest| {
            Event::UsagePlanVerifying {
                request_id: rest.split_once(". ").map_or("", |(id, _)| id.trim()),
                api_stage: rest
                    .rsplit_once("API Stage: ")
                    .map(|(_, s)| s.trim())
                    .filter(|s| !s.is_empty()),
            }
        }),
        Some(b'U') => {
            if text.starts_with("Usage Plan check succeeded") {
                Some(Event::UsagePlanSucceeded)
            } else if text.starts_with("Unauthorized request: ") {
                Some(Event::AuthorizerDenied)
            } else {
                None
            }
        }
        Some(b'L') => text
            .starts_with("Lambda execution failed")
            .then_some(Event::LambdaFailed(text)),
        Some(b'X') => after(text, "X-ray Tracing ID : ").map(Event::XrayTraceId),
        _ => None,
    };
    e.or_else(|| throttled(text)).unwrap_or(Event::Other(text))
}

fn method_line(text: &str) -> Option<Event<'_>> {
    let rest = text.strip_prefix("Method ")?;
    if let Some(v) = after(rest, "request headers: ") {
        Some(Event::MethodRequestHeaders(v))
    } else if let Some(v) = after(rest, "request body before transformations: ") {
        Some(Event::MethodRequestBody(v))
    } else if let Some(v) = after(rest, "request query string: ") {
        Some(Event::MethodRequestQuery(v))
    } else if let Some(v) = after(rest, "request path: ") {
        Some(Event::MethodRequestPath(v))
    } else if let Some(v) = after(rest, "response body after transformations: ") {
        Some(Event::MethodResponseBody(v))
    } else if let Some(v) = after(rest, "response headers: ") {
        Some(Event::MethodResponseHeaders(v))
    } else if let Some(v) = after(rest, "completed with status: ") {
        Some(Event::MethodCompleted {
            status: v.trim().parse().ok(),
        })
    } else {
        // An empty body: the trailing space is sometimes trimmed away.
        after(rest, "request body before transformations:").map(Event::MethodRequestBody)
    }
}

fn endpoint_line(text: &str) -> Option<Event<'_>> {
    if let Some(rest) = text.strip_prefix("Endpoint request ") {
        if let Some(v) = after(rest, "body after transformations: ") {
            Some(Event::EndpointRequestBody(v))
        } else if let Some(v) = after(rest, "headers: ") {
            Some(Event::EndpointRequestHeaders(v))
        } else {
            after(rest, "URI: ").map(Event::EndpointRequestUri)
        }
    } else if let Some(rest) = text.strip_prefix("Endpoint response ") {
        if let Some(v) = after(rest, "body before transformations: ") {
            Some(Event::EndpointResponseBody(v))
        } else {
            after(rest, "headers: ").map(Event::EndpointResponseHeaders)
        }
    } else if text.starts_with("Execution failed due to ") {
        Some(Event::ExecutionFailed(text))
    } else {
        after(text, "Extended Request Id: ").map(|v| Event::ExtendedRequestId(v.trim()))
    }
}

fn a_line(text: &str) -> Option<Event<'_>> {
    if let Some(v) = after(text, "AWS Integration Endpoint RequestId : ") {
        return Some(Event::IntegrationRequestId(v.trim()));
    }
    // `API Key  authorized because method 'POST /jazz/apilinter' does not require API Key…`
    // (one or two spaces, or the masked key between them).
    if text.starts_with("API Key") {
        let (_, rest) = text.split_once(" authorized because method '")?;
        let (quoted, _) = rest.split_once('\'')?;
        let (method, route) = quoted.split_once(' ')?;
        return Some(Event::ApiKeyAuthorized { method, route });
    }
    None
}

fn s_line(text: &str) -> Option<Event<'_>> {
    if text.starts_with("Successfully completed execution") {
        Some(Event::ExecutionSucceeded)
    } else if text.starts_with("Successfully completed authorizer execution") {
        Some(Event::AuthorizerSucceeded)
    } else if let Some(v) = after(text, "Starting execution for request: ") {
        Some(Event::ExecutionStarted {
            request_id: v.trim(),
        })
    } else if text.starts_with("Starting authorizer: ") {
        Some(Event::AuthorizerStarted)
    } else if text.starts_with("Sending request to ") {
        Some(Event::SendingRequest)
    } else {
        None
    }
}

/// `Status: 200, Integration latency: 12 ms` or `Integration latency: 40 ms`.
fn received(rest: &str) -> Event<'_> {
    let number = |label: &str| -> Option<&str> {
        let (_, after) = rest.split_once(label)?;
        let end = after
            .bytes()
            .position(|b| !b.is_ascii_digit())
            .unwrap_or(after.len());
        Some(&after[..end])
    };
    Event::ReceivedResponse {
        status: number("Status: ").and_then(|s| s.parse().ok()),
        latency_ms: number("Integration latency: ").and_then(|s| s.parse().ok()),
    }
}

/// `Key throttle limit exceeded for RestApi …`, `Stage throttle limit exceeded…`, and the like.
fn throttled(text: &str) -> Option<Event<'_>> {
    let head = &text.as_bytes()[..text.len().min(40)];
    memchr::memmem::find(head, b"throttle limit exceeded").map(|_| Event::Throttled(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "5cb7ee58-39e6-11e9-be7e-29aff96747f2";

    fn ev(text: &str) -> Event<'_> {
        parse_text(text)
    }

    #[test]
    fn prefix_and_truncation() {
        let msg = format!("({ID}) Endpoint request headers: {{Authorization=****ad4886, X-Amz-Security-Token=FQoG [TRUNCATED]");
        let l = parse(&msg);
        assert_eq!(l.request_id, Some(ID));
        assert!(l.truncated);
        assert_eq!(
            l.event,
            Event::EndpointRequestHeaders("{Authorization=****ad4886, X-Amz-Security-Token=FQoG")
        );
        // The Datadog snapshot's 35-character placeholder id.
        let (id, text) =
            split_request_id("(aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaa) Extended Request Id: X=");
        assert_eq!(id, Some("aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaa"));
        assert_eq!(text, "Extended Request Id: X=");
        // Not a prefix: no closing parenthesis, spaces inside, no space after.
        assert_eq!(split_request_id("(abc def) x").0, None);
        assert_eq!(split_request_id("(abc)x").0, None);
        assert_eq!(split_request_id("(abc").0, None);
        assert_eq!(split_request_id("(").0, None);
    }

    #[test]
    fn every_kind() {
        assert_eq!(
            ev("Extended Request Id: Vts2pH6ArPEFcuQ="),
            Event::ExtendedRequestId("Vts2pH6ArPEFcuQ=")
        );
        assert_eq!(
            ev("Starting authorizer: 62mgrc for request: x"),
            Event::AuthorizerStarted
        );
        assert_eq!(
            ev("Successfully completed authorizer execution"),
            Event::AuthorizerSucceeded
        );
        assert_eq!(ev("Unauthorized request: x"), Event::AuthorizerDenied);
        assert_eq!(
            ev("Verifying Usage Plan for request: x. API Key:  API Stage: uwe3g5jm54/Prod"),
            Event::UsagePlanVerifying {
                request_id: "x",
                api_stage: Some("uwe3g5jm54/Prod")
            }
        );
        assert_eq!(
            ev("API Key  authorized because method 'POST /jazz/apilinter' does not require API Key. Request will not contribute to throttle or quota limits"),
            Event::ApiKeyAuthorized { method: "POST", route: "/jazz/apilinter" }
        );
        assert_eq!(
            ev("API Key **********bMZHBg authorized because method 'GET /pets/{id}' requires API Key and a valid API Key was provided"),
            Event::ApiKeyAuthorized { method: "GET", route: "/pets/{id}" }
        );
        assert_eq!(
            ev("Usage Plan check succeeded for API Key and API Stage a/b"),
            Event::UsagePlanSucceeded
        );
        assert_eq!(
            ev(&format!("Starting execution for request: {ID}")),
            Event::ExecutionStarted { request_id: ID }
        );
        assert_eq!(
            ev("HTTP Method: POST, Resource Path: /api/jazz/apilinter"),
            Event::HttpMethod {
                method: "POST",
                path: "/api/jazz/apilinter"
            }
        );
        assert_eq!(
            ev("Method request path: {id=hello}"),
            Event::MethodRequestPath("{id=hello}")
        );
        assert_eq!(
            ev("Method request query string: {q=koa-oop}"),
            Event::MethodRequestQuery("{q=koa-oop}")
        );
        assert_eq!(
            ev("Method request headers: {A=b}"),
            Event::MethodRequestHeaders("{A=b}")
        );
        assert_eq!(
            ev("Method request body before transformations: "),
            Event::MethodRequestBody("")
        );
        assert_eq!(
            ev("Method request body before transformations:"),
            Event::MethodRequestBody("")
        );
        assert_eq!(
            ev("Endpoint request URI: https://x"),
            Event::EndpointRequestUri("https://x")
        );
        assert_eq!(
            ev("Endpoint request body after transformations: {}"),
            Event::EndpointRequestBody("{}")
        );
        assert_eq!(ev("Sending request to https://x"), Event::SendingRequest);
        assert_eq!(
            ev("Received response. Status: 200, Integration latency: 19 ms"),
            Event::ReceivedResponse {
                status: Some(200),
                latency_ms: Some(19)
            }
        );
        assert_eq!(
            ev("Received response. Integration latency: 11029 ms"),
            Event::ReceivedResponse {
                status: None,
                latency_ms: Some(11029)
            }
        );
        assert_eq!(
            ev("Endpoint response headers: {A=b}"),
            Event::EndpointResponseHeaders("{A=b}")
        );
        assert_eq!(
            ev("Endpoint response body before transformations: x"),
            Event::EndpointResponseBody("x")
        );
        assert_eq!(
            ev("Method response body after transformations: y"),
            Event::MethodResponseBody("y")
        );
        assert_eq!(
            ev("Method response headers: {A=b}"),
            Event::MethodResponseHeaders("{A=b}")
        );
        assert_eq!(
            ev("Successfully completed execution"),
            Event::ExecutionSucceeded
        );
        let failed = "Execution failed due to configuration error: Malformed Lambda proxy response";
        assert_eq!(ev(failed), Event::ExecutionFailed(failed));
        let lambda = "Lambda execution failed with status 200 due to customer function error: boom";
        assert_eq!(ev(lambda), Event::LambdaFailed(lambda));
        let throttle = "Key throttle limit exceeded for RestApi uwe3g5jm54, Stage Prod, Resource k0w8mc, HttpMethod POST. Limit: 1.00 Burst: 1";
        assert_eq!(ev(throttle), Event::Throttled(throttle));
        assert_eq!(
            ev("Method completed with status: 429"),
            Event::MethodCompleted { status: Some(429) }
        );
        assert_eq!(
            ev("AWS Integration Endpoint RequestId : 15aba189"),
            Event::IntegrationRequestId("15aba189")
        );
        assert_eq!(
            ev("X-ray Tracing ID : 1-5c756de5"),
            Event::XrayTraceId("1-5c756de5")
        );
        assert_eq!(
            ev("Incoming identity: ****abc"),
            Event::Other("Incoming identity: ****abc")
        );
        assert_eq!(ev(""), Event::Other(""));
        assert_eq!(ev("API Key: ****x"), Event::Other("API Key: ****x"));
    }
}
