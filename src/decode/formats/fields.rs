//! The `$context` variables an access-log line can carry, and how keys name them.
//!
//! Users write their own keys (JSON, XML, `key: value`), so a key is matched loosely: `$context.` /
//! `context.` prefixes dropped, case and `.`/`_`/`-` ignored, and common aliases accepted (`ip`,
//! `sourceIp`, `identity.sourceIp` all mean `$context.identity.sourceIp`). Nested objects arrive
//! as dotted keys, so `{"integration":{"status":..}}` is `integration.status`, never `status`.
//! Documented variables with no place in the record (`$context.xrayTraceId`, `waf.*`, …) are
//! simply not matched: they are ignored, and never taken for a variable that sounds alike.

use std::borrow::Cow;

/// A known access-log variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Var {
    RequestId,
    ExtendedRequestId,
    RequestTime,
    RequestTimeEpoch,
    HttpMethod,
    Path,
    ResourcePath,
    RouteKey,
    Status,
    Protocol,
    ResponseLength,
    ResponseLatency,
    IntegrationLatency,
    SourceIp,
    UserAgent,
    DomainName,
    DomainPrefix,
    ApiId,
    Stage,
    AccountId,
    Caller,
    User,
    ApiKeyId,
    PrincipalId,
    ErrorMessage,
    /// `$context.integrationErrorMessage` / `$context.integration.error`.
    IntegrationError,
    WafResponseCode,
    EventType,
    ConnectionId,
    IntegrationStatus,
    Query,
    ContentType,
}

pub const VAR_COUNT: usize = Var::ContentType as usize + 1;

impl Var {
    /// The variable a key names, if any.
    pub fn from_key(key: &str) -> Option<Var> {
        let mut buf = [0u8; 64];
        let norm = normalize_key(key, &mut buf)?;
        Self::from_normalized(norm)
    }

    /// Lookup on a key already normalized by [`normalize_key`].
    pub fn from_normalized(norm: &[u8]) -> Option<Var> {
        Some(match norm {
            b"requestid" | b"awsrequestid" | b"id" | b"reqid" => Var::RequestId,
            b"extendedrequestid" | b"apigwrequestid" | b"amzapigwid" => Var::ExtendedRequestId,
            b"requesttime" | b"time" | b"timestamp" | b"datetime" | b"date" => Var::RequestTime,
            b"requesttimeepoch" | b"epoch" | b"timeepoch" | b"requestepoch" => {
                Var::RequestTimeEpoch
            }
            b"httpmethod" | b"method" | b"requestmethod" | b"verb" | b"httpverb" => Var::HttpMethod,
            b"path" | b"requestpath" | b"uri" | b"requesturi" | b"urlpath" => Var::Path,
            b"resourcepath" | b"resource" => Var::ResourcePath,
            b"routekey" | b"route" => Var::RouteKey,
            b"status"
            | b"statuscode"
            | b"httpstatus"
            | b"httpstatuscode"
            | b"responsestatus"
            | b"responsestatuscode"
            | b"responsecode" => Var::Status,
            b"protocol" | b"httpversion" | b"httpprotocol" | b"requestprotocol" => Var::Protocol,
            b"responselength" | b"contentlength" | b"bytes" | b"bytessent" | b"responsesize"
            | b"responsebytes" => Var::ResponseLength,
            b"responselatency" | b"latency" | b"latencyms" | b"responselatencyms"
            | b"durationms" | b"duration" => Var::ResponseLatency,
            b"integrationlatency" | b"integrationlatencyms" => Var::IntegrationLatency,
            b"ip" | b"sourceip" | b"identitysourceip" | b"clientip" | b"remoteaddr"
            | b"remoteip" | b"sourceipaddress" | b"callerip" => Var::SourceIp,
            b"useragent"
            | b"identityuseragent"
            | b"requestuseragentheader"
            | b"httpuseragent"
            | b"ua" => Var::UserAgent,
            b"domainname" | b"host" | b"requesthostheader" | b"domain" | b"hostname" => {
                Var::DomainName
            }
            b"domainprefix" => Var::DomainPrefix,
            b"apiid" | b"restapiid" => Var::ApiId,
            b"stage" | b"stagename" => Var::Stage,
            b"accountid" | b"apiaccountid" => Var::AccountId,
            b"caller" | b"identitycaller" => Var::Caller,
            b"user" | b"identityuser" => Var::User,
            b"apikeyid" | b"identityapikeyid" => Var::ApiKeyId,
            b"principalid" | b"authorizerprincipalid" => Var::PrincipalId,
            b"errormessage" | b"errormessagestring" | b"error" => Var::ErrorMessage,
            b"integrationerrormessage" | b"integrationerror" => Var::IntegrationError,
            b"wafresponsecode" => Var::WafResponseCode,
            b"eventtype" => Var::EventType,
            b"connectionid" => Var::ConnectionId,
            b"integrationstatus" | b"integrationintegrationstatus" => Var::IntegrationStatus,
            b"querystring" | b"query" => Var::Query,
            b"contenttype" | b"responsecontenttype" => Var::ContentType,
            _ => return None,
        })
    }
}

