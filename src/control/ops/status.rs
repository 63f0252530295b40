//! `apigw-stream status`: a deployed pipeline's health over a window. The queues' depths now
//! (SQS `GetQueueAttributes`), every figure of [`view::panels`] as a series (CloudWatch
//! `GetMetricData`), what looks wrong and the command that helps.
//!
//! The metrics come through [`MetricSource`], so the analysis and the rendering are tested with
//! stubbed series and the queues against moto's server.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::Serialize;

use super::view::{self, Figure, FunctionRole, Names, QueueRole};
use super::{stack, OpsError};

/// The stack's queues and functions, from its outputs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Resources {
    pub stack: String,
    pub region: String,
    /// Queue URLs by role (a stack without stitching has no stitch queues).
    pub queues: BTreeMap<QueueRole, String>,
    /// Function names by role.
    pub functions: BTreeMap<FunctionRole, String>,
}

/// The queue name of an SQS URL (its last path segment).
pub fn queue_name(url: &str) -> &str {
    url.trim_end_matches('/').rsplit('/').next().unwrap_or(url)
}

/// The function name of a Lambda ARN (`…:function:NAME[:qualifier]`), or the input.
pub fn function_name(arn: &str) -> &str {
    match arn.split_once(":function:") {
        Some((_, rest)) => rest.split(':').next().unwrap_or(rest),
        None => arn,
    }
}

impl Names for Resources {
    fn queue(&self, q: QueueRole) -> String {
        self.queues
            .get(&q)
            .map(|u| queue_name(u).to_string())
            .unwrap_or_default()
    }
    fn function(&self, f: FunctionRole) -> String {
        self.functions.get(&f).cloned().unwrap_or_default()
    }
    fn region(&self) -> String {
        self.region.clone()
    }
}

impl Resources {
    /// From the pipeline stack's outputs (`QueueUrl`, `ShipperDlqUrl`…, `DecodeFunctionArn`,
    /// `ShipperFunctionArn`).
    pub fn from_outputs(stack: &str, region: &str, outputs: &BTreeMap<String, String>) -> Self {
        let mut queues = BTreeMap::new();
        for q in QueueRole::ALL {
            if let Some(url) = outputs
                .get(&format!("{}Url", q.logical_id()))
                .filter(|u| !u.is_empty())
            {
                queues.insert(q, url.clone());
            }
        }
        let mut functions = BTreeMap::new();
        for (f, key) in [
            (FunctionRole::Decode, "DecodeFunctionArn"),
            (FunctionRole::Shipper, "ShipperFunctionArn"),
        ] {
            if let Some(arn) = outputs.get(key).filter(|a| !a.is_empty()) {
                functions.insert(f, function_name(arn).to_string());
            }
        }
        Resources {
            stack: stack.to_string(),
            region: region.to_string(),
            queues,
            functions,
        }
    }

    /// Whether this figure's queue or function exists in the stack.
    fn has(&self, f: &Figure) -> bool {
        match f.target {
            view::Target::Ours(_) => true,
            view::Target::Queue(q) => self.queues.contains_key(&q),
            view::Target::Lambda(r) => self.functions.contains_key(&r),
        }
    }
}

/// Read the stack's outputs.
pub async fn resources(
    cfn: &aws_sdk_cloudformation::Client,
    stack_name: &str,
    region: &str,
) -> Result<Resources, OpsError> {
    let outputs = stack::stack_outputs(cfn, stack_name).await?;
    let outputs: BTreeMap<String, String> = outputs.into_iter().collect();
    Ok(Resources::from_outputs(stack_name, region, &outputs))
}

/// The window and resolution of the series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Window {
    /// End of the window, seconds since the epoch (aligned down to the period).
    pub end: i64,
    pub seconds: u32,
    pub period: u32,
}

impl Window {
    /// The window ending now, `seconds` long, `period`-second points (at least 60).
    pub fn ending(now_s: i64, seconds: u32, period: u32) -> Window {
        let period = period.max(60);
        let end = now_s - now_s.rem_euclid(i64::from(period));
        Window {
            end,
            seconds: seconds.max(period),
            period,
        }
    }

    pub fn start(&self) -> i64 {
        self.end - i64::from(self.seconds)
    }

    /// The start of each point, oldest first.
    pub fn points(&self) -> Vec<i64> {
        let n = (self.seconds / self.period) as i64;
        (0..n)
            .map(|i| self.start() + i * i64::from(self.period))
            .collect()
    }
}

/// One query for a metric source: a figure with its dimension resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetricQuery {
    pub id: String,
    pub namespace: String,
    pub metric: String,
    pub dimension: (String, String),
    pub stat: String,
}

