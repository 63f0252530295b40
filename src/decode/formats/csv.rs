//! The console CSV templates, recognized by their column count:
//!
//! REST (11): `ip,caller,user,requestTime,httpMethod,resourcePath,protocol,status,responseLength,requestId,extendedRequestId`
//! REST before 2022 (10): the same without `extendedRequestId`
//! HTTP (9):  `ip,requestTime,httpMethod,routeKey,protocol,status,responseLength,requestId,extendedRequestId`
//! HTTP before (8): the same without `extendedRequestId`

use super::fields::{is_status, Fields, Var};
use super::LineError;

const REST: &[Var] = &[
    Var::SourceIp,
    Var::Caller,
    Var::User,
    Var::RequestTime,
    Var::HttpMethod,
    Var::ResourcePath,
    Var::Protocol,
    Var::Status,
    Var::ResponseLength,
    Var::RequestId,
    Var::ExtendedRequestId,
];
const HTTP: &[Var] = &[
    Var::SourceIp,
    Var::RequestTime,
    Var::HttpMethod,
    Var::RouteKey,
    Var::Protocol,
    Var::Status,
    Var::ResponseLength,
    Var::RequestId,
    Var::ExtendedRequestId,
];

/// Separators looked at before a line is refused: the templates have 7 or 10, quoted values may
/// hold a few more; a line of millions of commas must not become millions of fields in memory.
const MAX_SEPARATORS: usize = 256;

thread_local! {
    /// Building a CSV reader compiles its state machine and allocates its buffer: one per thread,
    /// reset for each line, instead of one per line.
    static READER: std::cell::RefCell<LineReader> = std::cell::RefCell::new(LineReader::new());
}

/// A CSV reader over one line at a time.
struct LineReader {
    reader: csv::Reader<std::io::Cursor<Vec<u8>>>,
    record: csv::StringRecord,
}

impl LineReader {
    fn new() -> Self {
        LineReader {
            reader: csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(std::io::Cursor::new(Vec::new())),
            record: csv::StringRecord::new(),
        }
    }

    /// The line's columns as the template's variables.
    fn fields(&mut self, line: &str) -> Result<Fields<'static>, LineError> {
        let text = self.reader.get_mut().get_mut();
        text.clear();
        text.extend_from_slice(line.as_bytes());
        // Back to the start of the new text, parser state cleared.
        self.reader
            .seek(csv::Position::new())
            .map_err(|e| LineError::Csv(e.to_string()))?;
        let found = self
            .reader
            .read_record(&mut self.record)
            .map_err(|e| LineError::Csv(e.to_string()))?;
        if !found {
            return Err(LineError::Csv("empty line".into()));
        }
        columns_to_fields(&self.record)
    }
}

/// The template's columns, told by their count, as variables.
fn columns_to_fields(record: &csv::StringRecord) -> Result<Fields<'static>, LineError> {
    // The templates without `extendedRequestId` are the newer ones minus their last column.
    let columns: &[Var] = match record.len() {
        n @ (10 | 11) => &REST[..n],
        n @ (8 | 9) => &HTTP[..n],
        n => {
            return Err(LineError::Csv(format!(
                "{n} columns; the console templates have 8 or 9 (HTTP), 10 or 11 (REST)"
            )))
        }
    };
    let mut f = Fields::default();
    for (var, value) in columns.iter().zip(record.iter()) {
        f.set(*var, value.to_string());
    }
    Ok(f)
}

pub fn parse(line: &str) -> Result<Fields<'static>, LineError> {
    if memchr::memchr_iter(b',', line.as_bytes())
        .nth(MAX_SEPARATORS)
        .is_some()
    {
        return Err(LineError::Csv(format!(
            "more than {MAX_SEPARATORS} commas; the console templates have 8 to 11 columns"
        )));
    }
    let f = READER.with(|reader| match reader.try_borrow_mut() {
        Ok(mut reader) => reader.fields(line),
        Err(_) => LineReader::new().fields(line),
    })?;
    let status_ok = f.get(Var::Status).is_none_or(is_status);
    if !status_ok {
        return Err(LineError::Csv("status column is not a number".into()));
    }
    let method_ok = f
        .get(Var::HttpMethod)
        .is_some_and(|m| (3..=10).contains(&m.len()) && m.bytes().all(|b| b.is_ascii_alphabetic()));
    if !method_ok {
        return Err(LineError::Csv("method column is not an HTTP method".into()));
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_template() {
        let f = parse("1.128.0.0,-,-,10/Jun/2023:15:36:28 +0000,GET,/pets,HTTP/1.1,200,184,48752d0f-c99d-4cfa-a5a7-f3c6834d19e5,Vts2pH6ArPEFcuQ=").unwrap();
        assert_eq!(f.get(Var::ResourcePath), Some("/pets"));
        assert_eq!(f.get(Var::Caller), None);
        assert_eq!(f.get(Var::ExtendedRequestId), Some("Vts2pH6ArPEFcuQ="));
    }

    #[test]
    fn http_template() {
        let f = parse(
            "1.128.0.0,09/Jun/2023:12:54:08 +0000,GET,GET /,HTTP/1.1,200,47140,GQIVriFLIAMEMsA=",
        )
        .unwrap();
        assert_eq!(f.get(Var::RouteKey), Some("GET /"));
        assert_eq!(f.get(Var::RequestId), Some("GQIVriFLIAMEMsA="));
    }

    #[test]
    fn http_template_with_extended_request_id() {
        // The HTTP API console's current CSV template (9 columns).
        let f = parse("1.128.0.0,09/Jun/2023:12:54:08 +0000,POST,POST /orders,HTTP/1.1,201,17,GQIVriFLIAMEMsA=,GQIVriFLIAMEMsA=").unwrap();
        assert_eq!(f.get(Var::RouteKey), Some("POST /orders"));
        assert_eq!(f.get(Var::Status), Some("201"));
        assert_eq!(f.get(Var::ExtendedRequestId), Some("GQIVriFLIAMEMsA="));
    }

    #[test]
    fn rest_template_before_2022() {
        // The REST console's CSV template before it added `extendedRequestId` (10 columns).
        let f = parse("1.128.0.0,-,-,10/Jun/2023:15:36:28 +0000,GET,/pets/{petId},HTTP/1.1,200,48,c12d1542-b79e-4e79-a158-fdf36452a81b").unwrap();
        assert_eq!(f.get(Var::ResourcePath), Some("/pets/{petId}"));
        assert_eq!(f.get(Var::ResponseLength), Some("48"));
        assert_eq!(
            f.get(Var::RequestId),
            Some("c12d1542-b79e-4e79-a158-fdf36452a81b")
        );
        assert_eq!(f.get(Var::ExtendedRequestId), None);
    }

    #[test]
    fn wrong_shape() {
        assert!(parse("a,b,c").is_err());
        assert!(parse("1.1.1.1,t,GET,GET /,HTTP/1.1,OK,1,r").is_err());
        let commas = ",".repeat(1_000_000);
        assert!(matches!(parse(&commas), Err(LineError::Csv(e)) if e.contains("256")));
    }
}