/// Lower-case `key` into `buf`, dropping `$context.`/`context.` and `.`, `_`, `-`, `$`.
/// `None` when the key is too long to be a variable name.
pub fn normalize_key<'b>(key: &str, buf: &'b mut [u8; 64]) -> Option<&'b [u8]> {
    let key = key.trim();
    let key = key.strip_prefix('$').unwrap_or(key);
    // `get` rather than indexing: byte 8 may fall inside a multi-byte character.
    let key = match key.get(..8) {
        Some(head) if head.eq_ignore_ascii_case("context.") => &key[8..],
        _ => key,
    };
    let mut n = 0;
    for b in key.bytes() {
        if matches!(b, b'.' | b'_' | b'-' | b'$' | b' ') {
            continue;
        }
        if n == buf.len() {
            return None;
        }
        buf[n] = b.to_ascii_lowercase();
        n += 1;
    }
    Some(&buf[..n])
}

/// Values of the known variables found in one line, borrowed from the line where it has no
/// escapes. API Gateway's `-` (empty variable) is absent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields<'a> {
    /// Boxed: a line's fields pass through several returns and `Result`s on their way to the
    /// record, and 32 values by value were a copy of 776 bytes at each (a tenth of a decode).
    vals: Box<[Option<Cow<'a, str>>; VAR_COUNT]>,
    /// A JSON line's top-level keys include one under which a delivered execution-log event
    /// carries its line ([`super::json::LINE_TEXT_KEYS`]).
    pub(crate) names_text: bool,
}

impl<'a> Fields<'a> {
    pub fn get(&self, var: Var) -> Option<&str> {
        self.vals[var as usize].as_deref()
    }

    pub fn take(&mut self, var: Var) -> Option<String> {
        self.vals[var as usize].take().map(Cow::into_owned)
    }

    /// Set a value; `-`, empty and whitespace-only values mean absent. The first value wins, so an
    /// exact key is not overwritten by a later alias.
    pub fn set(&mut self, var: Var, value: impl Into<Cow<'a, str>>) {
        let slot = &mut self.vals[var as usize];
        if slot.is_some() {
            return;
        }
        let value: Cow<'a, str> = value.into();
        // Most values start and end with a visible ASCII byte: then trim (which reads every
        // end character as Unicode) has nothing to do.
        let visible = |b: Option<&u8>| b.is_some_and(|b| (0x21..0x7f).contains(b));
        let bytes = value.as_bytes();
        if visible(bytes.first()) && visible(bytes.last()) {
            if value != "-" {
                *slot = Some(value);
            }
            return;
        }
        let t = value.trim();
        if t.is_empty() || t == "-" {
            return;
        }
        *slot = Some(if t.len() == value.len() {
            value
        } else {
            match value {
                Cow::Borrowed(b) => Cow::Borrowed(b.trim()),
                Cow::Owned(o) => Cow::Owned(o.trim().to_string()),
            }
        });
    }