/// Data points of one query: (point start in seconds, value); points without data are absent.
pub type Points = Vec<(i64, f64)>;

/// Where series come from: CloudWatch, or a test's stub.
#[async_trait]
pub trait MetricSource: Send + Sync {
    async fn fetch(
        &self,
        queries: &[MetricQuery],
        window: Window,
    ) -> Result<BTreeMap<String, Points>, OpsError>;
}

/// CloudWatch `GetMetricData` (500 queries per call; the figures are far fewer).
pub struct CloudWatch(pub aws_sdk_cloudwatch::Client);

#[async_trait]
impl MetricSource for CloudWatch {
    async fn fetch(
        &self,
        queries: &[MetricQuery],
        window: Window,
    ) -> Result<BTreeMap<String, Points>, OpsError> {
        use aws_sdk_cloudwatch::primitives::DateTime;
        use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy};
        let mut out: BTreeMap<String, Points> = BTreeMap::new();
        for chunk in queries.chunks(500) {
            let mut req = self
                .0
                .get_metric_data()
                .start_time(DateTime::from_secs(window.start()))
                .end_time(DateTime::from_secs(window.end))
                .scan_by(ScanBy::TimestampAscending);
            for q in chunk {
                let metric = Metric::builder()
                    .namespace(&q.namespace)
                    .metric_name(&q.metric)
                    .dimensions(
                        Dimension::builder()
                            .name(&q.dimension.0)
                            .value(&q.dimension.1)
                            .build(),
                    )
                    .build();
                req = req.metric_data_queries(
                    MetricDataQuery::builder()
                        .id(&q.id)
                        .metric_stat(
                            MetricStat::builder()
                                .metric(metric)
                                .period(window.period as i32)
                                .stat(&q.stat)
                                .build(),
                        )
                        .return_data(true)
                        .build(),
                );
            }
            let mut pages = req.into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| OpsError::aws("GetMetricData", "CloudWatch", e))?;
                for r in page.metric_data_results() {
                    let Some(id) = r.id() else { continue };
                    let points = out.entry(id.to_string()).or_default();
                    for (t, v) in r.timestamps().iter().zip(r.values()) {
                        points.push((t.secs(), *v));
                    }
                }
            }
        }
        for points in out.values_mut() {
            points.sort_by_key(|p| p.0);
        }
        Ok(out)
    }
}

/// A queue now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueNow {
    pub role: QueueRole,
    pub name: String,
    pub url: String,
    /// Messages available.
    pub visible: Option<u64>,
    /// Messages being processed (received, not yet deleted).
    pub in_flight: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Ask SQS for each queue's depth.
pub async fn queues_now(sqs: &aws_sdk_sqs::Client, res: &Resources) -> Vec<QueueNow> {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let mut out = Vec::new();
    for (role, url) in &res.queues {
        let resp = sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(A::ApproximateNumberOfMessages)
            .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await;
        let mut q = QueueNow {
            role: *role,
            name: queue_name(url).to_string(),
            url: url.clone(),
            visible: None,
            in_flight: None,
            error: None,
        };
        match resp {
            Ok(r) => {
                let get = |a: &A| {
                    r.attributes()
                        .and_then(|m| m.get(a))
                        .and_then(|v| v.parse::<u64>().ok())
                };
                q.visible = get(&A::ApproximateNumberOfMessages);
                q.in_flight = get(&A::ApproximateNumberOfMessagesNotVisible);
            }
            Err(e) => q.error = Some(OpsError::aws("GetQueueAttributes", url, e).to_string()),
        }
        out.push(q);
    }
    out
}

/// One figure over the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    pub id: &'static str,
    pub panel: &'static str,
    pub label: &'static str,
    pub metric: &'static str,
    pub stat: &'static str,
    /// One value per point of the window, oldest first; `None` where there was no data.
    pub values: Vec<Option<f64>>,
}

impl Series {
    /// The latest point with data.
    pub fn current(&self) -> Option<f64> {
        self.values.iter().rev().flatten().next().copied()
    }

    /// Sum over the window (for counts).
    pub fn total(&self) -> f64 {
        self.values.iter().flatten().sum()
    }

    pub fn max(&self) -> Option<f64> {
        self.values.iter().flatten().copied().reduce(f64::max)
    }

