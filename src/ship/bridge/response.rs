//! What both HTTP callers (the collector client, the OAuth token request) read from a response
//! they do not trust: a capped body, and where a redirect pointed (its host only).

use reqwest::Url;

/// The host a `Location` header points at, for the error (never the full URL: it may carry
/// a token in its query).
pub fn location_host(base: &Url, location: Option<&str>) -> String {
    match location.map(|l| base.join(l)) {
        None => "no Location".to_string(),
        Some(Ok(u)) => u.host_str().unwrap_or("a URL without host").to_string(),
        Some(Err(_)) => "an invalid Location".to_string(),
    }
}

/// Up to `cap` bytes of the body, and whether that was all of it.
pub async fn read_body_capped(
    resp: &mut reqwest::Response,
    cap: usize,
) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let mut buf = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        let room = cap - buf.len();
        if chunk.len() > room {
            buf.extend_from_slice(&chunk[..room]);
            return Ok((buf, false));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok((buf, true))
}
