//! The pipeline's health at a glance: one list of figures ([`panels`]) that both views draw, the
//! CloudWatch dashboard the stacks create ([`dashboard_body`]) and `apigw-stream status`.
//!
//! A figure is a metric of this project (namespace [`crate::runtime::metrics::NAMESPACE`], dimension
//! `Function`), of one of the stack's queues (`AWS/SQS`, `QueueName`) or of one of its functions
//! (`AWS/Lambda`, `FunctionName`). The names of our own metrics are checked (in the tests below)
//! against their one declaration in each function's code.

use serde_json::{json, Value};

/// One of the stack's queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum QueueRole {
    Queue,
    ShipperDlq,
    DecodeDlq,
    StitchQueue,
    StitchDlq,
}

impl QueueRole {
    pub const ALL: [QueueRole; 5] = [
        QueueRole::Queue,
        QueueRole::ShipperDlq,
        QueueRole::DecodeDlq,
        QueueRole::StitchQueue,
        QueueRole::StitchDlq,
    ];

    /// The pipeline stack's logical id (and the prefix of its `…Url` output).
    pub fn logical_id(self) -> &'static str {
        match self {
            QueueRole::Queue => "Queue",
            QueueRole::ShipperDlq => "ShipperDlq",
            QueueRole::DecodeDlq => "DecodeDlq",
            QueueRole::StitchQueue => "StitchQueue",
            QueueRole::StitchDlq => "StitchDlq",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            QueueRole::Queue => "queue",
            QueueRole::ShipperDlq => "shipper DLQ",
            QueueRole::DecodeDlq => "decode DLQ",
            QueueRole::StitchQueue => "stitch queue",
            QueueRole::StitchDlq => "stitch DLQ",
        }
    }

    pub fn is_dlq(self) -> bool {
        matches!(
            self,
            QueueRole::ShipperDlq | QueueRole::DecodeDlq | QueueRole::StitchDlq
        )
    }
}

/// One of the stack's functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FunctionRole {
    Decode,
    Shipper,
}

impl FunctionRole {
    pub fn logical_id(self) -> &'static str {
        match self {
            FunctionRole::Decode => "DecodeFunction",
            FunctionRole::Shipper => "ShipperFunction",
        }
    }
}

/// Whose metric a figure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "source", content = "of", rename_all = "kebab-case")]
pub enum Target {
    /// Ours: `apigw-stream` namespace, `Function` = `decode`, `shipper`, `stitch` or `control`.
    Ours(&'static str),
    Queue(QueueRole),
    Lambda(FunctionRole),
}

/// How a figure's data points are aggregated per period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Stat {
    Sum,
    Average,
    Maximum,
}

impl Stat {
    pub fn as_str(self) -> &'static str {
        match self {
            Stat::Sum => "Sum",
            Stat::Average => "Average",
            Stat::Maximum => "Maximum",
        }
    }
}

/// One series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Figure {
    /// Unique, `[a-z][a-zA-Z0-9_]*` (GetMetricData query ids).
    pub id: &'static str,
    pub label: &'static str,
    pub target: Target,
    pub metric: &'static str,
    pub stat: Stat,
}

impl Figure {
    pub fn namespace(&self) -> &'static str {
        match self.target {
            Target::Ours(_) => crate::runtime::metrics::NAMESPACE,
            Target::Queue(_) => "AWS/SQS",
            Target::Lambda(_) => "AWS/Lambda",
        }
    }

    /// The dimension's name and value; `name_of` turns a queue or function into its name (or a
    /// template placeholder).
    pub fn dimension(&self, names: &dyn Names) -> (&'static str, String) {
        match self.target {
            Target::Ours(f) => ("Function", f.to_string()),
            Target::Queue(q) => ("QueueName", names.queue(q)),
            Target::Lambda(f) => ("FunctionName", names.function(f)),
        }
    }
}

/// A group of figures drawn together.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Panel {
    pub title: &'static str,
    pub figures: Vec<Figure>,
}

const fn ours(
    id: &'static str,
    label: &'static str,
    function: &'static str,
    metric: &'static str,
    stat: Stat,
) -> Figure {
    Figure {
        id,
        label,
        target: Target::Ours(function),
        metric,
        stat,
    }
}

