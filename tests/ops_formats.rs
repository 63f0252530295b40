//! The deploy templates set the same recommended access-log formats as `apigw-stream enable`
//! (`apigw_stream::control::ops::access_log`), so a stage enabled either way is recognised as ours.
#![cfg(feature = "cli")]

use std::path::PathBuf;

use apigw_stream::control::ops::access_log::{HTTP_FORMAT, REST_FORMAT, WEBSOCKET_FORMAT};

fn read(rel: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn pairs(format: &str) -> Vec<(String, String)> {
    let v: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(format).expect("format is JSON");
    v.into_iter()
        .map(|(k, v)| (k, v.as_str().expect("string value").to_string()))
        .collect()
}

#[test]
fn cloudformation_uses_the_same_format_strings() {
    let cfn = read("cloudformation/api-subscription.yaml");
    for (kind, format) in [
        ("rest", REST_FORMAT),
        ("http", HTTP_FORMAT),
        ("websocket", WEBSOCKET_FORMAT),
    ] {
        // Single-quoted YAML scalars: the string appears verbatim.
        assert!(
            cfn.contains(&format!("'{format}'")),
            "{kind} format differs in api-subscription.yaml"
        );
    }
}

#[test]
fn terraform_uses_the_same_fields() {
    let tf = read("terraform/modules/api-subscription/main.tf");
    for (kind, format) in [
        ("rest", REST_FORMAT),
        ("http", HTTP_FORMAT),
        ("websocket", WEBSOCKET_FORMAT),
    ] {
        let line = tf
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{kind} ")) && l.contains("jsonencode("))
            .unwrap_or_else(|| panic!("no {kind} = jsonencode(...) in the module"));
        let expected = pairs(format);
        for (k, v) in &expected {
            assert!(
                line.contains(&format!("{k} = \"{v}\"")),
                "{kind}: {k} = {v} missing"
            );
        }
        // Nothing more than ours: as many `= "$context.` as we have keys.
        assert_eq!(
            line.matches("= \"$context.").count(),
            expected.len(),
            "{kind}: extra fields"
        );
    }
}
