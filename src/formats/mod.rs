//! Access-log line formats: each module turns one log line into [`Fields`] (known `$context`
//! variables). [`parse_line`] picks the module from the line's shape.

pub mod clf;
pub mod csv;
pub mod fields;
pub mod json;
pub mod xml;

pub use fields::{Fields, Var};

use crate::transaction::SourceFormat;

/// Why one line gave no record. The line is counted (`lines_unparsed`) and skipped.
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
}

/// One parsed line.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedLine {
    pub format: SourceFormat,
    pub fields: Fields,
    /// Recovered from a malformed line: some values may be missing or cut.
    pub partial: bool,
}

/// Parse one access-log line in any supported format.
pub fn parse_line(line: &str) -> Result<ParsedLine, LineError> {
    let line = line.trim();
    let first = line.bytes().next().ok_or(LineError::Empty)?;
    let (format, fields, partial) = match first {
        b'{' => {
            let (f, partial) = json::parse(line)?;
            (SourceFormat::AccessJson, f, partial)
        }
        b'<' => (SourceFormat::AccessXml, xml::parse(line)?, false),
        b'(' if is_execution(line) => return Err(LineError::Execution),
        _ if line.contains('[') && line.contains('"') => {
            (SourceFormat::AccessClf, clf::parse(line)?, false)
        }
        _ if line.contains(',') => (SourceFormat::AccessCsv, csv::parse(line)?, false),
        _ => return Err(LineError::Unknown),
    };
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
        assert_eq!(parse_line("   "), Err(LineError::Empty));
    }
}
