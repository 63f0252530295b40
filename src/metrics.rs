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
    fn as_str(self) -> &'static str {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_functions_follow_one_naming_convention() {
        let decode = crate::decode::summary_emf(&Default::default(), 0);
        let mut names: Vec<String> = decode["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["Name"].as_str().map(str::to_string))
            .collect();
        names.extend(
            crate::ship::ShipStats::default()
                .metrics()
                .iter()
                .map(|(n, _, _)| n.to_string()),
        );
        names.extend(
            crate::stitch::StitchStats::default()
                .metrics()
                .iter()
                .map(|(n, _, _)| n.to_string()),
        );
        assert!(names.len() > 10);
        for name in names {
            let upper_camel = name.starts_with(|c: char| c.is_ascii_uppercase())
                && name.chars().all(|c| c.is_ascii_alphanumeric());
            assert!(upper_camel, "metric {name:?} is not UpperCamelCase");
        }
    }

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
