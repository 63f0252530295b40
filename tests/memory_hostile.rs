//! Bounded memory on hostile inputs: `decode` and `local` are run on each case as a user would,
//! and the peak resident set of the child process (from `wait4`'s rusage, not our own estimate)
//! must stay under 300 MB. Cases: 20 Lambda events in one file each decompressing to just under
//! the 64 MiB cap; one 64 MB line of commas; one payload of 1M tiny events.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use flate2::write::GzEncoder;

const LIMIT_KB: i64 = 300 * 1024;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// `{"awslogs":{"data":base64(gzip(LogData))}}` for events written by `events` (a JSON array).
fn lambda_event(events_json: &[u8]) -> String {
    let mut logdata = Vec::with_capacity(events_json.len() + 200);
    logdata.extend_from_slice(
        br#"{"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"/aws/apigateway/hostile","logStream":"s","subscriptionFilters":["f"],"logEvents":"#,
    );
    logdata.extend_from_slice(events_json);
    logdata.push(b'}');
    let data = base64::engine::general_purpose::STANDARD.encode(gzip(&logdata));
    format!(r#"{{"awslogs":{{"data":"{data}"}}}}"#)
}

fn one_event(message_len: usize, fill: u8) -> Vec<u8> {
    let mut e = Vec::with_capacity(message_len + 64);
    e.extend_from_slice(br#"[{"id":"1","timestamp":1700000000000,"message":""#);
    e.resize(e.len() + message_len, fill);
    e.extend_from_slice(br#""}]"#);
    e
}

/// Run the binary, return (exit code, peak RSS in KiB).
// The child is reaped by `wait4` (for its rusage), which clippy cannot see.
#[allow(clippy::zombie_processes)]
fn run(args: &[&str], input: &Path, out: &Path) -> (Option<i32>, i64) {
    let child = Command::new(env!("CARGO_BIN_EXE_apigw-stream"))
        .args(args)
        .arg(input)
        .current_dir(out)
        .stdout(Stdio::null())
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
    // Linux reports ru_maxrss in KiB.
    (code, usage.ru_maxrss)
}

fn check(case: &str, input: PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["decode"],
        vec!["local", "--quiet", "--out", dir.path().to_str().unwrap()],
    ] {
        let (code, rss_kb) = run(&args, &input, dir.path());
        eprintln!(
            "{case}: {args:?} exit {code:?}, peak RSS {} MiB",
            rss_kb / 1024
        );
        assert!(
            rss_kb < LIMIT_KB,
            "{case}: `{}` peaked at {} MiB (limit 300 MB)",
            args[0],
            rss_kb / 1024
        );
        assert!(code.is_some(), "{case}: `{}` was killed", args[0]);
    }
}

#[test]
fn twenty_events_each_just_under_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let event = lambda_event(&one_event(64 * 1024 * 1024 - 4096, b'a'));
    let path = dir.path().join("twenty.json");
    let mut f = std::fs::File::create(&path).unwrap();
    for _ in 0..20 {
        writeln!(f, "{event}").unwrap();
    }
    drop(f);
    check("20 x 64 MiB events", path);
}

#[test]
fn one_line_of_64_mb_commas() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("commas.json");
    std::fs::write(&path, lambda_event(&one_event(64_000_000, b','))).unwrap();
    check("64 MB of commas", path);
}

#[test]
fn one_payload_of_a_million_tiny_events() {
    let dir = tempfile::tempdir().unwrap();
    let mut events = Vec::with_capacity(60_000_000);
    events.push(b'[');
    for i in 0..1_000_000u32 {
        if i > 0 {
            events.push(b',');
        }
        write!(
            events,
            r#"{{"id":"{i}","timestamp":1700000000000,"message":"{{\"requestId\":\"r{i}\",\"status\":\"200\"}}"}}"#
        )
        .unwrap();
    }
    events.push(b']');
    let path = dir.path().join("million.json");
    std::fs::write(&path, lambda_event(&events)).unwrap();
    check("1M tiny events", path);
}
