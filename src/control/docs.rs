//! Documents generated from the code's own declarations, so they cannot drift: the metrics table
//! (from the counters, see [`crate::counters!`]) in `docs/architecture.md`. The settings table
//! comes from [`crate::config::settings`] the same way. `apigw-stream settings --write .`
//! refreshes both; a unit test fails while a copy is stale.

use crate::runtime::metrics::MetricDoc;

/// Marks around the generated metrics table in a Markdown document.
pub const METRICS_BEGIN: &str = "<!-- metrics table: generated from the counters -->";
pub const METRICS_END: &str = "<!-- end of metrics table -->";
/// The document holding the metrics table, relative to the repository root.
pub const METRICS_DOC: &str = "docs/architecture.md";

/// Every metric the functions emit: (value of the `Function` dimension, its metrics).
pub fn metric_sets() -> Vec<(&'static str, Vec<MetricDoc>)> {
    vec![
        ("decode", crate::decode::DecodeStats::metric_docs()),
        ("stitch", crate::stitch::StitchStats::metric_docs()),
        ("shipper", crate::ship::ShipStats::metric_docs()),
        (
            "control",
            super::ops::autoenable::ControlStats::metric_docs(),
        ),
    ]
}

/// The metrics table (Markdown).
pub fn metrics_table() -> String {
    let mut out = String::from("| metric | function | unit | meaning |\n|---|---|---|---|\n");
    for (function, docs) in metric_sets() {
        for m in docs {
            // Doc comments wrap: one line of words, without the closing full stop.
            let words: Vec<&str> = m.meaning.split_whitespace().collect();
            let meaning = words.join(" ");
            let meaning = meaning.trim_end_matches('.').replace('|', "\\|");
            out.push_str(&format!(
                "| `{}` | {} | {} | {} |\n",
                m.name,
                function,
                m.unit.name(),
                meaning
            ));
        }
    }
    out
}

/// `doc` with the text between `begin` and `end` replaced by `table`; `None` without the marks.
pub fn replace_between(doc: &str, begin: &str, end: &str, table: &str) -> Option<String> {
    let start = doc.find(begin)? + begin.len();
    let stop = start + doc[start..].find(end)?;
    Some(format!("{}\n{}{}", &doc[..start], table, &doc[stop..]))
}

/// `doc` with its metrics table made current; `None` without the marks.
pub fn with_metrics_table(doc: &str) -> Option<String> {
    replace_between(doc, METRICS_BEGIN, METRICS_END, &metrics_table())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_has_a_meaning_and_a_unique_name_per_function() {
        for (function, docs) in metric_sets() {
            let mut seen = std::collections::HashSet::new();
            for m in docs {
                assert!(
                    !m.meaning.trim().is_empty(),
                    "{function}/{} has no doc",
                    m.name
                );
                assert!(seen.insert(m.name), "{function}/{} twice", m.name);
            }
        }
    }

    #[test]
    fn metric_names_follow_one_convention() {
        let names: Vec<&str> = metric_sets()
            .into_iter()
            .flat_map(|(_, docs)| docs.into_iter().map(|m| m.name))
            .collect();
        assert!(names.len() > 10);
        for name in names {
            let upper_camel = name.starts_with(|c: char| c.is_ascii_uppercase())
                && name.chars().all(|c| c.is_ascii_alphanumeric());
            assert!(upper_camel, "metric {name:?} is not UpperCamelCase");
        }
    }

    #[test]
    fn the_metrics_table_is_current() {
        // Run `apigw-stream settings --write .` after a change to a counter.
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(METRICS_DOC);
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let want = with_metrics_table(&text);
        assert!(
            want.is_some(),
            "{METRICS_DOC} lacks the metrics table marks"
        );
        assert!(
            want.as_deref() == Some(&*text),
            "{METRICS_DOC}: the metrics table is stale"
        );
    }
}
