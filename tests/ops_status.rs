//! `apigw-stream status` against moto's server: the pipeline stack's queues are real (moto's SQS,
//! depths checked against what the test put there), the metrics are a stub (moto's CloudWatch
//! does not speak the CBOR protocol the Rust SDK's GetMetricData uses), recording the queries it
//! was asked so their dimensions can be checked against the stack's real names.
#![cfg(feature = "cli")]

mod common;
mod ops_support;

use std::collections::BTreeMap;
use std::sync::Mutex;

use apigw_stream::control::ops::status::{
    self, MetricQuery, MetricSource, Points, Severity, Window,
};
use apigw_stream::control::ops::OpsError;
use async_trait::async_trait;
use ops_support::{REGION, STACK};

/// Series by figure id, the queries received kept for inspection.
struct Stub {
    series: BTreeMap<String, Points>,
    asked: Mutex<Vec<MetricQuery>>,
}

#[async_trait]
impl MetricSource for Stub {
    async fn fetch(
        &self,
        queries: &[MetricQuery],
        _window: Window,
    ) -> Result<BTreeMap<String, Points>, OpsError> {
        self.asked
            .lock()
            .expect("lock")
            .extend(queries.iter().cloned());
        Ok(self
            .series
            .iter()
            .filter(|(id, _)| queries.iter().any(|q| &q.id == *id))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}

async fn send(sqs: &aws_sdk_sqs::Client, url: &str, n: usize) {
    for i in 0..n {
        sqs.send_message()
            .queue_url(url)
            .message_body(format!("m{i}"))
            .send()
            .await
            .expect("send");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_depths_series_and_what_to_run() {
    let moto = common::Moto::start();
    let conf = moto.sdk_config();
    let pipeline = ops_support::deploy_pipeline(&conf).await;
    let sqs = aws_sdk_sqs::Client::new(&conf);
    send(&sqs, &pipeline.shipper_dlq_url, 3).await;
    send(&sqs, &pipeline.queue_url, 2).await;

    let cfn = aws_sdk_cloudformation::Client::new(&conf);
    let res = status::resources(&cfn, STACK, REGION)
        .await
        .expect("stack outputs");
    let window = Window::ending(1_765_000_000, 3600, 300);
    let pts = window.points();
    // Records in every point, the last three with failures at the collector; the queue's oldest
    // message ageing to 20 minutes.
    let series = BTreeMap::from([
        (
            "recordsIn".to_string(),
            pts.iter().map(|t| (*t, 100.0)).collect::<Points>(),
        ),
        (
            "delivered".to_string(),
            // Stamped 30 s into each period, as a source rounding differently would.
            pts.iter().map(|t| (*t + 30, 100.0)).take(9).collect(),
        ),
        (
            "windowsFailed".to_string(),
            pts.iter().skip(9).map(|t| (*t, 4.0)).collect(),
        ),
        (
            "ageQueue".to_string(),
            pts.iter()
                .enumerate()
                .map(|(i, t)| (*t, i as f64 * 100.0 + 100.0))
                .collect(),
        ),
    ]);
    let stub = Stub {
        series,
        asked: Mutex::new(Vec::new()),
    };
    let report = status::collect(&res, &sqs, &stub, window).await;

    // Depths: what this test put in moto's queues.
    let depth = |role| {
        report
            .queues
            .iter()
            .find(|q| q.role == role)
            .and_then(|q| q.visible)
    };
    use apigw_stream::control::ops::view::QueueRole;
    assert_eq!(depth(QueueRole::ShipperDlq), Some(3));
    assert_eq!(depth(QueueRole::Queue), Some(2));
    assert_eq!(depth(QueueRole::DecodeDlq), Some(0));
    // The test stack has no stitch queues: neither shown nor asked about.
    assert!(report
        .queues
        .iter()
        .all(|q| q.role != QueueRole::StitchQueue));

    // The queries name the stack's real queue and function.
    let asked = stub.asked.lock().expect("lock").clone();
    let queue_name = pipeline.queue_url.rsplit('/').next().expect("name");
    let age = asked
        .iter()
        .find(|q| q.id == "ageQueue")
        .expect("ageQueue asked");
    assert_eq!(age.namespace, "AWS/SQS");
    assert_eq!(
        age.dimension,
        ("QueueName".to_string(), queue_name.to_string())
    );
    let function = pipeline
        .function_arn
        .rsplit(':')
        .next()
        .expect("function name");
    let dur = asked
        .iter()
        .find(|q| q.id == "decodeDuration")
        .expect("decode duration asked");
    assert_eq!(dur.dimension.1, function);
    assert!(asked.iter().all(|q| q.id != "ageStitch"));

    // Series land in their points; current values and totals.
    let s = report.series("recordsIn").expect("records in");
    assert_eq!(s.values.len(), 12);
    assert_eq!(s.total(), 1200.0);
    // A point stamped off our period boundaries still lands in the point it falls in.
    assert_eq!(report.series("ageQueue").map(|s| s.values.len()), Some(12));
    let d = report.series("delivered").expect("delivered");
    assert_eq!(d.values[9], None);
    assert_eq!(d.current(), Some(100.0));
    assert_eq!(
        report.series("ageQueue").and_then(|s| s.max()),
        Some(1200.0)
    );

    // Findings: the DLQ with the replay command, the queue behind, the collector failing.
    let problems: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Problem)
        .collect();
    assert_eq!(problems.len(), 1, "{:#?}", report.findings);
    assert!(problems[0]
        .what
        .starts_with("3 message(s) in the shipper DLQ"));
    assert_eq!(
        problems[0].run.as_deref(),
        Some("apigw-stream replay --stack-name apigw-stream --region us-east-1 --dlq shipper")
    );
    let text: Vec<&str> = report.findings.iter().map(|f| f.what.as_str()).collect();
    assert!(text.iter().any(|t| t.contains("1200 s")), "{text:?}");
    assert!(
        text.iter().any(|t| t.contains("failed 12 window(s)")),
        "{text:?}"
    );
    assert_eq!(report.worst(), Some(Severity::Problem));

    let rendered = status::render(&report);
    assert!(rendered.contains("shipper DLQ          3"), "{rendered}");
    assert!(
        rendered.contains("▂▂▃▃▄▅▅▆▆▇▇█"),
        "the age sparkline: {rendered}"
    );
    assert!(rendered.contains("run: apigw-stream replay"), "{rendered}");
    let json = serde_json::to_value(&report).expect("json");
    assert_eq!(json["queues"].as_array().map(Vec::len), Some(3));
}

/// The command itself against moto: the queues are read, CloudWatch's refusal is reported next
/// to them rather than failing the command, and the DLQ makes the exit code 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_status_json() {
    let moto = common::Moto::start();
    let conf = moto.sdk_config();
    let pipeline = ops_support::deploy_pipeline(&conf).await;
    let sqs = aws_sdk_sqs::Client::new(&conf);
    send(&sqs, &pipeline.decode_dlq_url, 1).await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_apigw-stream"))
        .args([
            "status",
            "--json",
            "--window",
            "1h",
            "--endpoint-url",
            &moto.endpoint,
            "--region",
            REGION,
        ])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("run apigw-stream status");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("status --json");
    let decode_dlq = v["queues"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|q| q["role"] == "decode-dlq")
        .expect("decode DLQ");
    assert_eq!(decode_dlq["visible"], 1);
    assert_eq!(v["window"]["seconds"], 3600);
    assert!(v["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|f| f["run"]
            .as_str()
            .is_some_and(|r| r.contains("--dlq decode"))));
}
