//! Common Log Format templates from the console and CloudFormation docs:
//!
//! REST: `ip caller user [time] "method resourcePath protocol" status length requestId [extendedRequestId]`
//! REST (CloudFormation example): `extendedRequestId ip caller user [time] "..." status length requestId`
//! HTTP: `ip - - [time] "method routeKey protocol" status length requestId` (routeKey is `GET /pets`
//! or `$default`, so the quoted part may hold four words).
//!
//! Every template ends with the request id (API Gateway requires one), which is what tells these
//! lines from a web server's Common Log Format. Text after the ids is an error message
//! (`$context.integrationErrorMessage` or `$context.error.message` appended to a template).

use super::fields::{Fields, Var};
use super::LineError;

pub fn parse(line: &str) -> Result<Fields<'_>, LineError> {
    let (open, close, q1, q2) = delimiters(line)?;
    let mut f = Fields::default();
    set_client(&mut f, &line[..open])?;
    f.set(Var::RequestTime, &line[open + 1..close]);
    set_request(&mut f, &line[q1 + 1..q2])?;
    set_status_and_ids(&mut f, line, q2 + 1)?;
    Ok(f)
}

fn err(why: &str) -> LineError {
    LineError::Clf(why.to_string())
}

/// Byte offsets of `[`, `]` and the request line's two quotes.
fn delimiters(line: &str) -> Result<(usize, usize, usize, usize), LineError> {
    let open = line.find('[').ok_or_else(|| err("no [time]"))?;
    let close = open
        + line[open..]
            .find(']')
            .ok_or_else(|| err("unclosed [time]"))?;
    let q1 = close
        + line[close..]
            .find('"')
            .ok_or_else(|| err("no quoted request"))?;
    // A request line holds no quote (a path's `"` is `%22`); an error message after it may.
    let q2 = q1
        + 1
        + line[q1 + 1..]
            .find('"')
            .ok_or_else(|| err("unclosed quoted request"))?;
    Ok((open, close, q1, q2))
}

/// The words before `[time]`: `ip caller user`, with the extended request id first, or the ip alone.
fn set_client<'a>(f: &mut Fields<'a>, text: &'a str) -> Result<(), LineError> {
    let before: Vec<&str> = text.split_whitespace().collect();
    match before.len() {
        3 => {
            f.set(Var::SourceIp, before[0]);
            f.set(Var::Caller, before[1]);
            f.set(Var::User, before[2]);
        }
        4 => {
            f.set(Var::ExtendedRequestId, before[0]);
            f.set(Var::SourceIp, before[1]);
            f.set(Var::Caller, before[2]);
            f.set(Var::User, before[3]);
        }
        1 => f.set(Var::SourceIp, before[0]),
        _ => return Err(err("expected `ip caller user` before [time]")),
    }
    Ok(())
}

/// The quoted request line: `method target protocol`, or `method routeKey protocol`.
fn set_request<'a>(f: &mut Fields<'a>, text: &'a str) -> Result<(), LineError> {
    let request: Vec<&str> = text.split_whitespace().collect();
    match request.as_slice() {
        [method, target, protocol] => {
            f.set(Var::HttpMethod, *method);
            set_target(f, target);
            f.set(Var::Protocol, *protocol);
        }
        [method, route_method, route_path, protocol] => {
            f.set(Var::HttpMethod, *method);
            f.set(Var::RouteKey, format!("{route_method} {route_path}"));
            f.set(Var::Protocol, *protocol);
        }
        _ => return Err(err("quoted request is not `method target protocol`")),
    }
    Ok(())
}

/// After the request, from byte `from`: `status length requestId [extendedRequestId] [error…]`.
fn set_status_and_ids<'a>(f: &mut Fields<'a>, line: &'a str, from: usize) -> Result<(), LineError> {
    let after: Vec<&str> = line[from..].split_whitespace().collect();
    let [status, length, ids @ ..] = after.as_slice() else {
        return Err(err("expected `status length requestId` after the request"));
    };
    if !status.bytes().all(|b| b.is_ascii_digit()) && *status != "-" {
        return Err(err("status is not a number"));
    }
    f.set(Var::Status, *status);
    f.set(Var::ResponseLength, *length);
    let (rid, rest) = match ids {
        [rid, rest @ ..] if is_id_text(rid) => (*rid, rest),
        _ => return Err(err("no request id after `status length`")),
    };
    f.set(Var::RequestId, rid);
    let rest = match rest {
        [ext, more @ ..]
            if looks_like_id(ext) && (more.is_empty() || ext.ends_with('=') || *ext == "-") =>
        {
            f.set(Var::ExtendedRequestId, *ext);
            more
        }
        _ => rest,
    };
    if !rest.is_empty() {
        // The words are slices of `line`, in order: take the text from the first to the last.
        let (first, last) = (rest[0], rest[rest.len() - 1]);
        let start = first.as_ptr() as usize - line.as_ptr() as usize;
        let end = last.as_ptr() as usize - line.as_ptr() as usize + last.len();
        f.set(Var::ErrorMessage, &line[start..end]);
    }
    Ok(())
}