/// Every figure, panel by panel.
pub fn panels() -> Vec<Panel> {
    vec![
        records_panel(),
        dlq_panel(),
        age_panel(),
        collector_panel(),
        stitch_panel(),
        functions_panel(),
        autoenable_panel(),
    ]
}

/// A figure of one of the pipeline's queues (AWS/SQS).
fn queue(
    id: &'static str,
    label: &'static str,
    q: QueueRole,
    metric: &'static str,
    stat: Stat,
) -> Figure {
    Figure {
        id,
        label,
        target: Target::Queue(q),
        metric,
        stat,
    }
}

/// A figure of one of the pipeline's functions (AWS/Lambda).
fn lambda(
    id: &'static str,
    label: &'static str,
    f: FunctionRole,
    metric: &'static str,
    stat: Stat,
) -> Figure {
    Figure {
        id,
        label,
        target: Target::Lambda(f),
        metric,
        stat,
    }
}

/// Records: in, delivered, filtered, failed.
fn records_panel() -> Panel {
    Panel {
        title: "Records: in, delivered, filtered, failed",
        figures: vec![
            ours(
                "recordsIn",
                "records in (decoded)",
                "decode",
                "Records",
                Stat::Sum,
            ),
            ours(
                "delivered",
                "delivered",
                "shipper",
                "RecordsDelivered",
                Stat::Sum,
            ),
            ours("filtered", "filtered", "decode", "Filtered", Stat::Sum),
            ours(
                "failed",
                "not delivered (retried)",
                "shipper",
                "RecordsFailed",
                Stat::Sum,
            ),
            ours(
                "unparsed",
                "lines unparsed",
                "decode",
                "LinesUnparsed",
                Stat::Sum,
            ),
        ],
    }
}

/// Dead-letter queues (messages).
fn dlq_panel() -> Panel {
    use QueueRole as Q;
    Panel {
        title: "Dead-letter queues (messages)",
        figures: vec![
            queue(
                "dlqShipper",
                "shipper DLQ",
                Q::ShipperDlq,
                "ApproximateNumberOfMessagesVisible",
                Stat::Maximum,
            ),
            queue(
                "dlqDecode",
                "decode DLQ",
                Q::DecodeDlq,
                "ApproximateNumberOfMessagesVisible",
                Stat::Maximum,
            ),
            queue(
                "dlqStitch",
                "stitch DLQ",
                Q::StitchDlq,
                "ApproximateNumberOfMessagesVisible",
                Stat::Maximum,
            ),
        ],
    }
}

/// Oldest message age (seconds).
fn age_panel() -> Panel {
    use QueueRole as Q;
    Panel {
        title: "Oldest message age (seconds)",
        figures: vec![
            queue(
                "ageQueue",
                "queue",
                Q::Queue,
                "ApproximateAgeOfOldestMessage",
                Stat::Maximum,
            ),
            queue(
                "ageStitch",
                "stitch queue",
                Q::StitchQueue,
                "ApproximateAgeOfOldestMessage",
                Stat::Maximum,
            ),
            queue(
                "ageShipperDlq",
                "shipper DLQ",
                Q::ShipperDlq,
                "ApproximateAgeOfOldestMessage",
                Stat::Maximum,
            ),
            queue(
                "ageDecodeDlq",
                "decode DLQ",
                Q::DecodeDlq,
                "ApproximateAgeOfOldestMessage",
                Stat::Maximum,
            ),
        ],
    }
}

/// Collector: errors, rejections, retries.
fn collector_panel() -> Panel {
    Panel {
        title: "Collector: errors, rejections, retries",
        figures: vec![
            ours(
                "windowsFailed",
                "windows failed",
                "shipper",
                "WindowsFailed",
                Stat::Sum,
            ),
            ours(
                "rejected",
                "records rejected",
                "shipper",
                "RecordsRejected",
                Stat::Sum,
            ),
            ours("retries", "retries", "shipper", "Retries", Stat::Sum),
            ours(
                "latency",
                "collector latency (ms, avg)",
                "shipper",
                "BridgeLatency",
                Stat::Average,
            ),
        ],
    }
}