    /// The same values, no longer borrowed.
    pub fn into_owned(self) -> Fields<'static> {
        Fields {
            vals: Box::new((*self.vals).map(|v| v.map(|c| Cow::Owned(c.into_owned())))),
            names_text: self.names_text,
        }
    }

    /// Number of variables present.
    pub fn count(&self) -> usize {
        self.vals.iter().filter(|v| v.is_some()).count()
    }

    /// Does this line describe an API request? API Gateway requires every access-log format to
    /// carry `$context.requestId` or `$context.extendedRequestId`; a request id alone is not
    /// enough (Lambda's JSON logs and CloudTrail events carry one too), it must come with one
    /// piece of HTTP evidence. Without an id, a method with a status or a path is accepted.
    pub fn is_api_traffic(&self) -> bool {
        let id = self.get(Var::RequestId).is_some() || self.get(Var::ExtendedRequestId).is_some();
        let method = self.get(Var::HttpMethod).is_some_and(is_method);
        let status = self.get(Var::Status).is_some_and(is_status);
        let target = [Var::Path, Var::ResourcePath, Var::RouteKey]
            .iter()
            .any(|v| self.get(*v).is_some_and(is_target));
        let websocket = self
            .get(Var::EventType)
            .is_some_and(|e| matches!(e, "CONNECT" | "MESSAGE" | "DISCONNECT"))
            || self.get(Var::ConnectionId).is_some();
        let api = self
            .get(Var::DomainName)
            .is_some_and(|d| find_execute_api(d).is_some())
            || (self.get(Var::ApiId).is_some() && self.get(Var::Stage).is_some());
        let http = method
            || status
            || target
            || websocket
            || api
            || self
                .get(Var::Protocol)
                .is_some_and(|p| p.starts_with("HTTP"))
            || self.get(Var::ResponseLength).is_some_and(is_number)
            || self.get(Var::IntegrationLatency).is_some_and(is_number);
        (id && http) || (method && (status || target)) || (status && target)
    }
}

/// Where `.execute-api.` (the mark of an API Gateway default domain) starts in `domain`. memmem:
/// `contains` or `split_once` with a `&str` pattern builds a two-way searcher for every call.
pub fn find_execute_api(domain: &str) -> Option<usize> {
    memchr::memmem::find(domain.as_bytes(), EXECUTE_API.as_bytes())
}

pub const EXECUTE_API: &str = ".execute-api.";

/// An HTTP method token: `GET`, `post`, `ANY`…
fn is_method(s: &str) -> bool {
    (3..=10).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphabetic())
}

/// A three-digit HTTP status.
pub fn is_status(s: &str) -> bool {
    s.len() == 3
        && s.bytes().all(|b| b.is_ascii_digit())
        && (b'1'..=b'5').contains(&s.as_bytes()[0])
}

