//! The `$context` variables an access-log line can carry, and how keys name them.
//!
//! Users write their own JSON/XML keys, so a key is matched loosely: `$context.` / `context.`
//! prefixes dropped, case and `.`/`_`/`-` ignored, and common aliases accepted
//! (`ip`, `sourceIp`, `identity.sourceIp` all mean `$context.identity.sourceIp`).

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
            b"requestid" | b"awsrequestid" | b"id" => Var::RequestId,
            b"extendedrequestid" => Var::ExtendedRequestId,
            b"requesttime" | b"time" => Var::RequestTime,
            b"requesttimeepoch" | b"epoch" | b"timeepoch" => Var::RequestTimeEpoch,
            b"httpmethod" | b"method" => Var::HttpMethod,
            b"path" | b"requestpath" | b"uri" => Var::Path,
            b"resourcepath" | b"resource" => Var::ResourcePath,
            b"routekey" | b"route" => Var::RouteKey,
            b"status" | b"statuscode" | b"httpstatus" => Var::Status,
            b"protocol" | b"httpversion" => Var::Protocol,
            b"responselength" | b"contentlength" | b"bytes" => Var::ResponseLength,
            b"responselatency" | b"latency" | b"durationms" | b"duration" => Var::ResponseLatency,
            b"integrationlatency" | b"integrationlatencyms" => Var::IntegrationLatency,
            b"ip" | b"sourceip" | b"identitysourceip" | b"clientip" | b"remoteaddr" => {
                Var::SourceIp
            }
            b"useragent" | b"identityuseragent" | b"requestuseragentheader" => Var::UserAgent,
            b"domainname" | b"host" | b"requesthostheader" => Var::DomainName,
            b"domainprefix" => Var::DomainPrefix,
            b"apiid" => Var::ApiId,
            b"stage" | b"stagename" => Var::Stage,
            b"accountid" => Var::AccountId,
            b"caller" | b"identitycaller" => Var::Caller,
            b"user" | b"identityuser" => Var::User,
            b"apikeyid" | b"identityapikeyid" => Var::ApiKeyId,
            b"principalid" | b"authorizerprincipalid" => Var::PrincipalId,
            b"errormessage" | b"errormessagestring" => Var::ErrorMessage,
            b"wafresponsecode" => Var::WafResponseCode,
            b"eventtype" => Var::EventType,
            b"connectionid" => Var::ConnectionId,
            b"integrationstatus" => Var::IntegrationStatus,
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

/// Values of the known variables found in one line. API Gateway's `-` (empty variable) is absent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields {
    vals: [Option<String>; VAR_COUNT],
}

impl Fields {
    pub fn get(&self, var: Var) -> Option<&str> {
        self.vals[var as usize].as_deref()
    }

    pub fn take(&mut self, var: Var) -> Option<String> {
        self.vals[var as usize].take()
    }

    /// Set a value; `-`, empty and whitespace-only values mean absent. The first value wins, so an
    /// exact key is not overwritten by a later alias.
    pub fn set(&mut self, var: Var, value: impl Into<String>) {
        let slot = &mut self.vals[var as usize];
        if slot.is_some() {
            return;
        }
        let value: String = value.into();
        let t = value.trim();
        if t.is_empty() || t == "-" {
            return;
        }
        *slot = Some(if t.len() == value.len() {
            value
        } else {
            t.to_string()
        });
    }

    /// Number of variables present.
    pub fn count(&self) -> usize {
        self.vals.iter().filter(|v| v.is_some()).count()
    }
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
}
