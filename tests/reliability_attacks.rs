//! Issue 25's attacks on the newer surfaces, one test per row: records too large for a message
//! (raw lines, a 100k-key header map, two incompressible 1 MB bodies), lines that name no request,
//! bodies that are not UTF-8 or carry lone surrogate escapes, an untrusted archive directory
//! (symbolic links, a named pipe, 1 MB records), and a token endpoint that once answers with an
//! unusable token. Truth comes from outside the code under test: moto's SQS (message bodies
//! decoded here with base64, gzip and serde_json only), the embedded collector's own counts, the
//! child process's exit status, output and peak RSS (`wait4`).

mod common;

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use apigw_stream::decode::{decode_bytes, DecodeOptions, DecodeStats};
use apigw_stream::ship::bridge::auth::{Auth, AuthMethod, TokenSource};
use apigw_stream::ship::bridge::client::{http_client, BridgeClient, ClientConfig, Outcome};
use apigw_stream::ship::bridge::receiver::{Faults, Receiver, ReceiverConfig};
use apigw_stream::ship::bridge::{Format, Secret, SecretSource};
use apigw_stream::transaction::{Body, BodyEncoding, Execution, ExecutionLine, Source};
use apigw_stream::transport::queue::{SendPolicy, SqsQueue};
use apigw_stream::Transaction;
use base64::Engine as _;
use common::forward;
use serde_json::{json, Value};

const EXEC_GROUP: &str = "API-Gateway-Execution-Logs_abc123/prod";
const HOST: &str = "abc123.execute-api.us-east-1.amazonaws.com";

/// A LogData JSON payload of `messages` (event ids `e0`, `e1`, …).
fn logdata(group: &str, messages: &[String]) -> Vec<u8> {
    let events: Vec<Value> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| json!({"id": format!("e{i}"), "timestamp": 1_700_000_000_000i64 + i as i64, "message": m}))
        .collect();
    serde_json::to_vec(&json!({
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": group,
        "logStream": "s",
        "subscriptionFilters": ["f"],
        "logEvents": events,
    }))
    .unwrap()
}

/// The standard-format lines of one whole request, with `headers` as its request header map.
fn request_lines(id: &str, headers: &str, body: &str) -> Vec<String> {
    vec![
        format!("({id}) Extended Request Id: X{id}="),
        format!("({id}) Verifying Usage Plan for request: {id}. API Key:  API Stage: abc123/prod"),
        format!("({id}) HTTP Method: POST, Resource Path: /pets"),
        format!("({id}) Method request headers: {{{headers}}}"),
        format!("({id}) Method request body before transformations: {body}"),
        format!("({id}) Method completed with status: 200"),
    ]
}

fn ordinary(id: &str) -> Vec<String> {
    request_lines(
        id,
        &format!("Host={HOST}, X-Forwarded-For=1.2.3.4, User-Agent=curl/8"),
        r#"{"pet":"rex"}"#,
    )
}

/// Letters that gzip cannot squeeze much (a xorshift stream, fixed seed).
fn noise(len: usize, seed: u64) -> String {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b'a' + (x % 26) as u8)
        })
        .collect()
}

/// Records in an SQS message body, read here: base64 → gzip → NDJSON.
fn records_in(body: &str) -> Vec<Value> {
    let gz = base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .expect("base64 body");
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(gz.as_slice())
        .read_to_string(&mut text)
        .expect("gzip body");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("JSON record"))
        .collect()
}

/// Every record moto's queue holds, with the size of the message it came in.
async fn drain(q: &SqsQueue) -> Vec<(Value, usize)> {
    common::drain(q, Duration::from_secs(300))
        .await
        .iter()
        .flat_map(|m| {
            let size = m.body.len();
            records_in(&m.body).into_iter().map(move |r| (r, size))
        })
        .collect()
}

