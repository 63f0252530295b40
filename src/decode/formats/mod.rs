//! Access-log line formats: each module turns one log line into [`Fields`] (known `$context`
//! variables). [`parse_line`] picks the module from the line's shape, and keeps only lines that
//! describe an API request ([`Fields::is_api_traffic`]): other services' logs sent to the same
//! destination are told apart and skipped.

pub mod clf;
pub mod csv;
pub mod fields;
mod flat_json;
pub mod json;
pub mod kv;
pub mod xml;

pub use fields::{Fields, Var};

use crate::transaction::SourceFormat;

/// Why one line gave no record. The line is counted (`lines_not_api` when
/// [`LineError::is_not_api`], else `lines_unparsed`) and skipped.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LineError {
    #[error("empty line")]
    Empty,
    #[error("invalid JSON access-log line: {0}")]
    Json(String),
    #[error("JSON line names no known $context variable")]
    NoKnownFields,
    #[error("not a CLF access-log line: {0}")]
    Clf(String),
    #[error("not a CSV access-log line: {0}")]
    Csv(String),
    #[error("invalid XML access-log line: {0}")]
    Xml(String),
    #[error("REST execution-log line with an unusual request id")]
    Execution,
    #[error("unrecognized line format")]
    Unknown,
    #[error(
        "not an API request: no request id with HTTP evidence, and no method with a path or status"
    )]
    NotApi,
}

impl LineError {
    /// The line is not API Gateway access logging at all (another service's log, plain text), as
    /// opposed to an access-log line that is broken (invalid JSON or XML).
    pub fn is_not_api(&self) -> bool {
        !matches!(
            self,
            LineError::Json(_) | LineError::Xml(_) | LineError::Execution
        )
    }
}

/// One parsed line; its values borrow from the line where they can.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedLine<'a> {
    pub format: SourceFormat,
    pub fields: Fields<'a>,
    /// Recovered from a malformed line: some values may be missing or cut.
    pub partial: bool,
}

/// Parse one access-log line in any supported format.
pub fn parse_line(line: &str) -> Result<ParsedLine<'_>, LineError> {
    let line = line.trim();
    let first = line.bytes().next().ok_or(LineError::Empty)?;
    let (format, fields, partial) = match first {
        b'{' => {
            let (f, partial) = json::parse(line)?;
            (SourceFormat::AccessJson, f, partial)
        }
        b'<' => (SourceFormat::AccessXml, xml::parse(line)?, false),
        b'(' if is_execution(line) => return Err(LineError::Execution),
        _ => match kv::looks_like(line).then(|| kv::parse(line)).flatten() {
            Some(f) if f.is_api_traffic() => (SourceFormat::AccessKv, f, false),
            _ if line.contains('[') && line.contains('"') => {
                (SourceFormat::AccessClf, clf::parse(line)?, false)
            }
            _ if line.contains(',') => (SourceFormat::AccessCsv, csv::parse(line)?, false),
            _ => return Err(LineError::Unknown),
        },
    };
    if !fields.is_api_traffic() {
        return Err(LineError::NotApi);
    }
    Ok(ParsedLine {
        format,
        fields,
        partial,
    })
}

/// `(<request id>) <text>`: a REST execution-log line.
fn is_execution(line: &str) -> bool {
    line.find(") ").is_some_and(|end| {
        line[1..end]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'=' | b'+' | b'/'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispatch_by_shape() {
        assert_eq!(
            parse_line(r#"{"requestId":"a","status":"200"}"#)
                .unwrap()
                .format,
            SourceFormat::AccessJson
        );
        assert_eq!(
            parse_line(r#"<request id="a"><status>200</status></request>"#)
                .unwrap()
                .format,
            SourceFormat::AccessXml
        );
        assert_eq!(
            parse_line(r#"1.2.3.4 - - [10/Jun/2023:15:36:28 +0000] "GET /a HTTP/1.1" 200 1 r1"#)
                .unwrap()
                .format,
            SourceFormat::AccessClf
        );
        assert_eq!(
            parse_line("1.2.3.4,10/Jun/2023:15:36:28 +0000,GET,GET /,HTTP/1.1,200,1,r1")
                .unwrap()
                .format,
            SourceFormat::AccessCsv
        );
        assert_eq!(
            parse_line("(515f1e99-39db-11e9-9e96-01e5c04505b9) Method completed with status: 200"),
            Err(LineError::Execution)
        );
        assert_eq!(
            parse_line("[ERROR] First test message"),
            Err(LineError::Unknown)
        );
        assert_eq!(
            parse_line("requestId: c2c284c1-af50-457c-a0f8-5116dc789211, ip: 54.68.203.164, httpMethod: DELETE, status: 404")
                .unwrap()
                .format,
            SourceFormat::AccessKv
        );
        assert_eq!(parse_line("   "), Err(LineError::Empty));
    }
}

#[cfg(test)]
mod not_api_tests {
    use super::*;

    #[test]
    fn other_services_lines_are_not_api_traffic() {
        let lines = [
            // Datadog's test events from /aws/rds/cluster and /aws/lambda (a `status` level).
            r#"{"status":"info","message":"datadog:This is a custom message","ddtags":"my:tag"}"#,
            // Lambda's JSON log format: a request id and a time, nothing of HTTP.
            r#"{"timestamp":"2023-11-30T15:24:09Z","level":"INFO","requestId":"79b4f56e-95b1-4643-9700-2807f4e68189","message":"some log"}"#,
            // A CloudTrail event (request id, user agent, source ip, an event type).
            r#"{"eventVersion":"1.08","userIdentity":{"type":"Root","accountId":"123456789012"},"eventTime":"2023-01-01T00:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1","sourceIPAddress":"1.2.3.4","userAgent":"aws-cli/2","requestID":"ABCDEF0123456789","eventID":"e1","eventType":"AwsApiCall"}"#,
            "START RequestId: 8f507cfc-c4c5-4f4b-8b9d-1e8f7e9e3b2a Version: $LATEST",
            "REPORT RequestId: 8f507cfc-c4c5-4f4b-8b9d-1e8f7e9e3b2a\tDuration: 2.35 ms\tBilled Duration: 3 ms",
            "2023-01-01 12:00:00,123 INFO worker started",
            "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK",
            r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#,
            r#"203.0.113.9 - - [10/Oct/2023:13:55:36 +0000] "GET / HTTP/1.1" 200 612 "-" "curl/8.4.0""#,
            "CWL CONTROL MESSAGE: Checking health of destination Firehose.",
        ];
        for line in lines {
            let e = parse_line(line).map(|p| p.fields).unwrap_err();
            assert!(e.is_not_api(), "{line}: {e}");
        }
    }
}