/// Stitching.
fn stitch_panel() -> Panel {
    Panel {
        title: "Stitching",
        figures: vec![
            ours("held", "fragments held", "stitch", "Held", Stat::Sum),
            ours(
                "stitched",
                "requests stitched",
                "stitch",
                "Stitched",
                Stat::Sum,
            ),
            ours(
                "partial",
                "delivered partial",
                "stitch",
                "Partial",
                Stat::Sum,
            ),
        ],
    }
}

/// Functions: duration, throttles, errors.
fn functions_panel() -> Panel {
    Panel {
        title: "Functions: duration, throttles, errors",
        figures: vec![
            lambda(
                "decodeDuration",
                "decode duration (ms, avg)",
                FunctionRole::Decode,
                "Duration",
                Stat::Average,
            ),
            lambda(
                "decodeThrottles",
                "decode throttles",
                FunctionRole::Decode,
                "Throttles",
                Stat::Sum,
            ),
            lambda(
                "decodeErrors",
                "decode errors",
                FunctionRole::Decode,
                "Errors",
                Stat::Sum,
            ),
            lambda(
                "shipperDuration",
                "shipper duration (ms, avg)",
                FunctionRole::Shipper,
                "Duration",
                Stat::Average,
            ),
            lambda(
                "shipperThrottles",
                "shipper throttles",
                FunctionRole::Shipper,
                "Throttles",
                Stat::Sum,
            ),
        ],
    }
}

/// Auto-enable.
fn autoenable_panel() -> Panel {
    Panel {
        title: "Auto-enable",
        figures: vec![
            ours(
                "stagesEnabled",
                "stages enabled",
                "control",
                "StagesEnabled",
                Stat::Sum,
            ),
            ours(
                "driftRepaired",
                "drift repaired",
                "control",
                "DriftRepaired",
                Stat::Sum,
            ),
            ours(
                "stagesBlocked",
                "stages blocked",
                "control",
                "StagesBlocked",
                Stat::Sum,
            ),
        ],
    }
}

/// What a queue or function is called where the figures are drawn: real names (`status`) or a
/// template's placeholders (the dashboard in the stacks).
pub trait Names {
    fn queue(&self, q: QueueRole) -> String;
    fn function(&self, f: FunctionRole) -> String;
    fn region(&self) -> String;
}

/// CloudFormation `!Sub` placeholders: `${Queue.QueueName}`, `${DecodeFunction}`, `${AWS::Region}`.
pub struct CloudFormationNames;

impl Names for CloudFormationNames {
    fn queue(&self, q: QueueRole) -> String {
        format!("${{{}.QueueName}}", q.logical_id())
    }
    fn function(&self, f: FunctionRole) -> String {
        format!("${{{}}}", f.logical_id())
    }
    fn region(&self) -> String {
        "${AWS::Region}".to_string()
    }
}

/// Terraform `templatefile` variables: `${queue}`, `${shipper_dlq}`, `${decode_function}`, `${region}`.
pub struct TerraformNames;

impl TerraformNames {
    pub fn queue_var(q: QueueRole) -> &'static str {
        match q {
            QueueRole::Queue => "queue",
            QueueRole::ShipperDlq => "shipper_dlq",
            QueueRole::DecodeDlq => "decode_dlq",
            QueueRole::StitchQueue => "stitch_queue",
            QueueRole::StitchDlq => "stitch_dlq",
        }
    }
    pub fn function_var(f: FunctionRole) -> &'static str {
        match f {
            FunctionRole::Decode => "decode_function",
            FunctionRole::Shipper => "shipper_function",
        }
    }
}

impl Names for TerraformNames {
    fn queue(&self, q: QueueRole) -> String {
        format!("${{{}}}", Self::queue_var(q))
    }
    fn function(&self, f: FunctionRole) -> String {
        format!("${{{}}}", Self::function_var(f))
    }
    fn region(&self) -> String {
        "${region}".to_string()
    }
}