fn ids(records: &[(Value, usize)]) -> Vec<String> {
    let mut v: Vec<String> = records
        .iter()
        .map(|(r, _)| r["id"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn a_100k_key_header_map_is_cut_and_the_payloads_ten_other_requests_delivered() {
    let moto = common::Moto::start();
    let q = common::sqs_queue(&moto.sdk_config(), "records", Default::default()).await;
    let mut lines = Vec::new();
    for i in 0..5 {
        lines.extend(ordinary(&format!("req-{i:02}")));
    }
    let huge: Vec<String> = (0..100_000)
        .map(|i| format!("X-{}={}", noise(6, i), noise(3, i + 7)))
        .collect();
    lines.extend(request_lines("req-huge", &huge.join(", "), "{}"));
    for i in 5..10 {
        lines.extend(ordinary(&format!("req-{i:02}")));
    }
    let payload = logdata(EXEC_GROUP, &lines);
    assert!(payload.len() > 1_000_000);
    let summary = forward(
        &payload,
        "attack",
        &DecodeOptions::default(),
        262_144,
        &q,
        &SendPolicy::default(),
    )
    .await
    .expect("the payload is forwarded");
    assert_eq!(summary.records_unfit, 0);
    let got = drain(&q).await;
    let mut want: Vec<String> = (0..10).map(|i| format!("req-{i:02}")).collect();
    want.push("req-huge".into());
    want.sort();
    assert_eq!(ids(&got), want, "every request delivered once");
    for (r, size) in &got {
        assert!(*size <= 262_144);
        let cut = r["id"] == "req-huge";
        assert_eq!(r["flags"]["partial"], cut, "{}", r["id"]);
        assert_eq!(
            r["flags"]["headers_truncated"].as_bool().unwrap_or(false),
            cut
        );
        if cut {
            let kept = r["request"]["headers"].as_object().unwrap().len();
            assert!(kept > 0 && kept < 100_000, "{kept} headers kept");
            // The request itself is still told.
            assert_eq!(r["request"]["method"], "POST");
            assert_eq!(r["response"]["status"], 200);
        } else {
            assert_eq!(r["request"]["headers"]["host"][0], HOST);
        }
    }
}

#[tokio::test]
async fn a_record_no_message_can_hold_is_counted_and_its_payload_delivered() {
    // An access-log line whose request id alone (40 KB, never cut: it names the record) is larger
    // than a 16 KiB message: that record is counted, the ten others reach moto's queue.
    let moto = common::Moto::start();
    let q = common::sqs_queue(&moto.sdk_config(), "records", Default::default()).await;
    let line = |id: &str| {
        json!({"requestId": id, "ip": "1.2.3.4", "httpMethod": "GET", "path": "/pets",
               "status": "200", "protocol": "HTTP/1.1", "responseLength": "12"})
        .to_string()
    };
    let mut lines: Vec<String> = (0..5).map(|i| line(&format!("acc-{i:02}"))).collect();
    lines.push(line(&noise(40_000, 99)));
    lines.extend((5..10).map(|i| line(&format!("acc-{i:02}"))));
    let payload = logdata("/aws/apigateway/access", &lines);
    let summary = forward(
        &payload,
        "attack",
        &DecodeOptions::default(),
        16_384,
        &q,
        &SendPolicy::default(),
    )
    .await
    .expect("the payload is forwarded");
    assert_eq!(summary.records, 11);
    assert_eq!(summary.records_unfit, 1);
    let want: Vec<String> = (0..10).map(|i| format!("acc-{i:02}")).collect();
    assert_eq!(ids(&drain(&q).await), want);
}

/// Every string in a JSON value (to find record ids in a window, whatever its format).
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

#[test]
fn local_delivers_the_payload_around_a_100k_key_header_map() {
    // The same attack through `local`, as a user runs it: truth is what the embedded collector
    // wrote (its windows in --out), the summary and the exit status.
    let dir = tempfile::tempdir().unwrap();
    let mut lines = Vec::new();
    for i in 0..10 {
        lines.extend(ordinary(&format!("req-{i:02}")));
    }
    let huge: Vec<String> = (0..100_000)
        .map(|i| format!("X-{}={}", noise(6, i), noise(3, i + 7)))
        .collect();
    lines.extend(request_lines("req-huge", &huge.join(", "), "{}"));
    let input = dir.path().join("payload.json");
    std::fs::write(&input, logdata(EXEC_GROUP, &lines)).unwrap();
    let out_dir = dir.path().join("out");
    let summary_path = dir.path().join("summary.json");
    let out = Command::new(env!("CARGO_BIN_EXE_apigw-stream"))
        .args(["local", "--quiet", "--out"])
        .arg(&out_dir)
        .arg("--summary-json")
        .arg(&summary_path)
        .arg(&input)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&std::fs::read(&summary_path).unwrap()).unwrap();
    assert_eq!(summary["records_delivered"], 11, "{summary}");
    assert_eq!(summary["lost"], 0, "{summary}");
    let mut seen = Vec::new();
    for e in std::fs::read_dir(&out_dir).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_some_and(|x| x == "json") {
            if let Ok(v) = serde_json::from_slice::<Value>(&std::fs::read(&path).unwrap()) {
                strings(&v, &mut seen);
            }
        }
    }
    for i in 0..10 {
        assert!(
            seen.contains(&format!("req-{i:02}")),
            "req-{i:02} reached the collector"
        );
    }
    assert!(
        seen.contains(&"req-huge".to_string()),
        "the cut record reached the collector"
    );
}

/// A request delivered alone with its raw lines (the stitch hold ran out, or stitching is off).
fn lonely_request(lines: usize, body_bytes: usize) -> Transaction {
    let mut t = Transaction::new(
        "req-lonely".into(),
        1_700_000_000_000,
        Source {
            log_group: EXEC_GROUP.into(),
            log_stream: "s".into(),
            event_id: "e0".into(),
            ..Source::default()
        },
    );
    t.flags.partial = true;
    t.request.method = Some("POST".into());
    if body_bytes > 0 {
        for (slot, seed) in [(&mut t.request.body, 1), (&mut t.response.body, 2)] {
            *slot = Some(Body {
                data: noise(body_bytes, seed),
                encoding: BodyEncoding::Utf8,
                truncated: false,
            });
        }
    }
    t.execution = Some(Execution {
        lines: (0..lines)
            .map(|i| ExecutionLine {
                event_id: format!("e{i}"),
                timestamp: 1_700_000_000_000 + i as i64,
                message: if body_bytes > 0 && i < 2 {
                    format!(
                        "(req-lonely) Method request body before transformations: {}",
                        noise(body_bytes, 3 + i as u64)
                    )
                } else {
                    format!(
                        "(req-lonely) Endpoint request URI: https://x/{}",
                        noise(40, i as u64)
                    )
                },
            })
            .collect(),
        ..Execution::default()
    });
    t
}

#[tokio::test]
async fn requests_with_200k_raw_lines_or_two_1mb_bodies_are_cut_to_fit_and_delivered() {
    let moto = common::Moto::start();
    let q = common::sqs_queue(&moto.sdk_config(), "records", Default::default()).await;
    for (case, record) in [
        ("200k lines", lonely_request(200_000, 0)),
        ("two 1 MB bodies", lonely_request(4, 1_000_000)),
    ] {
        let mut neighbours: Vec<Transaction> = (0..4)
            .map(|i| Transaction::new(format!("n{i}"), 1, Source::default()))
            .collect();
        neighbours.insert(2, record);
        let packed =
            apigw_stream::transport::frame::pack_isolating(&neighbours, 1_048_576).unwrap();
        assert!(packed.unfit.is_empty(), "{case}");
        let messages: Vec<_> = packed
            .frames
            .into_iter()
            .enumerate()
            .map(|(i, f)| f.into_message(i.to_string()))
            .collect();
        apigw_stream::transport::queue::send_all(&q, messages, &SendPolicy::default())
            .await
            .expect("moto takes every frame");
        let got = drain(&q).await;
        assert_eq!(
            ids(&got),
            vec!["n0", "n1", "n2", "n3", "req-lonely"],
            "{case}"
        );
        let (r, _) = got.iter().find(|(r, _)| r["id"] == "req-lonely").unwrap();
        assert_eq!(r["flags"]["partial"], true, "{case}");
        assert_eq!(r["execution"]["lines_truncated"], true, "{case}");
        assert_eq!(r["request"]["method"], "POST");
    }
}

#[test]
fn lines_that_name_no_request_are_orphans_not_the_neighbours() {
    let group = "/aws/vendedlogs/apigw-stream/execution/abc123/prod";
    let mut lines = ordinary("req-B");
    let evil = "Method request headers: {Host=evil.example, X-Forwarded-For=6.6.6.6}".to_string();
    // Delivered events without a usable request id: absent, empty, a number, not an id.
    for id in [json!(null), json!(""), json!(42), json!("(B) x")] {
        let mut e = json!({"message": evil, "timestamp": 1_700_000_000_100i64});
        if !id.is_null() {
            e["requestId"] = id;
        }
        lines.push(e.to_string());
    }
    lines.push(
        json!({"message": "Method request body before transformations: INJECTED"}).to_string(),
    );
    // A plain line without a prefix right after B's prefixed ones.
    lines.push(evil.clone());
    let payload = logdata(group, &lines);
    let mut s = DecodeStats::default();
    let recs = decode_bytes(&payload, &DecodeOptions::default(), &mut s).unwrap();
    assert_eq!(recs.len(), 1, "{recs:?}");
    let b = &recs[0];
    assert_eq!(b.id, "req-B");
    assert_eq!(b.request.client_ip.as_deref(), Some("1.2.3.4"));
    assert_eq!(b.request.host.as_deref(), Some(HOST));
    assert_eq!(
        b.request.body.as_ref().map(|b| b.data.as_str()),
        Some(r#"{"pet":"rex"}"#)
    );
    assert!(!b.flags.partial);
    // Six lines of B; the six others are orphans, counted as lines of no request.
    assert_eq!(s.execution_lines, 6);
    assert!(s.lines_unparsed >= 5, "{s:?}");
    assert_eq!(s.log_events, 12);
}

#[test]
fn the_2016_format_still_groups_lines_after_the_one_naming_the_request() {
    let lines: Vec<String> = [
        "Starting execution for request: 2016-a".to_string(),
        "HTTP Method: GET, Resource Path: /old".into(),
        "Method completed with status: 204".into(),
    ]
    .into();
    let payload = logdata(EXEC_GROUP, &lines);
    let mut s = DecodeStats::default();
    let recs = decode_bytes(&payload, &DecodeOptions::default(), &mut s).unwrap();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].id, "2016-a");
    assert_eq!(recs[0].response.status, Some(204));
    assert_eq!(recs[0].request.path.as_deref(), Some("/old"));
    assert_eq!(s.execution_lines, 3);
}

