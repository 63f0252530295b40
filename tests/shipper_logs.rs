//! No secret or token in any log line: every shipper path runs under a TRACE-level JSON
//! subscriber whose output is captured and searched.

mod common;
mod ship_support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use apigw_stream::ship::bridge::receiver::{Faults, ReceiverConfig};
use apigw_stream::ship::ShipConfig;
use ship_support::*;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_or_token_in_logs() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .init();

    let rx = receiver(ReceiverConfig::default()).await;
    let good = shipper(
        &rx,
        Opts {
            concurrency: 2,
            window_bytes: 8_000,
            ..Opts::default()
        },
    );
    let (messages, _) = batch(&[30, 30]);

    // Success, a 401 and re-auth, retries, a refusal, a split.
    assert!(good.ship(&messages, deadline(10)).await.failed.is_empty());
    rx.revoke_tokens();
    rx.push_statuses([503, 400, 413]);
    good.ship(&messages, deadline(10)).await;

    // Refused credentials (the secret travels but must not be echoed).
    let bad = shipper(
        &rx,
        Opts {
            secret: "wrong-secret-XYZ-987",
            ..Opts::default()
        },
    );
    assert_eq!(bad.ship(&messages, deadline(10)).await.failed.len(), 2);

    // A stalled collector (timeouts are logged with their cause).
    rx.set_faults(Faults {
        latency: Duration::from_secs(30),
        ..Faults::default()
    });
    let slow = shipper(
        &rx,
        Opts {
            request_timeout: Duration::from_millis(300),
            ..Opts::default()
        },
    );
    slow.ship(&messages, deadline(2)).await;

    // Configuration dumps are redacted too.
    let config = ShipConfig::from_lookup(|k| match k {
        "BRIDGE_URL" => Some("https://edge.example.com".into()),
        "AUTH_URL" => Some("https://auth.example.com/token".into()),
        "CLIENT_ID" => Some(CLIENT_ID.into()),
        "CLIENT_SECRET" => Some(CLIENT_SECRET.into()),
        _ => None,
    })
    .unwrap();
    tracing::info!(config = ?config, auth = ?good.client().auth(), "dump");

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    let tokens = rx.issued_tokens();
    assert!(tokens.len() >= 2, "the scenario should have issued tokens");
    assert!(
        logs.lines().count() > 10,
        "expected a real log to search:\n{logs}"
    );
    assert!(logs.contains("401"), "the 401 path ran");
    assert!(
        logs.contains("refused the client credentials"),
        "the refusal path ran"
    );
    for needle in [CLIENT_SECRET, "wrong-secret-XYZ-987"]
        .iter()
        .copied()
        .chain(tokens.iter().map(String::as_str))
    {
        assert!(
            !logs.contains(needle),
            "a secret or token appears in the logs"
        );
    }
    assert!(
        !logs.contains("Bearer ey"),
        "an Authorization header appears in the logs"
    );
}