/// The CloudWatch dashboard body (`PutDashboard`'s `DashboardBody`): one metric widget per panel,
/// two per row, `period` seconds per point.
pub fn dashboard_body(names: &dyn Names, period: u32) -> Value {
    let region = names.region();
    let widgets: Vec<Value> = panels()
        .iter()
        .enumerate()
        .map(|(i, panel)| {
            let metrics: Vec<Value> = panel
                .figures
                .iter()
                .map(|f| {
                    let (dim, value) = f.dimension(names);
                    json!([f.namespace(), f.metric, dim, value,
                           {"label": f.label, "stat": f.stat.as_str(), "id": f.id}])
                })
                .collect();
            json!({
                "type": "metric",
                "x": (i % 2) * 12,
                "y": (i / 2) * 6,
                "width": 12,
                "height": 6,
                "properties": {
                    "title": panel.title,
                    "region": region,
                    "view": "timeSeries",
                    "stacked": false,
                    "period": period,
                    "metrics": metrics,
                }
            })
        })
        .collect();
    json!({ "widgets": widgets })
}

/// The dashboard body as one line of JSON, the form templates embed.
pub fn dashboard_body_text(names: &dyn Names, period: u32) -> String {
    dashboard_body(names, period).to_string()
}

/// Seconds per point of the dashboards the stacks create.
pub const DASHBOARD_PERIOD: u32 = 300;

/// The Terraform template of the pipeline module's dashboard body (generated).
pub const TERRAFORM_TEMPLATE: &str = "terraform/modules/pipeline/dashboard.json.tftpl";
/// The CloudFormation template whose `DashboardBody` line is generated.
pub const CLOUDFORMATION_TEMPLATE: &str = "cloudformation/pipeline.yaml";
/// How the generated line starts in the CloudFormation template.
pub const CLOUDFORMATION_BODY_PREFIX: &str = "      DashboardBody: !Sub '";

/// The Terraform template's text.
pub fn terraform_template() -> String {
    format!(
        "{}\n",
        dashboard_body_text(&TerraformNames, DASHBOARD_PERIOD)
    )
}

/// The CloudFormation line: the body in a single-quoted YAML scalar (no `'` in it to escape).
pub fn cloudformation_line() -> String {
    let body = dashboard_body_text(&CloudFormationNames, DASHBOARD_PERIOD).replace('\'', "''");
    format!("{CLOUDFORMATION_BODY_PREFIX}{body}'")
}

