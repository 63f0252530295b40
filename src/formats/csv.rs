//! The console CSV templates, recognized by their column count:
//!
//! REST (11): `ip,caller,user,requestTime,httpMethod,resourcePath,protocol,status,responseLength,requestId,extendedRequestId`
//! HTTP (8):  `ip,requestTime,httpMethod,routeKey,protocol,status,responseLength,requestId`

use super::fields::{Fields, Var};
use super::LineError;

const REST: [Var; 11] = [
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
const HTTP: [Var; 8] = [
    Var::SourceIp,
    Var::RequestTime,
    Var::HttpMethod,
    Var::RouteKey,
    Var::Protocol,
    Var::Status,
    Var::ResponseLength,
    Var::RequestId,
];

/// Separators looked at before a line is refused: the templates have 7 or 10, quoted values may
/// hold a few more; a line of millions of commas must not become millions of fields in memory.
const MAX_SEPARATORS: usize = 256;

pub fn parse(line: &str) -> Result<Fields, LineError> {
    if memchr::memchr_iter(b',', line.as_bytes())
        .nth(MAX_SEPARATORS)
        .is_some()
    {
        return Err(LineError::Csv(format!(
            "more than {MAX_SEPARATORS} commas; the console templates have 11 (REST) or 8 (HTTP) columns"
        )));
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(line.as_bytes());
    let mut record = csv::StringRecord::new();
    let found = reader
        .read_record(&mut record)
        .map_err(|e| LineError::Csv(e.to_string()))?;
    if !found {
        return Err(LineError::Csv("empty line".into()));
    }
    let columns: &[Var] = match record.len() {
        11 => &REST,
        8 => &HTTP,
        n => {
            return Err(LineError::Csv(format!(
                "{n} columns; the console templates have 11 (REST) or 8 (HTTP)"
            )))
        }
    };
    let mut f = Fields::default();
    for (var, value) in columns.iter().zip(record.iter()) {
        f.set(*var, value);
    }
    let status_ok = f
        .get(Var::Status)
        .is_none_or(|s| s.bytes().all(|b| b.is_ascii_digit()));
    if !status_ok {
        return Err(LineError::Csv("status column is not a number".into()));
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
    fn wrong_shape() {
        assert!(parse("a,b,c").is_err());
        assert!(parse("1.1.1.1,t,GET,GET /,HTTP/1.1,OK,1,r").is_err());
        let commas = ",".repeat(1_000_000);
        assert!(matches!(parse(&commas), Err(LineError::Csv(e)) if e.contains("256")));
    }
}
