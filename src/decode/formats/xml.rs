//! The console XML templates: `<request id="$context.requestId"> <ip>…</ip> … </request>`.
//! Element names are matched like JSON keys, so custom XML formats work too.

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;
use quick_xml::{Reader, XmlVersion};

use super::fields::{Fields, Var};
use super::LineError;

/// Elements read before a line is refused (the templates have about a dozen), and bytes kept of
/// one element's text: a hostile line must not cost memory in proportion to its size.
const MAX_ELEMENTS: usize = 256;
const MAX_TEXT_BYTES: usize = 64 * 1024;

pub fn parse(line: &str) -> Result<Fields<'static>, LineError> {
    let mut elements = 0usize;
    let err = |e: &dyn std::fmt::Display| LineError::Xml(e.to_string());
    let mut reader = Reader::from_str(line);
    let mut f = Fields::default();
    // The element being read and its text so far (entities arrive as separate events).
    let mut current: Option<(Var, String)> = None;
    let mut depth = 0usize;
    let mut closed_root = false;
    loop {
        match reader.read_event().map_err(|e| err(&e))? {
            Event::Start(e) => {
                depth += 1;
                elements += 1;
                if elements > MAX_ELEMENTS {
                    return Err(LineError::Xml(format!(
                        "more than {MAX_ELEMENTS} elements in one line"
                    )));
                }
                if depth == 1 {
                    for attr in e.attributes() {
                        let attr = attr.map_err(|e| err(&e))?;
                        let value = attr
                            .normalized_value(XmlVersion::Implicit1_0)
                            .map_err(|e| err(&e))?;
                        if let Some(var) = Var::from_key(attr.key.as_ref()) {
                            f.set(var, value.into_owned());
                        }
                    }
                    current = None;
                } else {
                    current = Var::from_key(e.name().as_ref()).map(|v| (v, String::new()));
                }
            }
            Event::Text(t) => {
                if let Some((_, text)) = current.as_mut() {
                    append_capped(text, &t.xml10_content());
                }
            }
            Event::CData(t) => {
                if let Some((_, text)) = current.as_mut() {
                    append_capped(text, &t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                if let Some((_, text)) = current.as_mut() {
                    if let Ok(Some(c)) = r.resolve_char_ref() {
                        text.push(c);
                    } else {
                        let name = r.xml10_content();
                        match resolve_predefined_entity(&name) {
                            Some(s) => text.push_str(s),
                            None => return Err(LineError::Xml(format!("unknown entity &{name};"))),
                        }
                    }
                }
            }
            Event::End(_) => {
                if let Some((var, text)) = current.take() {
                    f.set(var, text);
                }
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    closed_root = true;
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !closed_root {
        return Err(LineError::Xml("root element not closed".into()));
    }
    if f.count() == 0 {
        return Err(LineError::NoKnownFields);
    }
    Ok(f)
}

/// Append at most what keeps `text` within [`MAX_TEXT_BYTES`] (cut on a character boundary).
fn append_capped(text: &mut String, more: &str) {
    let room = MAX_TEXT_BYTES.saturating_sub(text.len());
    if more.len() <= room {
        text.push_str(more);
    } else {
        let mut end = room;
        while !more.is_char_boundary(end) {
            end -= 1;
        }
        text.push_str(&more[..end]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_template() {
        let line = r#"<request id="48752d0f-c99d-4cfa-a5a7-f3c6834d19e5"> <extendedRequestId>Vts2pH6ArPEFcuQ=</extendedRequestId> <ip>1.128.0.0</ip> <caller>-</caller> <user>-</user> <requestTime>10/Jun/2023:15:36:28 +0000</requestTime> <httpMethod>GET</httpMethod> <resourcePath>/pets/{petId}</resourcePath> <status>200</status> <protocol>HTTP/1.1</protocol> <responseLength>48</responseLength> </request>"#;
        let f = parse(line).unwrap();
        assert_eq!(
            f.get(Var::RequestId),
            Some("48752d0f-c99d-4cfa-a5a7-f3c6834d19e5")
        );
        assert_eq!(f.get(Var::ResourcePath), Some("/pets/{petId}"));
        assert_eq!(f.get(Var::Caller), None);
        assert_eq!(f.get(Var::ResponseLength), Some("48"));
    }

    #[test]
    fn http_template_with_escapes() {
        let line = r#"<request id="GQIVriFLIAMEMsA="> <ip>1.128.0.0</ip> <requestTime>09/Jun/2023:12:54:08 +0000</requestTime> <httpMethod>GET</httpMethod> <routeKey>GET /a&amp;b</routeKey> <status>200</status> <protocol>HTTP/1.1</protocol> <responseLength>5</responseLength> </request>"#;
        let f = parse(line).unwrap();
        assert_eq!(f.get(Var::RouteKey), Some("GET /a&b"));
        assert_eq!(f.get(Var::RequestId), Some("GQIVriFLIAMEMsA="));
    }

    #[test]
    fn broken_xml() {
        assert!(parse("<request id=\"x\"><ip>1.2.3.4</ip>").is_err());
    }

    #[test]
    fn hostile_lines_are_capped() {
        let many = format!("<request>{}</request>", "<a>1</a>".repeat(10_000));
        assert!(matches!(parse(&many), Err(LineError::Xml(e)) if e.contains("elements")));
        let long = format!("<request><ip>{}</ip></request>", "9".repeat(1_000_000));
        assert!(parse(&long).unwrap().get(Var::SourceIp).unwrap().len() <= MAX_TEXT_BYTES);
    }
}