#[test]
fn bodies_with_invalid_utf8_or_lone_surrogates_are_kept_and_flagged() {
    // Raw invalid UTF-8 in a standard line: bytes spliced into the JSON by hand.
    let mut raw = Vec::new();
    raw.extend_from_slice(br#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":""#);
    raw.extend_from_slice(EXEC_GROUP.as_bytes());
    raw.extend_from_slice(br#"","logStream":"s","logEvents":["#);
    let mut lines = ordinary("req-utf8");
    lines[4] = "(req-utf8) Method request body before transformations: AB".into();
    for (i, l) in lines.iter().enumerate() {
        if i > 0 {
            raw.push(b',');
        }
        raw.extend_from_slice(
            format!(r#"{{"id":"u{i}","timestamp":1700000000000,"message":""#).as_bytes(),
        );
        let text = serde_json::to_string(l).unwrap();
        let inner = &text.as_bytes()[1..text.len() - 1];
        if i == 4 {
            raw.extend_from_slice(inner);
            raw.extend_from_slice(&[0xff; 1024]);
        } else {
            raw.extend_from_slice(inner);
        }
        raw.extend_from_slice(br#""}"#);
    }
    raw.extend_from_slice(b"]}");
    let mut s = DecodeStats::default();
    let recs = decode_bytes(&raw, &DecodeOptions::default(), &mut s).unwrap();
    assert_eq!(recs.len(), 1);
    let body = recs[0].request.body.as_ref().expect("the body is kept");
    assert!(body.data.starts_with("AB\u{fffd}"));
    assert!(recs[0].flags.body_lossy && recs[0].flags.partial);

    // Lone surrogate escapes inside a delivered JSON event.
    let group = "/aws/vendedlogs/apigw-stream/execution/abc123/prod";
    let mut lines = ordinary("req-sur");
    lines[4] = r#"{"requestId":"req-sur","message":"Method request body before transformations: a\udc80b\ud800"}"#.into();
    // The message is the event's JSON text, escapes included (`\\udc80` in the LogData JSON).
    let payload = logdata(group, &lines);
    let mut s = DecodeStats::default();
    let recs = decode_bytes(&payload, &DecodeOptions::default(), &mut s).unwrap();
    assert_eq!(recs.len(), 1);
    let body = recs[0].request.body.as_ref().expect("the body is kept");
    assert_eq!(body.data, "a\u{fffd}b\u{fffd}");
    assert!(recs[0].flags.body_lossy && recs[0].flags.partial);
    assert_eq!(s.lines_lossy, 1);
    assert_eq!(s.execution_lines, 6);

    // Lone surrogate escapes in the LogData JSON itself (the message string of a standard line).
    let mut lines = ordinary("req-sur2");
    lines[4] = "(req-sur2) Method request body before transformations: cSURd".into();
    let payload = String::from_utf8(logdata(EXEC_GROUP, &lines))
        .unwrap()
        .replace("SUR", "\\udc80");
    let mut s = DecodeStats::default();
    let recs = decode_bytes(payload.as_bytes(), &DecodeOptions::default(), &mut s).unwrap();
    assert_eq!(recs.len(), 1);
    let body = recs[0].request.body.as_ref().expect("the body is kept");
    assert!(
        body.data.starts_with('c') && body.data.ends_with('d') && body.data.contains('\u{fffd}')
    );
    assert!(recs[0].flags.body_lossy && recs[0].flags.partial);
}

// ---- archive replay over an untrusted directory ----

fn archive_line(id: &str, body_bytes: usize) -> String {
    let mut t = Transaction::new(id.to_string(), 1_700_000_000_000, Source::default());
    if body_bytes > 0 {
        t.request.body = Some(Body {
            data: "a".repeat(body_bytes),
            encoding: BodyEncoding::Utf8,
            truncated: false,
        });
    }
    format!("{}\n", serde_json::to_string(&t).unwrap())
}

fn write_records(path: &Path, prefix: &str, n: usize) {
    let text: String = (0..n)
        .map(|i| archive_line(&format!("{prefix}-{i}"), 0))
        .collect();
    std::fs::write(path, text).unwrap();
}

/// Run `replay --dry-run --json --from-archive DIR [extra]`, killed after `limit`: (exit code,
/// summary, stderr).
fn replay_dry(dir: &Path, extra: &[&str], limit: Duration) -> (Option<i32>, Value, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_apigw-stream"))
        .args(["replay", "--dry-run", "--json", "--from-archive"])
        .arg(dir)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Pipes are drained on their own threads, so a chatty child cannot block on a full pipe.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("replay --from-archive hung for {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = out_reader.join().unwrap();
    let err = err_reader.join().unwrap();
    let summary = serde_json::from_str(&out).unwrap_or(Value::Null);
    (status.code(), summary, err)
}

#[test]
fn archive_symlinks_out_of_the_directory_are_not_followed_unless_asked_and_named() {
    let outside = tempfile::tempdir().unwrap();
    write_records(&outside.path().join("secret.ndjson"), "outside", 50);
    let dir = tempfile::tempdir().unwrap();
    write_records(&dir.path().join("a.ndjson"), "inside", 10);
    let link = dir.path().join("b.ndjson");
    std::os::unix::fs::symlink(outside.path().join("secret.ndjson"), &link).unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("sub")).unwrap();

    let (code, s, err) = replay_dry(dir.path(), &[], Duration::from_secs(60));
    assert_eq!(code, Some(1), "a skipped object makes the run exit 1");
    assert_eq!(s["read"], 10, "{s}");
    assert_eq!(s["skipped_objects"], 2, "{s}");
    assert!(
        err.contains(&link.display().to_string()) && err.contains("symbolic link"),
        "{err}"
    );

    let (code, s, err) = replay_dry(dir.path(), &["--follow-symlinks"], Duration::from_secs(60));
    assert_eq!(s["read"], 60, "{s} {err}");
    // The link to a directory is still left out, and named.
    assert_eq!(s["skipped_objects"], 1, "{s}");
    assert_eq!(code, Some(1));
}

#[test]
fn a_named_pipe_among_the_objects_is_skipped_and_named_without_hanging() {
    let dir = tempfile::tempdir().unwrap();
    write_records(&dir.path().join("a.ndjson"), "a", 10);
    let fifo = dir.path().join("b.ndjson");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid C string path; mkfifo only creates the node.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    write_records(&dir.path().join("c.ndjson"), "c", 5);
    let (code, s, err) = replay_dry(dir.path(), &[], Duration::from_secs(60));
    assert_eq!(code, Some(1));
    assert_eq!(s["read"], 15, "{s}");
    assert_eq!(s["skipped_objects"], 1, "{s}");
    assert!(
        err.contains(&fifo.display().to_string()) && err.contains("named pipe"),
        "{err}"
    );
}

/// Run the binary, return (exit code, peak RSS in KiB, stdout).
// The child is reaped by `wait4` (for its rusage), which clippy cannot see.
#[allow(clippy::zombie_processes)]
fn run_measured(args: &[&str], dir: &Path) -> (Option<i32>, i64, String) {
    let out_path = dir.join("stdout.json");
    let child = Command::new(env!("CARGO_BIN_EXE_apigw-stream"))
        .args(args)
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: `rusage` is plain data the kernel fills; the pid is our own child, not waited yet.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4 failed");
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    (
        code,
        usage.ru_maxrss,
        std::fs::read_to_string(out_path).unwrap(),
    )
}

#[test]
fn replaying_1mb_records_keeps_memory_bounded_by_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    std::fs::create_dir(&archive).unwrap();
    // 1,000 records of 1 MB each (compressible, so the object stays small on disk).
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(archive.join("big.ndjson.gz")).unwrap(),
        flate2::Compression::fast(),
    );
    for i in 0..1000 {
        gz.write_all(archive_line(&format!("big-{i}"), 1_000_000).as_bytes())
            .unwrap();
    }
    gz.finish().unwrap();
    let (code, rss_kb, out) = run_measured(
        &[
            "replay",
            "--dry-run",
            "--json",
            "--from-archive",
            archive.to_str().unwrap(),
        ],
        dir.path(),
    );
    eprintln!(
        "replay of 1,000 × 1 MB records: peak RSS {} MiB",
        rss_kb / 1024
    );
    assert_eq!(code, Some(0), "{out}");
    let s: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(s["read"], 1000);
    assert!(
        rss_kb < 300 * 1024,
        "peak RSS {} MiB (limit 300 MB)",
        rss_kb / 1024
    );
}

// ---- a token that cannot be sent ----

fn client_config() -> ClientConfig {
    ClientConfig {
        request_timeout: Duration::from_secs(5),
        deadline_margin: Duration::from_millis(100),
        base_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
        allow_insecure_http: true,
        ..ClientConfig::default()
    }
}

async fn receiver_with(bad_tokens: u32) -> Receiver {
    Receiver::start(
        ([127, 0, 0, 1], 0).into(),
        ReceiverConfig {
            client_id: Some("c".into()),
            client_secret: Some(Secret::new("tok-test-secret".to_string())),
            faults: Faults {
                bad_tokens,
                ..Faults::default()
            },
            ..ReceiverConfig::default()
        },
    )
    .await
    .unwrap()
}

fn bridge_client(rx: &Receiver) -> BridgeClient {
    let config = client_config();
    let http = http_client(&config).unwrap();
    let auth = Auth::OAuth(Box::new(TokenSource::new(
        http.clone(),
        rx.token_url(),
        "c",
        SecretSource::Static(Secret::new("tok-test-secret".to_string())),
        AuthMethod::Body,
        Duration::from_secs(5),
    )));
    BridgeClient::new(
        http,
        &rx.transactions_url(),
        Arc::new(auth),
        Format::Ndjson,
        config,
    )
    .unwrap()
}

fn window() -> Vec<u8> {
    let t = Transaction::new("tok-1".into(), 1_700_000_000_000, Source::default());
    let mut w = serde_json::to_vec(&t).unwrap();
    w.push(b'\n');
    w
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_with_a_control_character_is_fetched_again_after_a_pause() {
    let rx = receiver_with(1).await;
    let c = bridge_client(&rx);
    let started = Instant::now();
    let r = c
        .post(window(), Instant::now() + Duration::from_secs(10))
        .await;
    assert!(matches!(r.outcome, Outcome::Delivered), "{:?}", r.outcome);
    let s = rx.stats();
    assert_eq!((s.bad_tokens_issued, s.tokens_issued), (1, 1), "{s:?}");
    assert_eq!(s.token_requests, 2);
    assert!(started.elapsed() >= apigw_stream::ship::bridge::auth::BAD_TOKEN_PAUSE);
    assert_eq!(rx.accepted_ids(), vec!["tok-1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_that_keeps_answering_bad_tokens_is_asked_a_bounded_number_of_times() {
    let rx = receiver_with(1000).await;
    let c = bridge_client(&rx);
    let r = c
        .post(window(), Instant::now() + Duration::from_secs(10))
        .await;
    match r.outcome {
        Outcome::Failed(e) => assert!(!e.is_transient(), "{e}"),
        other => panic!("bad tokens only: {other:?}"),
    }
    let s = rx.stats();
    assert_eq!(
        s.token_requests,
        u64::from(apigw_stream::ship::bridge::auth::BAD_TOKEN_RETRIES) + 1,
        "{s:?}"
    );
    assert_eq!(s.posts, 0, "nothing sent without a token");
}
