//! A canonical record as the collector encoders read it: every string borrowed, either from a
//! frame's NDJSON line (deserialized in place, no owned record built) or from a [`Transaction`].
//! The shipper encodes each queued record through this view; only a record too large for a window
//! goes through an owned [`Transaction`], because cutting it needs one.

mod canonical;

use std::borrow::Cow;
use std::fmt;

use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::json::Text;
use crate::transaction::{Body, BodyEncoding, Headers, Transaction};

/// A header list in the record's order (the canonical record's map is sorted by name).
#[derive(Debug, Default, PartialEq)]
pub struct HeaderList<'a>(pub Vec<(Cow<'a, str>, Vec<Cow<'a, str>>)>);

/// The fields a collector format needs. Deserializing it checks the record's shape as strictly as
/// [`Transaction`] does for these fields, and requires the others (`schema`, `source`) to be there.
#[derive(Debug, Deserialize)]
pub struct RecordView<'a> {
    #[serde(rename = "schema")]
    _schema: IgnoredAny,
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    pub time_ms: i64,
    #[serde(borrow)]
    pub api: ApiView<'a>,
    #[serde(borrow)]
    pub request: RequestView<'a>,
    #[serde(borrow)]
    pub response: ResponseView<'a>,
    pub flags: FlagsView,
    #[serde(rename = "source")]
    _source: IgnoredAny,
}

#[derive(Debug, Default, Deserialize)]
pub struct ApiView<'a> {
    #[serde(borrow, default, deserialize_with = "opt")]
    pub id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt")]
    pub stage: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt")]
    pub domain: Option<Cow<'a, str>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RequestView<'a> {
    #[serde(borrow, default, deserialize_with = "opt")]
    pub method: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt")]
    pub scheme: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt")]
    pub host: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt")]
    pub path: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt")]
    pub query: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt")]
    pub protocol: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt")]
    pub client_ip: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub headers: HeaderList<'a>,
    #[serde(borrow)]
    pub body: Option<BodyView<'a>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ResponseView<'a> {
    pub status: Option<u16>,
    #[serde(borrow)]
    pub headers: HeaderList<'a>,
    #[serde(borrow)]
    pub body: Option<BodyView<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct BodyView<'a> {
    #[serde(borrow)]
    pub data: Cow<'a, str>,
    pub encoding: BodyEncoding,
    pub truncated: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct FlagsView {
    pub discovery_only: bool,
}

impl<'a> RecordView<'a> {
    /// One NDJSON line of a frame, strings borrowed from it where they have no escapes. A line
    /// exactly as the decoder writes it is read by hand; any other takes serde_json.
    pub fn parse(line: &'a [u8]) -> Result<Self, crate::json::Error> {
        match canonical::read(line) {
            Some(view) => Ok(view),
            None => crate::json::from_slice(line),
        }
    }

    /// The view of an owned record.
    pub fn of(t: &'a Transaction) -> Self {
        let b = |s: &'a Option<String>| s.as_deref().map(Cow::Borrowed);
        RecordView {
            _schema: IgnoredAny,
            id: Cow::Borrowed(&t.id),
            time_ms: t.time_ms,
            api: ApiView {
                id: b(&t.api.id),
                stage: b(&t.api.stage),
                domain: b(&t.api.domain),
            },
            request: RequestView {
                method: b(&t.request.method),
                scheme: b(&t.request.scheme),
                host: b(&t.request.host),
                path: b(&t.request.path),
                query: b(&t.request.query),
                protocol: b(&t.request.protocol),
                client_ip: b(&t.request.client_ip),
                headers: HeaderList::of(&t.request.headers),
                body: t.request.body.as_ref().map(BodyView::of),
            },
            response: ResponseView {
                status: t.response.status,
                headers: HeaderList::of(&t.response.headers),
                body: t.response.body.as_ref().map(BodyView::of),
            },
            flags: FlagsView {
                discovery_only: t.flags.discovery_only,
            },
            _source: IgnoredAny,
        }
    }
}

impl<'a> HeaderList<'a> {
    fn of(h: &'a Headers) -> Self {
        HeaderList(
            h.iter()
                .map(|(k, v)| {
                    (
                        Cow::Borrowed(k.as_str()),
                        v.iter().map(|s| Cow::Borrowed(s.as_str())).collect(),
                    )
                })
                .collect(),
        )
    }
}

impl<'a> BodyView<'a> {
    fn of(b: &'a Body) -> Self {
        BodyView {
            data: Cow::Borrowed(&b.data),
            encoding: b.encoding,
            truncated: b.truncated,
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for HeaderList<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = HeaderList<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of header names to lists of values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(Text(name)) = map.next_key::<Text<'de>>()? {
                    let values: Vec<Text<'de>> = map.next_value()?;
                    out.push((name, values.into_iter().map(|v| v.0).collect()));
                }
                Ok(HeaderList(out))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// An optional string, borrowed from the input when it has no escapes (serde's `Cow` copies
/// inside an `Option`).
fn opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    Ok(Option::<Text<'de>>::deserialize(d)?.map(|t| t.0))
}
