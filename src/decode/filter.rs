//! Filters that drop records on purpose (each counted by reason) and header redaction.
//!
//! Defaults (the settings registry and docs/architecture.md list them):
//! - static-file extensions: the union of Akto's and Levo's lists, minus `json` and `txt`;
//!   matched case-insensitively on the path without its query string;
//! - response content types to keep: JSON, XML, text/plain, forms, GraphQL, multipart (and any
//!   `+json`/`+xml` suffix), applied only when the record knows its response content type
//!   (access logs don't, so they are never dropped for it);
//! - redacted headers: authorization, cookie, set-cookie, x-api-key, proxy-authorization.

use crate::transaction::{ApiKind, Headers, Transaction};

pub const DEFAULT_STATIC_FILE_EXTENSIONS: &[&str] = &[
    "html", "htm", "css", "js", "mjs", "map", "js.map", "png", "jpg", "jpeg", "gif", "svg", "webp",
    "ico", "bmp", "avif", "woff", "woff2", "ttf", "otf", "eot", "mp4", "webm", "ogg", "ogv", "avi",
    "mov", "wmv", "flv", "mpeg", "mp3", "wav", "oga", "pdf", "zip", "tar", "gz", "7z", "rar",
    "bz2", "apk", "exe", "dmg", "iso", "img", "swf", "pptx",
];

pub const DEFAULT_RESPONSE_CONTENT_TYPES: &[&str] = &[
    "application/json",
    "application/*+json",
    "application/xml",
    "text/xml",
    "application/*+xml",
    "text/plain",
    "application/x-www-form-urlencoded",
    "application/graphql",
    "multipart/form-data",
];

pub const DEFAULT_REDACT_HEADERS: &[&str] = &[
    "authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "proxy-authorization",
];

/// What a redacted header value is replaced with: the header's presence matters to API security,
/// its value must not leave the account.
pub const REDACTED: &str = "[REDACTED]";

#[derive(Debug, Clone, PartialEq)]
pub struct FilterConfig {
    pub rest_api_enabled: bool,
    pub http_api_enabled: bool,
    pub websocket_api_enabled: bool,
    /// Lower-case, without the leading dot.
    pub static_file_extensions: Vec<String>,
    /// Lower-case media types; `type/*+suffix` patterns allowed; empty = keep every type.
    pub response_content_types: Vec<String>,
    /// Lower-case header names.
    pub redact_headers: Vec<String>,
}

impl Default for FilterConfig {
    fn default() -> Self {
        FilterConfig {
            rest_api_enabled: true,
            http_api_enabled: true,
            websocket_api_enabled: true,
            static_file_extensions: DEFAULT_STATIC_FILE_EXTENSIONS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            response_content_types: DEFAULT_RESPONSE_CONTENT_TYPES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            redact_headers: DEFAULT_REDACT_HEADERS
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }
}

/// Why a record was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drop {
    StaticFile,
    ContentType,
    ApiKindDisabled,
}

/// Parse a comma- or whitespace-separated list (env vars, CLI flags, the vendor's `.env`).
pub fn parse_list(s: &str) -> Vec<String> {
    s.split(|c: char| c == ',' || c.is_whitespace())
        .map(|p| {
            p.trim()
                .trim_matches(|c| c == '"' || c == '\'' || c == '[' || c == ']')
        })
        .filter(|p| !p.is_empty())
        .map(|p| p.to_ascii_lowercase())
        .collect()
}

/// Extensions may be written `.png` or `png`.
pub fn parse_extensions(s: &str) -> Vec<String> {
    parse_list(s)
        .into_iter()
        .map(|e| e.trim_start_matches('.').to_string())
        .collect()
}

impl FilterConfig {
    /// Decide whether to keep the record; redact its headers when kept.
    pub fn apply(&self, t: &mut Transaction) -> Result<(), Drop> {
        let enabled = match t.api.kind {
            ApiKind::Rest => self.rest_api_enabled,
            ApiKind::Http => self.http_api_enabled,
            ApiKind::Websocket => self.websocket_api_enabled,
            ApiKind::Unknown => true,
        };
        if !enabled {
            return Err(Drop::ApiKindDisabled);
        }
        if let Some(path) = t.request.path.as_deref().or(t.request.route.as_deref()) {
            if self.is_static(path) {
                return Err(Drop::StaticFile);
            }
        }
        if let Some(ct) = t
            .response
            .headers
            .get("content-type")
            .and_then(|v| v.first())
        {
            if !self.content_type_kept(ct) {
                return Err(Drop::ContentType);
            }
        }
        self.redact(&mut t.request.headers);
        self.redact(&mut t.response.headers);
        Ok(())
    }