/// Characters of a request id: UUIDs (REST), base64-ish ids (`Vts2pH6ArPEFcuQ=`), `-`.
fn is_id_text(word: &str) -> bool {
    word.len() <= 128
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'=' | b'+' | b'/'))
}

/// A word that is an id rather than the first word of an error message ("Internal", "The"):
/// `-`, or id text of 8 or more characters with a digit or `=`.
fn looks_like_id(word: &str) -> bool {
    word == "-"
        || (word.len() >= 8
            && is_id_text(word)
            && word.bytes().any(|b| b.is_ascii_digit() || b == b'='))
}

/// A single-word target: `$default`/`$connect` route keys, else a REST resource path.
fn set_target<'a>(f: &mut Fields<'a>, target: &'a str) {
    if target.starts_with('$') {
        f.set(Var::RouteKey, target);
    } else {
        f.set(Var::ResourcePath, target);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_console_template() {
        let f = parse(r#"1.128.0.0 - - [10/Jun/2023:15:36:28 +0000] "GET /pets/{petId} HTTP/1.1" 200 48 48752d0f-c99d-4cfa-a5a7-f3c6834d19e5 Vts2pH6ArPEFcuQ="#).unwrap();
        assert_eq!(f.get(Var::SourceIp), Some("1.128.0.0"));
        assert_eq!(f.get(Var::RequestTime), Some("10/Jun/2023:15:36:28 +0000"));
        assert_eq!(f.get(Var::ResourcePath), Some("/pets/{petId}"));
        assert_eq!(f.get(Var::Status), Some("200"));
        assert_eq!(
            f.get(Var::RequestId),
            Some("48752d0f-c99d-4cfa-a5a7-f3c6834d19e5")
        );
        assert_eq!(f.get(Var::ExtendedRequestId), Some("Vts2pH6ArPEFcuQ="));
    }

    #[test]
    fn http_console_template_with_route_key() {
        let f = parse(r#"1.128.0.0 - - [09/Jun/2023:12:54:08 +0000] "GET GET /pets HTTP/1.1" 200 47140 GQIVriFLIAMEMsA="#).unwrap();
        assert_eq!(f.get(Var::RouteKey), Some("GET /pets"));
        assert_eq!(f.get(Var::HttpMethod), Some("GET"));
        assert_eq!(f.get(Var::RequestId), Some("GQIVriFLIAMEMsA="));
        let d = parse(r#"2001:db8::1 - - [09/Jun/2023:12:54:08 +0000] "POST $default HTTP/2.0" 201 5 Iq8dHhlwIAMEV_g="#).unwrap();
        assert_eq!(d.get(Var::RouteKey), Some("$default"));
    }

    #[test]
    fn cloudformation_example_with_leading_extended_id() {
        let f = parse(r#"Vts2pH6ArPEFcuQ= 1.128.0.0 - - [10/Jun/2023:15:36:28 +0000] "POST /orders HTTP/1.1" 502 36 515f1e99-39db-11e9-9e96-01e5c04505b9"#).unwrap();
        assert_eq!(f.get(Var::ExtendedRequestId), Some("Vts2pH6ArPEFcuQ="));
        assert_eq!(f.get(Var::SourceIp), Some("1.128.0.0"));
        assert_eq!(f.get(Var::Status), Some("502"));
    }

    #[test]
    fn trailing_integration_error_is_the_error_message() {
        let f = parse(r#"1.128.0.0 - - [10/Jun/2023:15:36:28 +0000] "GET GET /pets HTTP/1.1" 500 35 AZzeXgJ6IAMEVbw= The IAM role configured on the integration or API Gateway doesn't have permissions to call the integration."#).unwrap();
        assert_eq!(f.get(Var::RequestId), Some("AZzeXgJ6IAMEVbw="));
        assert_eq!(f.get(Var::ExtendedRequestId), None);
        assert_eq!(
            f.get(Var::ErrorMessage),
            Some("The IAM role configured on the integration or API Gateway doesn't have permissions to call the integration.")
        );
        // Both ids, then the message.
        let f = parse(r#"1.128.0.0 - - [10/Jun/2023:15:36:28 +0000] "GET /pets HTTP/1.1" 502 36 48752d0f-c99d-4cfa-a5a7-f3c6834d19e5 Vts2pH6ArPEFcuQ= Internal server error"#).unwrap();
        assert_eq!(f.get(Var::ExtendedRequestId), Some("Vts2pH6ArPEFcuQ="));
        assert_eq!(f.get(Var::ErrorMessage), Some("Internal server error"));
    }

    #[test]
    fn web_server_clf_without_request_id_is_not_api_gateway() {
        assert!(parse(r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#).is_err());
    }

    #[test]
    fn not_clf() {
        assert!(parse("hello world").is_err());
        assert!(parse(r#"1.2.3.4 - - [t] "GET / HTTP/1.1" abc 1 r"#).is_err());
    }
}
