//! The `{Key=value, Key2=value2}` maps of execution logs (headers, query string, path parameters).
//!
//! Values contain `, ` themselves (`Accept=application/json, text/plain, */*`,
//! `X-Forwarded-For=1.2.3.4, 5.6.7.8`, `Date=Tue, 26 Feb 2019 …`), so an entry ends only where `, `
//! is followed by a name token and `=`. A map cut by the 1 KB limit keeps the entries it has; its
//! last value may be incomplete, and a name cut before its `=` is dropped.

use memchr::memmem;

/// Which characters a name may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Names {
    /// Header field names: RFC 9110 `tchar`.
    Header,
    /// Query-string and path parameter names: anything but separators and whitespace
    /// (`ids[]`, `filter.name`).
    Param,
}

impl Names {
    fn allows(self, b: u8) -> bool {
        match self {
            Names::Header => {
                b.is_ascii_alphanumeric()
                    || matches!(
                        b,
                        b'!' | b'#'
                            | b'$'
                            | b'%'
                            | b'&'
                            | b'\''
                            | b'*'
                            | b'+'
                            | b'-'
                            | b'.'
                            | b'^'
                            | b'_'
                            | b'`'
                            | b'|'
                            | b'~'
                    )
            }
            Names::Param => !matches!(b, b'=' | b',' | b'{' | b'}') && b > b' ',
        }
    }
}

/// A parsed map: its entries in order, borrowed from the line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Map<'a> {
    pub entries: Vec<(&'a str, &'a str)>,
    /// The closing `}` was there (and the line was not cut).
    pub complete: bool,
}

/// Parse `{K=v, K2=v2}`. `cut` says the line was truncated by API Gateway (its ` [TRUNCATED]`
/// marker already removed), so a closing brace inside it is not trusted.
pub fn parse(text: &str, names: Names, cut: bool) -> Map<'_> {
    let t = text.trim();
    let (inner, closed) = match t.strip_prefix('{') {
        Some(rest) => match rest.strip_suffix('}') {
            Some(inner) if !cut => (inner, true),
            _ => (rest, false),
        },
        None => (t, false),
    };
    let mut entries = Vec::new();
    let bytes = inner.as_bytes();
    let finder = memmem::Finder::new(b", ");
    let mut start = 0;
    let mut from = 0;
    while let Some(off) = finder.find(&bytes[from..]) {
        let at = from + off;
        if name_follows(&bytes[at + 2..], names, !closed) {
            push(&mut entries, &inner[start..at]);
            start = at + 2;
        }
        from = at + 2;
    }
    push(&mut entries, &inner[start..]);
    Map {
        entries,
        complete: closed,
    }
}

/// Does `rest` start with a name and `=`? At the end of a cut map, a bare name run counts (the
/// cut fell inside the name).
fn name_follows(rest: &[u8], names: Names, cut: bool) -> bool {
    let mut n = 0;
    for &b in rest {
        if b == b'=' {
            return n > 0;
        }
        if !names.allows(b) {
            return false;
        }
        n += 1;
    }
    cut && n > 0
}

fn push<'a>(entries: &mut Vec<(&'a str, &'a str)>, entry: &'a str) {
    // An entry without `=` is a name cut short: nothing to keep.
    if let Some((k, v)) = entry.split_once('=') {
        if !k.is_empty() {
            entries.push((k, v));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(text: &str) -> Map<'_> {
        parse(text, Names::Header, false)
    }

    #[test]
    fn values_with_commas_stay_whole() {
        let m = h("{Accept=application/json, text/plain, */*, Debug-Log-Enabled=false, X-Forwarded-For=62.254.81.74, 54.239.166.85, Date=Tue, 26 Feb 2019 15:29:33 GMT, Accept-Encoding=gzip, deflate, br}");
        assert!(m.complete);
        assert_eq!(
            m.entries,
            vec![
                ("Accept", "application/json, text/plain, */*"),
                ("Debug-Log-Enabled", "false"),
                ("X-Forwarded-For", "62.254.81.74, 54.239.166.85"),
                ("Date", "Tue, 26 Feb 2019 15:29:33 GMT"),
                ("Accept-Encoding", "gzip, deflate, br"),
            ]
        );
    }

    #[test]
    fn equals_inside_values() {
        let m = h(
            "{X-Amzn-Trace-Id=Root=1-5c756de5-f69ee0aea16ccb26b0eb5c51, X-Amz-Cf-Id=KCem6vn2==}",
        );
        assert_eq!(
            m.entries,
            vec![
                (
                    "X-Amzn-Trace-Id",
                    "Root=1-5c756de5-f69ee0aea16ccb26b0eb5c51"
                ),
                ("X-Amz-Cf-Id", "KCem6vn2=="),
            ]
        );
    }

    #[test]
    fn empty_and_cut_maps() {
        assert_eq!(
            h("{}"),
            Map {
                entries: vec![],
                complete: true
            }
        );
        // Cut inside a value: the value is kept as far as it goes.
        let m = parse(
            "{Host=a.example.com, User-Agent=Mozilla/5.0 (Mac",
            Names::Header,
            true,
        );
        assert!(!m.complete);
        assert_eq!(
            m.entries,
            vec![
                ("Host", "a.example.com"),
                ("User-Agent", "Mozilla/5.0 (Mac")
            ]
        );
        // Cut inside a name: the name is dropped, the previous value is not polluted.
        let m = parse("{Host=a.example.com, X-Forwa", Names::Header, true);
        assert_eq!(m.entries, vec![("Host", "a.example.com")]);
        // A `}` at the end of a cut line is not a real end.
        assert!(!parse("{A=b}", Names::Header, true).complete);
    }

    #[test]
    fn query_names_are_lenient() {
        let m = parse("{ids[]=1, q=koa-oop, a, b}", Names::Param, false);
        assert_eq!(m.entries, vec![("ids[]", "1"), ("q", "koa-oop, a, b")]);
    }
}