    /// Does the path (query ignored) end in a static-file extension?
    pub fn is_static(&self, path: &str) -> bool {
        let path = path.split(['?', '#']).next().unwrap_or(path);
        let last = path.rsplit('/').next().unwrap_or(path);
        let Some(dot) = last.find('.') else {
            return false;
        };
        let lower = last[dot + 1..].to_ascii_lowercase();
        // Every suffix after a dot: "app.min.js.map" → "min.js.map", "js.map", "map".
        let mut ext = lower.as_str();
        loop {
            if self.static_file_extensions.iter().any(|e| e == ext) {
                return true;
            }
            match ext.find('.') {
                Some(i) => ext = &ext[i + 1..],
                None => return false,
            }
        }
    }

    pub fn content_type_kept(&self, content_type: &str) -> bool {
        if self.response_content_types.is_empty() {
            return true;
        }
        let media = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        self.response_content_types
            .iter()
            .any(|pat| media_matches(pat, &media))
    }

    fn redact(&self, headers: &mut Headers) {
        for (name, values) in headers.iter_mut() {
            if self.redact_headers.iter().any(|r| r == name) {
                for v in values.iter_mut() {
                    *v = REDACTED.to_string();
                }
            }
        }
    }
}

/// `application/json` exact; `application/*+json` any subtype with that suffix; `text/*` any subtype.
fn media_matches(pattern: &str, media: &str) -> bool {
    if pattern == media {
        return true;
    }
    let (Some((pt, psub)), Some((mt, msub))) = (pattern.split_once('/'), media.split_once('/'))
    else {
        return false;
    };
    if pt != mt && pt != "*" {
        return false;
    }
    if psub == "*" {
        return true;
    }
    match psub.strip_prefix("*+") {
        Some(suffix) => msub.ends_with(&format!("+{suffix}")),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::Source;

    fn rec(path: &str) -> Transaction {
        let mut t = Transaction::new("id".into(), 0, Source::default());
        t.api.kind = ApiKind::Rest;
        t.request.path = Some(path.into());
        t
    }

    #[test]
    fn static_files_case_insensitive_query_ignored() {
        let f = FilterConfig::default();
        assert!(f.is_static("/assets/Logo.PNG"));
        assert!(f.is_static("/app.min.js.map?v=3"));
        assert!(f.is_static("/index.html#top"));
        assert!(!f.is_static("/pets/42"));
        assert!(!f.is_static("/v1.2/pets"));
        assert!(!f.is_static("/data.json"));
        assert_eq!(f.apply(&mut rec("/a/b.css?x=1")), Err(Drop::StaticFile));
        assert_eq!(f.apply(&mut rec("/pets")), Ok(()));
    }

    #[test]
    fn kind_toggles() {
        let f = FilterConfig {
            rest_api_enabled: false,
            ..FilterConfig::default()
        };
        assert_eq!(f.apply(&mut rec("/pets")), Err(Drop::ApiKindDisabled));
        let mut h = rec("/pets");
        h.api.kind = ApiKind::Http;
        assert_eq!(f.apply(&mut h), Ok(()));
    }

    #[test]
    fn content_types_only_when_known() {
        let f = FilterConfig::default();
        let mut t = rec("/pets");
        t.response.headers.insert(
            "content-type".into(),
            vec!["text/html; charset=utf-8".into()],
        );
        assert_eq!(f.apply(&mut t), Err(Drop::ContentType));
        let mut t = rec("/pets");
        t.response.headers.insert(
            "content-type".into(),
            vec!["application/problem+json".into()],
        );
        assert_eq!(f.apply(&mut t), Ok(()));
        assert!(f.content_type_kept("Application/JSON; charset=utf-8"));
    }

    #[test]
    fn redaction() {
        let f = FilterConfig::default();
        let mut t = rec("/pets");
        t.request
            .headers
            .insert("authorization".into(), vec!["Bearer s3cr3t".into()]);
        t.request
            .headers
            .insert("user-agent".into(), vec!["curl".into()]);
        f.apply(&mut t).unwrap();
        assert_eq!(t.request.headers["authorization"], vec![REDACTED]);
        assert_eq!(t.request.headers["user-agent"], vec!["curl"]);
    }

    #[test]
    fn lists() {
        assert_eq!(
            parse_extensions(".PNG, jpg  .css"),
            vec!["png", "jpg", "css"]
        );
        assert_eq!(
            parse_list("[\"application/json\",\"text/plain\"]"),
            vec!["application/json", "text/plain"]
        );
    }
}
