//! The recommended access-log formats (one place: `enable` and the deploy templates use these
//! strings) and the classification of whatever format a stage already has.
//!
//! Every value is quoted: API Gateway substitutes `$context` variables as text and writes `-` for
//! an empty one, so an unquoted number would make the line invalid JSON.

use serde::Serialize;

use crate::transaction::ApiKind;

/// REST APIs (API Gateway v1), the field list of docs/architecture.md "Recommended access-log format".
pub const REST_FORMAT: &str = concat!(
    r#"{"requestId":"$context.requestId","extendedRequestId":"$context.extendedRequestId","#,
    r#""requestTimeEpoch":"$context.requestTimeEpoch","httpMethod":"$context.httpMethod","#,
    r#""path":"$context.path","resourcePath":"$context.resourcePath","protocol":"$context.protocol","#,
    r#""status":"$context.status","responseLength":"$context.responseLength","#,
    r#""responseLatency":"$context.responseLatency","integrationLatency":"$context.integrationLatency","#,
    r#""ip":"$context.identity.sourceIp","userAgent":"$context.identity.userAgent","#,
    r#""domainName":"$context.domainName","apiId":"$context.apiId","stage":"$context.stage","#,
    r#""accountId":"$context.accountId","caller":"$context.identity.caller","#,
    r#""user":"$context.identity.user","apiKeyId":"$context.identity.apiKeyId","#,
    r#""principalId":"$context.authorizer.principalId","errorMessage":"$context.error.message","#,
    r#""wafResponseCode":"$context.wafResponseCode"}"#
);

/// HTTP APIs: `routeKey` instead of `resourcePath`; no `apiKeyId` or `wafResponseCode` (REST only).
pub const HTTP_FORMAT: &str = concat!(
    r#"{"requestId":"$context.requestId","extendedRequestId":"$context.extendedRequestId","#,
    r#""requestTimeEpoch":"$context.requestTimeEpoch","httpMethod":"$context.httpMethod","#,
    r#""path":"$context.path","routeKey":"$context.routeKey","protocol":"$context.protocol","#,
    r#""status":"$context.status","responseLength":"$context.responseLength","#,
    r#""responseLatency":"$context.responseLatency","integrationLatency":"$context.integrationLatency","#,
    r#""ip":"$context.identity.sourceIp","userAgent":"$context.identity.userAgent","#,
    r#""domainName":"$context.domainName","apiId":"$context.apiId","stage":"$context.stage","#,
    r#""accountId":"$context.accountId","caller":"$context.identity.caller","#,
    r#""user":"$context.identity.user","principalId":"$context.authorizer.principalId","#,
    r#""errorMessage":"$context.error.message"}"#
);

/// WebSocket APIs: no method, path, protocol or response length; the connection and event instead.
pub const WEBSOCKET_FORMAT: &str = concat!(
    r#"{"requestId":"$context.requestId","extendedRequestId":"$context.extendedRequestId","#,
    r#""requestTimeEpoch":"$context.requestTimeEpoch","eventType":"$context.eventType","#,
    r#""routeKey":"$context.routeKey","connectionId":"$context.connectionId","#,
    r#""messageId":"$context.messageId","status":"$context.status","#,
    r#""integrationLatency":"$context.integrationLatency","ip":"$context.identity.sourceIp","#,
    r#""userAgent":"$context.identity.userAgent","domainName":"$context.domainName","#,
    r#""apiId":"$context.apiId","stage":"$context.stage","caller":"$context.identity.caller","#,
    r#""user":"$context.identity.user","apiKeyId":"$context.identity.apiKeyId","#,
    r#""principalId":"$context.authorizer.principalId","errorMessage":"$context.error.message"}"#
);

/// The recommended format for an API kind (`Unknown` gets the REST one, the superset).
pub fn recommended_format(kind: ApiKind) -> &'static str {
    match kind {
        ApiKind::Http => HTTP_FORMAT,
        ApiKind::Websocket => WEBSOCKET_FORMAT,
        ApiKind::Rest | ApiKind::Unknown => REST_FORMAT,
    }
}