    /// What the window sums up to: the total for counts, the maximum for gauges, the mean of
    /// the points for averages.
    pub fn summary(&self) -> Option<f64> {
        let data: Vec<f64> = self.values.iter().flatten().copied().collect();
        if data.is_empty() {
            return None;
        }
        Some(match self.stat {
            "Sum" => data.iter().sum(),
            "Maximum" => data.iter().copied().fold(f64::MIN, f64::max),
            _ => data.iter().sum::<f64>() / data.len() as f64,
        })
    }
}

/// `▁▂▃▄▅▆▇█` scaled from 0 to the series' maximum; a space where there was no data.
pub fn sparkline(values: &[Option<f64>]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.iter().flatten().copied().fold(0.0_f64, f64::max);
    values
        .iter()
        .map(|v| match v {
            None => ' ',
            Some(_) if max <= 0.0 => BARS[0],
            Some(x) => {
                let i = ((x.max(0.0) / max) * 7.0).round() as usize;
                BARS[i.min(7)]
            }
        })
        .collect()
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Problem,
}

/// Something wrong (or worth knowing), and what to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub what: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
}

/// Everything `status` shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusReport {
    pub stack: String,
    pub region: String,
    pub window: Window,
    /// Function names by role.
    pub functions: BTreeMap<FunctionRole, String>,
    pub queues: Vec<QueueNow>,
    pub series: Vec<Series>,
    pub findings: Vec<Finding>,
    /// Metrics that could not be read (the rest is still shown).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

impl StatusReport {
    pub fn series(&self, id: &str) -> Option<&Series> {
        self.series.iter().find(|s| s.id == id)
    }