/// A path, a resource path or a route key (`GET /pets`, `$default`, `$connect`).
fn is_target(s: &str) -> bool {
    s.starts_with('/')
        || s.starts_with('$')
        || s.split_once(' ')
            .is_some_and(|(m, p)| is_method(m) && p.starts_with('/'))
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_loosely() {
        assert_eq!(Var::from_key("requestId"), Some(Var::RequestId));
        assert_eq!(
            Var::from_key("$context.identity.sourceIp"),
            Some(Var::SourceIp)
        );
        assert_eq!(
            Var::from_key("context.identity.sourceIp"),
            Some(Var::SourceIp)
        );
        assert_eq!(Var::from_key("ip"), Some(Var::SourceIp));
        assert_eq!(
            Var::from_key("request_time_epoch"),
            Some(Var::RequestTimeEpoch)
        );
        assert_eq!(Var::from_key("HTTP-Method"), Some(Var::HttpMethod));
        assert_eq!(Var::from_key("favouriteColour"), None);
    }

    #[test]
    fn documented_aliases_and_look_alikes() {
        assert_eq!(Var::from_key("httpStatusCode"), Some(Var::Status));
        assert_eq!(Var::from_key("statusCode"), Some(Var::Status));
        assert_eq!(Var::from_key("identity.userAgent"), Some(Var::UserAgent));
        assert_eq!(
            Var::from_key("integration.latency"),
            Some(Var::IntegrationLatency)
        );
        assert_eq!(
            Var::from_key("integration.status"),
            Some(Var::IntegrationStatus)
        );
        assert_eq!(
            Var::from_key("integration.error"),
            Some(Var::IntegrationError)
        );
        assert_eq!(
            Var::from_key("$context.integrationErrorMessage"),
            Some(Var::IntegrationError)
        );
        assert_eq!(Var::from_key("error.message"), Some(Var::ErrorMessage));
        assert_eq!(
            Var::from_key("authorizer.principalId"),
            Some(Var::PrincipalId)
        );
        assert_eq!(Var::from_key("responseLatency"), Some(Var::ResponseLatency));
        assert_eq!(
            Var::from_key("requestTimeEpoch"),
            Some(Var::RequestTimeEpoch)
        );
        assert_eq!(Var::from_key("routeKey"), Some(Var::RouteKey));
        // Other requests' ids, statuses and latencies are not the request's own.
        for other in [
            "authorizer.status",
            "authorizer.latency",
            "authorizer.requestId",
            "authorize.status",
            "authenticate.latency",
            "integration.requestId",
            "awsEndpointRequestId",
            "waf.status",
            "waf.latency",
            "identity.accountId",
            "xrayTraceId",
            "messageId",
        ] {
            assert_eq!(Var::from_key(other), None, "{other}");
        }
    }

    #[test]
    fn multibyte_keys_do_not_panic() {
        // Found by `cargo fuzz run decode_payload`: byte 8 inside 'ꪪ'.
        assert_eq!(Var::from_key("ET,ꪪꪪAAGE"), None);
        assert_eq!(Var::from_key("ꪪꪪꪪ"), None);
    }

    #[test]
    fn dash_is_absent_and_first_wins() {
        let mut f = Fields::default();
        f.set(Var::Caller, "-");
        f.set(Var::Status, "200");
        f.set(Var::Status, "500");
        assert_eq!(f.get(Var::Caller), None);
        assert_eq!(f.get(Var::Status), Some("200"));
        assert_eq!(f.count(), 1);
    }

    fn fields(pairs: &[(Var, &'static str)]) -> Fields<'static> {
        let mut f = Fields::default();
        for (v, s) in pairs {
            f.set(*v, *s);
        }
        f
    }

    #[test]
    fn api_evidence() {
        // Lambda's JSON log format and a CloudTrail event: a request id, nothing of HTTP.
        assert!(!fields(&[
            (Var::RequestId, "79b4f56e"),
            (Var::RequestTime, "2023-01-01T00:00:00Z")
        ])
        .is_api_traffic());
        assert!(!fields(&[
            (Var::RequestId, "79b4f56e"),
            (Var::UserAgent, "aws-cli"),
            (Var::SourceIp, "1.2.3.4")
        ])
        .is_api_traffic());
        // Datadog's JSON app logs: `status` is a level.
        assert!(!fields(&[(Var::Status, "info")]).is_api_traffic());
        assert!(fields(&[(Var::RequestId, "r"), (Var::Status, "403")]).is_api_traffic());
        assert!(fields(&[(Var::HttpMethod, "GET"), (Var::Path, "/a")]).is_api_traffic());
        assert!(!fields(&[(Var::HttpMethod, "GET")]).is_api_traffic());
    }
}
