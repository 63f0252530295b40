//! CloudWatch embedded metric format (EMF): one JSON log line that CloudWatch turns into metrics,
//! with no PutMetricData calls and no extra latency.
//!
//! Both functions name their metrics in UpperCamelCase, as AWS names its own (`RecordsDelivered`,
//! `LinesUnparsed`), under the namespace [`NAMESPACE`] with the dimension `Function`.

use serde_json::{json, Map, Value};

/// Namespace of every metric this project emits.
pub const NAMESPACE: &str = "apigw-stream";

/// Unit of a metric value, as EMF names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Bytes,
    Milliseconds,
}

impl Unit {
    const fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Bytes => "Bytes",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// Build one EMF object: `metrics` are (name, value, unit); `dimensions` become both dimension
/// keys and properties (e.g. `("Function", "decode")`).
pub fn emf(timestamp_ms: i64, dimensions: &[(&str, &str)], metrics: &[(&str, f64, Unit)]) -> Value {
    let mut root = Map::new();
    let dim_names: Vec<&str> = dimensions.iter().map(|(k, _)| *k).collect();
    let defs: Vec<Value> = metrics
        .iter()
        .map(|(name, _, unit)| json!({"Name": name, "Unit": unit.as_str()}))
        .collect();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [dim_names],
                "Metrics": defs,
            }]
        }),
    );
    for (k, v) in dimensions {
        root.insert((*k).to_string(), Value::String((*v).to_string()));
    }
    for (name, value, _) in metrics {
        root.insert((*name).to_string(), json!(value));
    }
    Value::Object(root)
}

/// Print an EMF object as one line on stdout, where the Lambda runtime ships it to CloudWatch.
pub fn print_emf(value: &Value) {
    println!("{value}");
}

/// One metric a counter set emits, for the generated metrics table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricDoc {
    pub name: &'static str,
    pub unit: Unit,
    pub meaning: &'static str,
}

impl Unit {
    /// The unit as EMF names it.
    pub fn name(self) -> &'static str {
        self.as_str()
    }
}

/// Declares a set of counters once: the struct, its `add` (merge of two runs: `sum` or `max`
/// per field), its EMF metrics (`[Name, Unit]` on the fields that are metrics, plus `derived`
/// metrics computed from the fields) and their documentation (`METRICS`, the docs' table). A new
/// field cannot be forgotten in the merge or the metrics, since both come from this list.
#[macro_export]
macro_rules! counters {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[doc = $doc:literal])*
                $field:ident : $merge:ident $([$metric:literal, $unit:ident])?
            ),* $(,)?
        }
        $(derived {
            $(
                $(#[doc = $ddoc:literal])*
                $dname:literal [$dunit:ident] = |$s:ident| $dexpr:expr
            ),* $(,)?
        })?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
        $vis struct $name {
            $( $(#[doc = $doc])* pub $field: u64, )*
        }

        // A private set may not read every item (its metrics, say).
        #[allow(dead_code)]
        impl $name {
            /// Each field: its EMF metric (name, unit), if it is one, and its meaning.
            const FIELDS: &'static [(Option<(&'static str, $crate::runtime::metrics::Unit)>, &'static str)] = &[
                $( ($crate::counters!(@metric $([$metric, $unit])?), concat!($($doc, " "),*)), )*
            ];

            /// Every metric of this set, in emission order, for the documentation.
            pub fn metric_docs() -> Vec<$crate::runtime::metrics::MetricDoc> {
                #[allow(unused_mut)]
                let mut out: Vec<$crate::runtime::metrics::MetricDoc> = Self::FIELDS
                    .iter()
                    .filter_map(|(m, meaning)| m.map(|(name, unit)| $crate::runtime::metrics::MetricDoc {
                        name,
                        unit,
                        meaning: meaning.trim(),
                    }))
                    .collect();
                $($( out.push($crate::runtime::metrics::MetricDoc {
                    name: $dname,
                    unit: $crate::runtime::metrics::Unit::$dunit,
                    meaning: concat!($($ddoc, " "),*).trim(),
                }); )*)?
                out
            }

            /// Merge another run's counts into these.
            pub fn add(&mut self, o: &$name) {
                $( $crate::counters!(@merge $merge, self.$field, o.$field); )*
            }

            /// The EMF metrics: (name, value, unit), in the order of [`Self::metric_docs`].
            pub fn metrics(&self) -> Vec<(&'static str, f64, $crate::runtime::metrics::Unit)> {
                let values = [$(self.$field),*];
                #[allow(unused_mut)]
                let mut out: Vec<(&'static str, f64, $crate::runtime::metrics::Unit)> = Self::FIELDS
                    .iter()
                    .zip(values)
                    .filter_map(|((m, _), v)| m.map(|(name, unit)| (name, v as f64, unit)))
                    .collect();
                $($({
                    let $s = self;
                    out.push(($dname, ($dexpr) as f64, $crate::runtime::metrics::Unit::$dunit));
                })*)?
                out
            }
        }
    };
    (@metric [$m:literal, $u:ident]) => { Some(($m, $crate::runtime::metrics::Unit::$u)) };
    (@metric) => { None };
    (@merge sum, $a:expr, $b:expr) => { $a += $b };
    (@merge max, $a:expr, $b:expr) => { $a = $a.max($b) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_has_directive_and_values() {
        let v = emf(
            1_700_000_000_000,
            &[("Function", "decode")],
            &[("records", 3.0, Unit::Count), ("bytes", 10.0, Unit::Bytes)],
        );
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Namespace"], NAMESPACE);
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0][0],
            "Function"
        );
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Metrics"][1]["Unit"],
            "Bytes"
        );
        assert_eq!(v["records"], 3.0);
        assert_eq!(v["Function"], "decode");
    }
}