    /// The worst finding's severity (`None`: all well).
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

/// The queries for a stack: every figure whose queue or function the stack has.
pub fn queries(res: &Resources) -> Vec<(MetricQuery, Figure, &'static str)> {
    let mut out = Vec::new();
    for panel in view::panels() {
        for f in panel.figures {
            if !res.has(&f) {
                continue;
            }
            let (dim, value) = f.dimension(res);
            out.push((
                MetricQuery {
                    id: f.id.to_string(),
                    namespace: f.namespace().to_string(),
                    metric: f.metric.to_string(),
                    dimension: (dim.to_string(), value),
                    stat: f.stat.as_str().to_string(),
                },
                f,
                panel.title,
            ));
        }
    }
    out
}

/// Gather the report: queue depths from SQS, series from `source`, then the findings.
pub async fn collect(
    res: &Resources,
    sqs: &aws_sdk_sqs::Client,
    source: &dyn MetricSource,
    window: Window,
) -> StatusReport {
    let queues = queues_now(sqs, res).await;
    let qs = queries(res);
    let only: Vec<MetricQuery> = qs.iter().map(|(q, _, _)| q.clone()).collect();
    let mut errors = Vec::new();
    let data = match source.fetch(&only, window).await {
        Ok(d) => d,
        Err(e) => {
            errors.push(e.to_string());
            BTreeMap::new()
        }
    };
    let n = window.points().len();
    let series = qs
        .into_iter()
        .map(|(q, f, panel)| {
            // Each data point in the window's point it falls in (CloudWatch may round the start
            // of its periods differently from ours); two in one point keep the later.
            let mut values: Vec<Option<f64>> = vec![None; n];
            for (t, v) in data.get(&q.id).into_iter().flatten() {
                let offset = t - window.start();
                if offset < 0 {
                    continue;
                }
                let i = (offset / i64::from(window.period)) as usize;
                if let Some(slot) = values.get_mut(i) {
                    *slot = Some(*v);
                }
            }
            Series {
                id: f.id,
                panel,
                label: f.label,
                metric: f.metric,
                stat: f.stat.as_str(),
                values,
            }
        })
        .collect();
    let mut report = StatusReport {
        stack: res.stack.clone(),
        region: res.region.clone(),
        window,
        functions: res.functions.clone(),
        queues,
        series,
        findings: Vec::new(),
        errors,
    };
    report.findings = diagnose(&report);
    report
}

/// Queue age above which the shipper is behind (seconds).
pub const AGE_BEHIND_SECS: f64 = 300.0;

/// What is wrong, from the numbers, each with the command that helps.
pub fn diagnose(r: &StatusReport) -> Vec<Finding> {
    let mut out = Vec::new();
    queue_findings(r, &mut out);
    metric_findings(r, &mut out);
    traffic_findings(r, &mut out);
    out
}

/// A metric's sum over the window (0 when absent).
fn total(r: &StatusReport, id: &str) -> f64 {
    r.series(id).map_or(0.0, Series::total)
}

/// The collector failed windows or rejected records in the window.
fn collector_trouble(r: &StatusReport) -> bool {
    total(r, "windowsFailed") > 0.0 || total(r, "rejected") > 0.0
}

/// Queues that could not be read, and messages waiting in a dead-letter queue.
fn queue_findings(r: &StatusReport, out: &mut Vec<Finding>) {
    let (stack, region) = (&r.stack, &r.region);
    let depth = |role: QueueRole| {
        r.queues
            .iter()
            .find(|q| q.role == role)
            .and_then(|q| q.visible)
            .unwrap_or(0)
    };
    for q in &r.queues {
        if let Some(e) = &q.error {
            out.push(Finding {
                severity: Severity::Problem,
                what: format!("cannot read the {} ({}): {e}", q.role.label(), q.name),
                run: None,
            });
        }
    }
    let shipper_dlq = depth(QueueRole::ShipperDlq);
    let decode_dlq = depth(QueueRole::DecodeDlq);
    let stitch_dlq = depth(QueueRole::StitchDlq);
    let collector_trouble = collector_trouble(r);
    if shipper_dlq > 0 {
        out.push(Finding {
            severity: Severity::Problem,
            what: format!(
                "{shipper_dlq} message(s) in the shipper DLQ: batches the collector did not take{}",
                if collector_trouble {
                    " (the collector failed windows in this window: fix that first)"
                } else {
                    ""
                }
            ),
            run: Some(format!(
                "apigw-stream replay --stack-name {stack} --region {region} --dlq shipper"
            )),
        });
    }
    if decode_dlq > 0 {
        out.push(Finding {
            severity: Severity::Problem,
            what: format!(
                "{decode_dlq} event(s) in the decode DLQ: subscription payloads the decode function failed on three times"
            ),
            run: Some(format!(
                "apigw-stream replay --stack-name {stack} --region {region} --dlq decode"
            )),
        });
    }
    if stitch_dlq > 0 {
        out.push(Finding {
            severity: Severity::Problem,
            what: format!(
                "{stitch_dlq} message(s) in the stitch DLQ: fragments that could not be joined"
            ),
            run: Some(format!(
                "apigw-stream replay --stack-name {stack} --region {region} --from {}",
                r.queues
                    .iter()
                    .find(|q| q.role == QueueRole::StitchDlq)
                    .map(|q| q.url.as_str())
                    .unwrap_or("STITCH_DLQ_URL")
            )),
        });
    }
}

/// The shipper falling behind, collector failures, throttles and decode failures.
fn metric_findings(r: &StatusReport, out: &mut Vec<Finding>) {
    let region = &r.region;
    let total = |id: &str| total(r, id);
    let worst = |id: &str| r.series(id).and_then(Series::max).unwrap_or(0.0);
    let age = worst("ageQueue");
    if age > AGE_BEHIND_SECS {
        out.push(Finding {
            severity: Severity::Warning,
            what: format!(
                "the queue's oldest message reached {age:.0} s: the shipper is behind or failing \
                 (collector errors, throttles, too little concurrency)"
            ),
            run: None,
        });
    }
    if collector_trouble(r) {
        out.push(Finding {
            severity: Severity::Warning,
            what: format!(
                "the collector failed {:.0} window(s) and rejected {:.0} record(s); {:.0} retries",
                total("windowsFailed"),
                total("rejected"),
                total("retries")
            ),
            run: Some(format!(
                "aws logs tail \"$(aws lambda get-function-configuration --function-name {} \
                 --query LoggingConfig.LogGroup --output text --region {region})\" --since 1h --region {region}",
                r.functions
                    .get(&FunctionRole::Shipper)
                    .map_or("SHIPPER_FUNCTION", String::as_str)
            )),
        });
    }
    for (id, what) in [
        ("decodeThrottles", "decode"),
        ("shipperThrottles", "shipper"),
    ] {
        if total(id) > 0.0 {
            out.push(Finding {
                severity: Severity::Warning,
                what: format!(
                    "the {what} function was throttled {:.0} time(s): raise its reserved concurrency or the account's limit",
                    total(id)
                ),
                run: None,
            });
        }
    }
    if total("decodeErrors") > 0.0 {
        out.push(Finding {
            severity: Severity::Warning,
            what: format!(
                "the decode function failed {:.0} invocation(s) (Lambda retries them, then keeps them in the decode DLQ)",
                total("decodeErrors")
            ),
            run: None,
        });
    }
}

/// Lines the decoder could not read, stages auto-enable could not enable, and no traffic at all.
fn traffic_findings(r: &StatusReport, out: &mut Vec<Finding>) {
    let region = &r.region;
    let total = |id: &str| total(r, id);
    let records = total("recordsIn");
    let unparsed = total("unparsed");
    if unparsed > 0.0 {
        out.push(Finding {
            severity: Severity::Warning,
            what: format!(
                "{unparsed:.0} log line(s) could not be read: a stage logs in a format the decoder does not know"
            ),
            run: Some(format!(
                "apigw-stream apis --region {region}   # then: apigw-stream enable --api ID --stage NAME --set-format --apply"
            )),
        });
    }
    if total("stagesBlocked") > 0.0 {
        out.push(Finding {
            severity: Severity::Warning,
            what: format!(
                "auto-enable could not enable {:.0} stage(s): see the control function's \"stage\" log lines",
                total("stagesBlocked")
            ),
            run: Some(format!("apigw-stream apis --region {region}")),
        });
    }
    if records == 0.0 && r.errors.is_empty() {
        out.push(Finding {
            severity: Severity::Info,
            what: "no records decoded in this window: no traffic, or no stage is streamed".into(),
            run: Some(format!(
                "apigw-stream apis --region {region}   # then: apigw-stream enable --api ID --apply"
            )),
        });
    }
}

fn fmt_num(v: Option<f64>) -> String {
    match v {
        None => "-".to_string(),
        Some(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{}", x as i64),
        Some(x) => format!("{x:.1}"),
    }
}

/// The report for a terminal.
pub fn render(r: &StatusReport) -> String {
    let mut out = String::new();
    let start = chrono::DateTime::from_timestamp(r.window.start(), 0)
        .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default();
    let end = chrono::DateTime::from_timestamp(r.window.end, 0)
        .map(|d| d.format("%H:%M UTC").to_string())
        .unwrap_or_default();
    out.push_str(&format!(
        "apigw-stream {} in {}: {start} to {end}, one point per {} min\n\n",
        r.stack,
        r.region,
        r.window.period / 60
    ));
    out.push_str("QUEUE         MESSAGES  IN FLIGHT  NAME\n");
    for q in &r.queues {
        out.push_str(&format!(
            "{:<12}  {:>8}  {:>9}  {}\n",
            q.role.label(),
            q.visible.map_or("?".to_string(), |v| v.to_string()),
            q.in_flight.map_or("?".to_string(), |v| v.to_string()),
            q.name
        ));
    }
    let width = r
        .series
        .iter()
        .map(|s| s.label.chars().count())
        .max()
        .unwrap_or(10);
    let mut panel = "";
    for s in &r.series {
        if s.panel != panel {
            panel = s.panel;
            out.push_str(&format!("\n{panel}\n"));
        }
        let summary_name = match s.stat {
            "Sum" => "total",
            "Maximum" => "max",
            _ => "avg",
        };
        out.push_str(&format!(
            "  {:<width$}  {}  now {:>7}  {summary_name} {:>8}\n",
            s.label,
            sparkline(&s.values),
            fmt_num(s.current()),
            fmt_num(s.summary()),
        ));
    }
    out.push('\n');
    if r.findings.is_empty() {
        out.push_str("All well.\n");
    }
    for f in &r.findings {
        let tag = match f.severity {
            Severity::Problem => "PROBLEM",
            Severity::Warning => "warning",
            Severity::Info => "note",
        };
        out.push_str(&format!("{tag}: {}\n", f.what));
        if let Some(run) = &f.run {
            out.push_str(&format!("  run: {run}\n"));
        }
    }
    for e in &r.errors {
        out.push_str(&format!("error: {e}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_urls_and_arns() {
        assert_eq!(
            queue_name("https://sqs.us-east-1.amazonaws.com/123456789012/apigw-stream-Queue-AbC"),
            "apigw-stream-Queue-AbC"
        );
        assert_eq!(
            function_name(
                "arn:aws:lambda:us-east-1:123456789012:function:apigw-stream-decode:$LATEST"
            ),
            "apigw-stream-decode"
        );
        assert_eq!(function_name("plain"), "plain");
    }

    #[test]
    fn sparklines_scale_to_the_maximum() {
        assert_eq!(sparkline(&[Some(0.0), Some(7.0), None, Some(3.5)]), "▁█ ▅");
        assert_eq!(sparkline(&[Some(0.0), Some(0.0)]), "▁▁");
        assert_eq!(sparkline(&[]), "");
    }

    #[test]
    fn windows_align_to_the_period() {
        let w = Window::ending(1_000_000, 3600, 300);
        assert_eq!(w.end % 300, 0);
        assert_eq!(w.points().len(), 12);
        assert_eq!(w.points()[0], w.start());
        assert_eq!(Window::ending(1_000_000, 10, 10).period, 60);
    }
}