/// What kind of format a stage logs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FormatClass {
    /// One of ours (any kind's: a REST stage with the HTTP string still counts).
    Recommended,
    /// One of the console's example templates (JSON, CLF, CSV, XML), which the decoder reads.
    ConsoleJson,
    ConsoleClf,
    ConsoleCsv,
    ConsoleXml,
    /// Anything else: JSON keys are mapped where known, other lines are counted as unparsed.
    OtherJson,
    Other,
}

impl FormatClass {
    pub fn as_str(self) -> &'static str {
        match self {
            FormatClass::Recommended => "recommended",
            FormatClass::ConsoleJson => "console-json",
            FormatClass::ConsoleClf => "console-clf",
            FormatClass::ConsoleCsv => "console-csv",
            FormatClass::ConsoleXml => "console-xml",
            FormatClass::OtherJson => "other-json",
            FormatClass::Other => "other",
        }
    }
}

impl std::fmt::Display for FormatClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `$context` variables of a format, in order (`$context.identity.sourceIp` → `identity.sourceIp`).
pub fn context_variables(format: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = format;
    while let Some(at) = rest.find("$context.") {
        let tail = &rest[at + "$context.".len()..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-'))
            .unwrap_or(tail.len());
        // A trailing dot belongs to the text around the variable, not to it.
        let var = tail[..end].trim_end_matches('.');
        if !var.is_empty() {
            out.push(var);
        }
        rest = &tail[end..];
    }
    out
}

/// Is this one of the recommended formats? Compared as JSON objects, so key order and whitespace
/// do not matter (Terraform's `jsonencode` sorts keys; consoles reflow text).
pub fn is_recommended(format: &str) -> bool {
    let Ok(serde_json::Value::Object(theirs)) = serde_json::from_str::<serde_json::Value>(format)
    else {
        return false;
    };
    [REST_FORMAT, HTTP_FORMAT, WEBSOCKET_FORMAT].iter().any(|ours| {
        matches!(serde_json::from_str::<serde_json::Value>(ours), Ok(serde_json::Value::Object(o)) if o == theirs)
    })
}

/// Classify a stage's access-log format.
pub fn classify(format: &str) -> FormatClass {
    if is_recommended(format) {
        return FormatClass::Recommended;
    }
    let trimmed = format.trim();
    let vars = context_variables(trimmed);
    // The console templates are recognised by their variable lists (REST and HTTP flavours).
    let has = |v: &str| vars.contains(&v);
    let console_core = has("requestId")
        && has("identity.sourceIp")
        && has("httpMethod")
        && has("status")
        && has("protocol")
        && has("responseLength")
        && (has("resourcePath") || has("routeKey"));
    if trimmed.starts_with('{') {
        if console_core && vars.len() <= 11 {
            return FormatClass::ConsoleJson;
        }
        return FormatClass::OtherJson;
    }
    if trimmed.starts_with('<') {
        return if console_core {
            FormatClass::ConsoleXml
        } else {
            FormatClass::Other
        };
    }
    if console_core {
        if trimmed.starts_with("$context.identity.sourceIp,") {
            return FormatClass::ConsoleCsv;
        }
        if trimmed.contains("[$context.requestTime]") {
            return FormatClass::ConsoleClf;
        }
    }
    FormatClass::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recommended_formats_are_json_with_only_context_variables() {
        for (kind, format) in [
            (ApiKind::Rest, REST_FORMAT),
            (ApiKind::Http, HTTP_FORMAT),
            (ApiKind::Websocket, WEBSOCKET_FORMAT),
        ] {
            let value: serde_json::Value = serde_json::from_str(format)
                .unwrap_or_else(|e| panic!("{kind} format is not JSON: {e}"));
            let obj = value.as_object().expect("object");
            for (key, v) in obj {
                let v = v.as_str().expect("string value");
                assert!(v.starts_with("$context."), "{kind}: {key} = {v}");
                assert_eq!(context_variables(v).len(), 1, "{kind}: {key}");
            }
            assert!(obj.contains_key("requestId"), "{kind} needs requestId");
            assert_eq!(classify(format), FormatClass::Recommended);
            assert_eq!(recommended_format(kind), format);
        }
    }

    #[test]
    fn field_lists_follow_the_design() {
        let keys = |f: &str| -> Vec<String> {
            let v: serde_json::Value = serde_json::from_str(f).unwrap();
            v.as_object().unwrap().keys().cloned().collect()
        };
        let rest = keys(REST_FORMAT);
        let http = keys(HTTP_FORMAT);
        assert_eq!(rest.len(), 23);
        assert!(rest.contains(&"resourcePath".into()) && !rest.contains(&"routeKey".into()));
        assert!(http.contains(&"routeKey".into()) && !http.contains(&"resourcePath".into()));
        for rest_only in ["apiKeyId", "wafResponseCode"] {
            assert!(!http.contains(&rest_only.to_string()), "{rest_only}");
        }
    }

    #[test]
    fn console_templates_are_recognised() {
        // The console's example formats, from the API Gateway developer guide (REST, then HTTP).
        let rest_clf = "$context.identity.sourceIp $context.identity.caller $context.identity.user [$context.requestTime] \"$context.httpMethod $context.resourcePath $context.protocol\" $context.status $context.responseLength $context.requestId $context.extendedRequestId";
        let rest_json = r#"{ "requestId":"$context.requestId", "extendedRequestId":"$context.extendedRequestId", "ip": "$context.identity.sourceIp", "caller":"$context.identity.caller", "user":"$context.identity.user", "requestTime":"$context.requestTime", "httpMethod":"$context.httpMethod", "resourcePath":"$context.resourcePath", "status":"$context.status", "protocol":"$context.protocol", "responseLength":"$context.responseLength" }"#;
        let rest_csv = "$context.identity.sourceIp,$context.identity.caller,$context.identity.user,$context.requestTime,$context.httpMethod,$context.resourcePath,$context.protocol,$context.status,$context.responseLength,$context.requestId,$context.extendedRequestId";
        let http_xml = r#"<request id="$context.requestId"> <ip>$context.identity.sourceIp</ip> <requestTime>$context.requestTime</requestTime> <httpMethod>$context.httpMethod</httpMethod> <routeKey>$context.routeKey</routeKey> <status>$context.status</status> <protocol>$context.protocol</protocol> <responseLength>$context.responseLength</responseLength> </request>"#;
        let http_json = r#"{ "requestId":"$context.requestId", "ip": "$context.identity.sourceIp", "requestTime":"$context.requestTime", "httpMethod":"$context.httpMethod","routeKey":"$context.routeKey", "status":"$context.status","protocol":"$context.protocol", "responseLength":"$context.responseLength" }"#;
        assert_eq!(classify(rest_clf), FormatClass::ConsoleClf);
        assert_eq!(classify(rest_json), FormatClass::ConsoleJson);
        assert_eq!(classify(rest_csv), FormatClass::ConsoleCsv);
        assert_eq!(classify(http_xml), FormatClass::ConsoleXml);
        assert_eq!(classify(http_json), FormatClass::ConsoleJson);
        assert_eq!(
            classify(r#"{"id":"$context.requestId"}"#),
            FormatClass::OtherJson
        );
        assert_eq!(
            classify("$context.requestId $context.status"),
            FormatClass::Other
        );
    }

    #[test]
    fn whitespace_and_key_order_do_not_hide_ours() {
        let reflowed = REST_FORMAT.replace(",\"", ",\n  \"");
        assert_eq!(classify(&reflowed), FormatClass::Recommended);
        // Terraform's jsonencode writes the keys sorted.
        let sorted: std::collections::BTreeMap<String, String> =
            serde_json::from_str(HTTP_FORMAT).unwrap();
        assert_eq!(
            classify(&serde_json::to_string(&sorted).unwrap()),
            FormatClass::Recommended
        );
        // One key less is not ours.
        let mut fewer = sorted.clone();
        fewer.remove("userAgent");
        assert_eq!(
            classify(&serde_json::to_string(&fewer).unwrap()),
            FormatClass::OtherJson
        );
    }

    #[test]
    fn context_variables_stop_at_punctuation() {
        assert_eq!(
            context_variables("[$context.requestTime] \"$context.httpMethod\" $context.status."),
            vec!["requestTime", "httpMethod", "status"]
        );
    }
}