/// `template` with its generated `DashboardBody` line replaced; `None` when it has none.
pub fn with_cloudformation_line(template: &str) -> Option<String> {
    let mut found = false;
    let lines: Vec<String> = template
        .lines()
        .map(|l| {
            if l.starts_with(CLOUDFORMATION_BODY_PREFIX) {
                found = true;
                cloudformation_line()
            } else {
                l.to_string()
            }
        })
        .collect();
    found.then(|| {
        let mut out = lines.join("\n");
        if template.ends_with('\n') {
            out.push('\n');
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    /// Our metric names per `Function` dimension, from each function's one declaration.
    fn emitted() -> BTreeMap<&'static str, BTreeSet<String>> {
        let names =
            |m: Vec<(&'static str, f64, crate::runtime::metrics::Unit)>| -> BTreeSet<String> {
                m.into_iter().map(|(n, _, _)| n.to_string()).collect()
            };
        let decode = crate::decode::summary_emf(&Default::default(), 0);
        let decode: BTreeSet<String> = decode["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["Name"].as_str().map(str::to_string))
            .collect();
        assert_eq!(
            crate::decode::summary_emf(&Default::default(), 0)["_aws"]["CloudWatchMetrics"][0]
                ["Dimensions"][0][0],
            "Function"
        );
        BTreeMap::from([
            ("decode", decode),
            (
                "shipper",
                names(crate::ship::ShipStats::default().metrics()),
            ),
            (
                "stitch",
                names(crate::stitch::StitchStats::default().metrics()),
            ),
            (
                "control",
                names(crate::control::ops::autoenable::ControlStats::default().metrics()),
            ),
        ])
    }

    #[test]
    fn our_figures_are_metrics_the_functions_emit() {
        let emitted = emitted();
        let mut checked = 0;
        for panel in panels() {
            for f in panel.figures {
                if let Target::Ours(function) = f.target {
                    let names = emitted
                        .get(function)
                        .unwrap_or_else(|| panic!("no function {function} emits metrics"));
                    assert!(
                        names.contains(f.metric),
                        "{} is not a metric of {function} (it emits {names:?})",
                        f.metric
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked >= 15, "{checked}");
    }

    #[test]
    fn the_figures_the_issue_asks_for_are_there() {
        let all: Vec<Figure> = panels().into_iter().flat_map(|p| p.figures).collect();
        let has = |metric: &str, target: Target| {
            all.iter().any(|f| f.metric == metric && f.target == target)
        };
        assert!(has("Records", Target::Ours("decode")));
        assert!(has("RecordsDelivered", Target::Ours("shipper")));
        assert!(has("Filtered", Target::Ours("decode")));
        assert!(has("Held", Target::Ours("stitch")));
        assert!(has("Retries", Target::Ours("shipper")));
        assert!(has("WindowsFailed", Target::Ours("shipper")));
        for q in QueueRole::ALL {
            if q.is_dlq() {
                assert!(
                    has("ApproximateNumberOfMessagesVisible", Target::Queue(q)),
                    "{q:?}"
                );
            }
        }
        assert!(has(
            "ApproximateAgeOfOldestMessage",
            Target::Queue(QueueRole::Queue)
        ));
        assert!(has("Duration", Target::Lambda(FunctionRole::Decode)));
        assert!(has("Throttles", Target::Lambda(FunctionRole::Decode)));
        let ids: BTreeSet<&str> = all.iter().map(|f| f.id).collect();
        assert_eq!(ids.len(), all.len(), "figure ids are unique");
        for id in ids {
            assert!(
                id.starts_with(|c: char| c.is_ascii_lowercase())
                    && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "GetMetricData ids start lower-case: {id}"
            );
        }
    }

    #[test]
    fn the_dashboard_body_is_a_valid_metric_dashboard() {
        let body: Value = serde_json::from_str(&dashboard_body_text(&CloudFormationNames, 300))
            .expect("the body is JSON");
        let widgets = body["widgets"].as_array().expect("widgets");
        assert_eq!(widgets.len(), panels().len());
        for w in widgets {
            assert_eq!(w["type"], "metric");
            let x = w["x"].as_u64().expect("x");
            let width = w["width"].as_u64().expect("width");
            assert!(x + width <= 24, "a dashboard row is 24 units wide");
            assert_eq!(w["properties"]["region"], "${AWS::Region}");
            for m in w["properties"]["metrics"].as_array().expect("metrics") {
                let parts = m.as_array().expect("metric array");
                // [namespace, name, dimension, value, {options}]
                assert_eq!(parts.len(), 5, "{m}");
                assert!(parts[..4].iter().all(Value::is_string), "{m}");
                assert!(parts[4]["stat"].is_string() && parts[4]["label"].is_string());
            }
        }
        let text = dashboard_body_text(&CloudFormationNames, 300);
        assert!(text.contains("${ShipperDlq.QueueName}"));
        assert!(text.contains("${DecodeFunction}"));
        let tf = dashboard_body_text(&TerraformNames, 300);
        assert!(tf.contains("${shipper_dlq}") && tf.contains("${decode_function}"));
    }

    /// The stacks' copies are the generator's (`apigw-stream dashboard --write .` refreshes them).
    #[test]
    fn the_stacks_dashboards_are_current() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let tf = std::fs::read_to_string(root.join(TERRAFORM_TEMPLATE)).expect("read tftpl");
        assert_eq!(tf, terraform_template(), "{TERRAFORM_TEMPLATE} is stale");
        let cfn =
            std::fs::read_to_string(root.join(CLOUDFORMATION_TEMPLATE)).expect("read template");
        let line = cfn
            .lines()
            .find(|l| l.starts_with(CLOUDFORMATION_BODY_PREFIX))
            .expect("the pipeline template has a DashboardBody line");
        assert_eq!(
            line,
            cloudformation_line(),
            "{CLOUDFORMATION_TEMPLATE} is stale"
        );
        // The YAML scalar holds the JSON body.
        let inner = &line[CLOUDFORMATION_BODY_PREFIX.len()..line.len() - 1];
        let body: Value = serde_json::from_str(&inner.replace("''", "'")).expect("JSON body");
        assert_eq!(
            body["widgets"].as_array().map(Vec::len),
            Some(panels().len())
        );
    }
}
