//! `apigw-stream decode` as a user runs it.

mod common;

use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_apigw-stream"))
}

#[test]
fn prints_records_in_order_and_reports_bad_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let good = common::fixtures_dir().join("aws-sample-event.json");
    let control = common::fixtures_dir().join("control-message.b64");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, b"{\"not\": \"a payload\"}").unwrap();
    // A real REST line as decompressed LogData.
    let line = std::fs::read_to_string(common::fixtures_dir().join("lines/rest-json.log")).unwrap();
    let events: Vec<_> = line
        .lines()
        .enumerate()
        .map(|(i, l)| serde_json::json!({"id": i.to_string(), "timestamp": 1, "message": l}))
        .collect();
    let logdata = dir.path().join("logdata.json");
    std::fs::write(
        &logdata,
        serde_json::json!({"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"g","logStream":"s","subscriptionFilters":["f"],"logEvents":events}).to_string(),
    )
    .unwrap();

    let out = bin()
        .args(["decode", "--stats"])
        .arg(&good)
        .arg(&bad)
        .arg(&control)
        .arg(&logdata)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "a bad input makes the exit status non-zero"
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let ids: Vec<String> = stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        ids,
        vec![
            "48752d0f-c99d-4cfa-a5a7-f3c6834d19e5",
            "c12d1542-b79e-4e79-a158-fdf36452a81b"
        ]
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("apigw-stream decode:"))
        .collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].contains("bad.json") && errors[0].contains("awslogs"),
        "{}",
        errors[0]
    );
    let stats: serde_json::Value = serde_json::from_str(stderr.lines().last().unwrap()).unwrap();
    assert_eq!(stats["payloads"], 3);
    assert_eq!(stats["control_messages"], 1);
    assert_eq!(stats["log_events"], 4);
    assert_eq!(stats["records"], 2);
    // The AWS sample's two lines are Lambda log lines, not API requests.
    assert_eq!(stats["lines_unparsed"], 0);
    assert_eq!(stats["lines_not_api"], 2);
    assert_eq!(stats["filtered"], 0);
}

#[test]
fn reads_stdin_and_honours_filter_flags() {
    use std::io::Write;
    use std::process::Stdio;
    let line = r#"{"requestId":"r1","httpMethod":"GET","routeKey":"GET /a","status":"200"}"#;
    let payload = serde_json::json!({"logGroup":"g","logStream":"s","logEvents":[{"id":"1","timestamp":1,"message":line}]}).to_string();
    let mut child = bin()
        .args(["decode", "--stats", "--http-api-enabled", "false"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(payload.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    let stats: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(stats["filtered"], 1);
    assert_eq!(stats["filtered_api_kind"], 1);
}
