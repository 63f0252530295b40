//! REST execution logs for `enable --execution-logs [--large-bodies]`, `disable` and `apis`: the
//! names of the log groups and of the 1 MB delivery, the stage's `*/*` method settings and the
//! record of what they were before `enable` changed them, and what discovery reads about them.
//!
//! The prior method settings are kept in a tag on the stage ([`PRIOR_TAG`]): it lives with the
//! stage, survives between runs and machines, and `disable` restores from it.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::loggroup::{read_log_group, LogGroupState};
use super::{OpsError, RegionClients, StageRef};

/// API Gateway's group for standard execution logging: `API-Gateway-Execution-Logs_{id}/{stage}`.
pub const STANDARD_GROUP_PREFIX: &str = "API-Gateway-Execution-Logs_";

/// Our groups for the 1 MB delivery. Under `/aws/vendedlogs/` because CloudWatch Logs then needs
/// no per-group resource policy for the delivery (AWS "Enable logging from AWS services").
pub const DELIVERY_GROUP_PREFIX: &str = "/aws/vendedlogs/apigw-stream/execution/";

/// Every delivery source and destination this project creates is named with this prefix.
pub const DELIVERY_NAME_PREFIX: &str = "apigw-stream-";

pub use super::delivery::EXECUTION_LOG_TYPE;

/// The stage tag holding the `*/*` method settings from before `enable` changed them.
pub const PRIOR_TAG: &str = "apigw-stream:prior-logging";

pub fn standard_group(api_id: &str, stage: &str) -> String {
    format!("{STANDARD_GROUP_PREFIX}{api_id}/{stage}")
}

pub fn delivery_group(api_id: &str, stage: &str) -> String {
    format!("{DELIVERY_GROUP_PREFIX}{api_id}/{stage}")
}

/// Name of our delivery source and destination for a stage (two name spaces, one name):
/// `apigw-stream-{api id}-{id}`, where `{id}` is the first 32 hex digits of the SHA-256 of
/// `{api id}/{stage}` laid out like a uuid (8-4-4-4-12). CloudWatch Logs allows 1-60 characters
/// of `[\w-]` and a stage name may have 128; this is 60 for every stage, distinct per stage.
///
/// One rule with the templates: the Terraform module computes the same name (`sha256`, `substr`),
/// and CloudFormation, which cannot hash, puts its stack id's uuid in the same place.
pub fn delivery_name(api_id: &str, stage: &str) -> String {
    let digest = Sha256::digest(format!("{api_id}/{stage}").as_bytes());
    let mut hex = String::with_capacity(32);
    for b in digest.iter().take(16) {
        hex.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        hex.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    let api: String = api_id.chars().map(name_char).collect();
    format!(
        "{DELIVERY_NAME_PREFIX}{api}-{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The name versions before the fixed-length rule gave: `apigw-stream-{id}-{stage}`, cut with a
/// hash when too long. Still recognised, so `disable` removes deliveries they made.
pub fn legacy_delivery_name(api_id: &str, stage: &str) -> String {
    const MAX: usize = 60;
    let clean: String = format!("{DELIVERY_NAME_PREFIX}{api_id}-{stage}")
        .chars()
        .map(name_char)
        .collect();
    if clean.len() <= MAX {
        return clean;
    }
    let hash = fnv1a(format!("{api_id}/{stage}").as_bytes());
    format!("{}-{hash:08x}", &clean[..MAX - 9])
}

/// A character allowed in a delivery name (`[\w-]`), or `_` in its place.
fn name_char(c: char) -> char {
    if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
        c
    } else {
        '_'
    }
}

/// FNV-1a, 32 bits: a stable short suffix (not a security hash).
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

/// The stage's ARN for tagging: `arn:{partition}:apigateway:{region}::/restapis/{id}/stages/{stage}`.
pub fn stage_arn(partition: &str, region: &str, api_id: &str, stage: &str) -> String {
    format!("arn:{partition}:apigateway:{region}::/restapis/{api_id}/stages/{stage}")
}

/// The stage as a delivery source (`rest-api-create-log-delivery`: this one carries the account).
pub fn delivery_resource_arn(
    partition: &str,
    region: &str,
    account: &str,
    api_id: &str,
    stage: &str,
) -> String {
    format!("arn:{partition}:apigateway:{region}:{account}:/restapis/{api_id}/stages/{stage}")
}

/// A stage's `*/*` execution-logging method settings.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct MethodLogging {
    /// `OFF`, `ERROR` or `INFO`.
    pub logging_level: String,
    pub data_trace: bool,
}

impl MethodLogging {
    /// API Gateway's default when a stage has no `*/*` setting.
    pub fn off() -> MethodLogging {
        MethodLogging {
            logging_level: "OFF".into(),
            data_trace: false,
        }
    }

    /// What `enable --execution-logs` sets: every line, with request and response data.
    pub fn streaming() -> MethodLogging {
        MethodLogging {
            logging_level: "INFO".into(),
            data_trace: true,
        }
    }

    /// The tag value: `loggingLevel=OFF dataTrace=false` (characters API Gateway tags accept).
    pub fn to_tag(&self) -> String {
        format!(
            "loggingLevel={} dataTrace={}",
            self.logging_level, self.data_trace
        )
    }

    /// Read a tag value written by [`MethodLogging::to_tag`]; anything else is `None`.
    pub fn from_tag(value: &str) -> Option<MethodLogging> {
        let mut level = None;
        let mut trace = None;
        for part in value.split_whitespace() {
            match part.split_once('=')? {
                ("loggingLevel", v) if ["OFF", "ERROR", "INFO"].contains(&v) => {
                    level = Some(v.to_string())
                }
                ("dataTrace", v) => trace = Some(v.parse::<bool>().ok()?),
                _ => return None,
            }
        }
        Some(MethodLogging {
            logging_level: level?,
            data_trace: trace?,
        })
    }
}

impl std::fmt::Display for MethodLogging {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "loggingLevel {}, dataTraceEnabled {}",
            self.logging_level, self.data_trace
        )
    }
}

/// A delivery source on a stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceInfo {
    pub name: String,
    /// Named by us ([`DELIVERY_NAME_PREFIX`]).
    pub ours: bool,
}

/// Our delivery destination for a stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DestinationInfo {
    pub name: String,
    pub arn: Option<String>,
    /// The resource it delivers to (a log group ARN for ours).
    pub resource_arn: Option<String>,
}

/// The 1 MB delivery of one stage, as found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryState {
    /// The `EXECUTION_LOGS` delivery source on this stage, whoever made it.
    pub source: Option<SourceInfo>,
    pub destination: Option<DestinationInfo>,
    /// The delivery from the stage's source to our destination.
    pub delivery_id: Option<String>,
    /// Why the region's deliveries could not be read (then the fields above say nothing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
    /// What AWS allows for an `EXECUTION_LOGS` delivery (`DescribeConfigurationTemplates`), or
    /// why it could not be read.
    #[serde(skip)]
    pub template: Option<Result<super::delivery::Template, String>>,
}

/// Execution logging of one REST stage.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExecutionLogging {
    /// The `*/*` method settings; `None` when the stage has none (API Gateway's default, off).
    pub method: Option<MethodLogging>,
    /// The settings from before `enable` changed them ([`PRIOR_TAG`]), restored by `disable`.
    pub prior: Option<MethodLogging>,
    /// `API-Gateway-Execution-Logs_{id}/{stage}`.
    pub standard_group: LogGroupState,
    /// Our 1 MB delivery's group.
    pub delivery_group: LogGroupState,
    pub delivery: DeliveryState,
}

impl ExecutionLogging {
    /// From a REST stage's `methodSettings` and `tags` (groups and delivery are read later).
    pub fn from_stage(api_id: &str, stage: &aws_sdk_apigateway::types::Stage) -> ExecutionLogging {
        let name = stage.stage_name().unwrap_or_default();
        let method = stage
            .method_settings()
            .and_then(|m| m.get("*/*"))
            .map(|s| MethodLogging {
                logging_level: s.logging_level().unwrap_or("OFF").to_string(),
                data_trace: s.data_trace_enabled(),
            });
        let prior = stage
            .tags()
            .and_then(|t| t.get(PRIOR_TAG))
            .and_then(|v| MethodLogging::from_tag(v));
        ExecutionLogging {
            method,
            prior,
            standard_group: LogGroupState::missing(&standard_group(api_id, name)),
            delivery_group: LogGroupState::missing(&delivery_group(api_id, name)),
            delivery: DeliveryState::default(),
        }
    }

    /// The method settings in force (API Gateway's default when none is set).
    pub fn method_or_off(&self) -> MethodLogging {
        self.method.clone().unwrap_or_else(MethodLogging::off)
    }
}

/// Where a stage is streamed from (our subscription filter is on that log).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StreamSource {
    Access,
    Execution,
    #[serde(rename = "execution-1mb")]
    Execution1Mb,
}

impl StreamSource {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamSource::Access => "access",
            StreamSource::Execution => "execution",
            StreamSource::Execution1Mb => "execution 1 MB",
        }
    }
}

/// Fill in the execution groups and 1 MB delivery of every REST stage given. Groups are listed
/// by prefix (one call per page, not one per stage); filters are read only for groups that exist.
/// What could not be read goes to `errors`.
pub async fn read_region<'a>(
    clients: &RegionClients,
    stages: impl Iterator<Item = (&'a StageRef, &'a mut ExecutionLogging)>,
    errors: &mut Vec<String>,
) {
    let rest: Vec<(&StageRef, &mut ExecutionLogging)> = stages.collect();
    if rest.is_empty() {
        return;
    }
    let mut existing = BTreeSet::new();
    for prefix in [STANDARD_GROUP_PREFIX, DELIVERY_GROUP_PREFIX] {
        match group_names(&clients.logs, prefix).await {
            Ok(names) => existing.extend(names),
            Err(e) => errors.push(e.to_string()),
        }
    }
    // Not a region error: only the 1 MB mode needs these (and their permissions); the stages say
    // why they are unknown, and the plans that need them act on it.
    let deliveries = read_deliveries(&clients.logs)
        .await
        .map_err(|e| e.to_string());
    let template = super::delivery::read_template(&clients.logs)
        .await
        .map_err(|e| e.to_string());
    for (stage_ref, exec) in rest {
        let (api_id, stage) = (&stage_ref.api_id, &stage_ref.stage);
        exec.standard_group =
            read_if_exists(clients, &existing, standard_group(api_id, stage), errors).await;
        exec.delivery_group =
            read_if_exists(clients, &existing, delivery_group(api_id, stage), errors).await;
        exec.delivery = match &deliveries {
            Ok(d) => d.for_stage(&clients.region, api_id, stage),
            Err(e) => DeliveryState {
                unreadable: Some(e.clone()),
                ..DeliveryState::default()
            },
        };
        exec.delivery.template = Some(template.clone());
    }
}

/// The group's state when it is among `existing` and can be read, else a missing group (a read
/// error goes to `errors`).
async fn read_if_exists(
    clients: &RegionClients,
    existing: &BTreeSet<String>,
    name: String,
    errors: &mut Vec<String>,
) -> LogGroupState {
    if !existing.contains(&name) {
        return LogGroupState::missing(&name);
    }
    match read_log_group(&clients.logs, &name).await {
        Ok(g) => g,
        Err(e) => {
            errors.push(e.to_string());
            LogGroupState::missing(&name)
        }
    }
}

async fn group_names(
    logs: &aws_sdk_cloudwatchlogs::Client,
    prefix: &str,
) -> Result<Vec<String>, OpsError> {
    let mut out = Vec::new();
    let mut pages = logs
        .describe_log_groups()
        .log_group_name_prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| OpsError::aws("DescribeLogGroups", prefix, e))?;
        out.extend(
            page.log_groups()
                .iter()
                .filter_map(|g| g.log_group_name().map(str::to_string)),
        );
    }
    Ok(out)
}

/// The region's delivery sources, destinations and deliveries.
#[derive(Debug, Default)]
struct Deliveries {
    /// (name, resource ARNs, log type)
    sources: Vec<(String, Vec<String>, Option<String>)>,
    /// name → (arn, destination resource ARN)
    destinations: BTreeMap<String, (Option<String>, Option<String>)>,
    /// (id, source name, destination ARN)
    deliveries: Vec<(String, Option<String>, Option<String>)>,
}

impl Deliveries {
    fn for_stage(&self, region: &str, api_id: &str, stage: &str) -> DeliveryState {
        // The source's ARN carries an account we may not know here: match on the rest.
        let tail = format!(":/restapis/{api_id}/stages/{stage}");
        let on_stage = |arns: &[String]| {
            arns.iter().any(|a| {
                a.ends_with(&tail)
                    && super::arn_parts(a).is_some_and(|p| p.1 == "apigateway" && p.2 == region)
            })
        };
        // Ours: named by the current rule, or by the one of earlier versions.
        let names = [
            delivery_name(api_id, stage),
            legacy_delivery_name(api_id, stage),
        ];
        let source = self
            .sources
            .iter()
            .find(|(_, arns, t)| {
                (t.as_deref() == Some(EXECUTION_LOG_TYPE) || t.is_none()) && on_stage(arns)
            })
            .map(|(n, _, _)| SourceInfo {
                name: n.clone(),
                ours: names.contains(n),
            });
        let destination = names.iter().find_map(|name| {
            self.destinations
                .get(name)
                .map(|(arn, resource)| DestinationInfo {
                    name: name.clone(),
                    arn: arn.clone(),
                    resource_arn: resource.clone(),
                })
        });
        let delivery_id = match (&source, &destination) {
            (Some(s), Some(d)) => self
                .deliveries
                .iter()
                .find(|(_, src, dst)| {
                    src.as_deref() == Some(s.name.as_str()) && dst.is_some() && *dst == d.arn
                })
                .map(|(id, _, _)| id.clone()),
            _ => None,
        };
        DeliveryState {
            source,
            destination,
            delivery_id,
            unreadable: None,
            template: None,
        }
    }
}

async fn read_deliveries(logs: &aws_sdk_cloudwatchlogs::Client) -> Result<Deliveries, OpsError> {
    let mut out = Deliveries::default();
    let mut pages = logs.describe_delivery_sources().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| OpsError::aws("DescribeDeliverySources", "region", e))?;
        for s in page.delivery_sources() {
            if let Some(n) = s.name() {
                out.sources.push((
                    n.to_string(),
                    s.resource_arns().to_vec(),
                    s.log_type().map(str::to_string),
                ));
            }
        }
    }
    let mut pages = logs
        .describe_delivery_destinations()
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| OpsError::aws("DescribeDeliveryDestinations", "region", e))?;
        for d in page.delivery_destinations() {
            let Some(n) = d.name().filter(|n| n.starts_with(DELIVERY_NAME_PREFIX)) else {
                continue;
            };
            out.destinations.insert(
                n.to_string(),
                (
                    d.arn().map(str::to_string),
                    d.delivery_destination_configuration()
                        .map(|c| c.destination_resource_arn().to_string()),
                ),
            );
        }
    }
    let mut pages = logs.describe_deliveries().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| OpsError::aws("DescribeDeliveries", "region", e))?;
        for d in page.deliveries() {
            if let Some(id) = d.id() {
                out.deliveries.push((
                    id.to_string(),
                    d.delivery_source_name().map(str::to_string),
                    d.delivery_destination_arn().map(str::to_string),
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            standard_group("a1b2c3d4e5", "prod"),
            "API-Gateway-Execution-Logs_a1b2c3d4e5/prod"
        );
        assert_eq!(
            delivery_group("a1b2c3d4e5", "prod"),
            "/aws/vendedlogs/apigw-stream/execution/a1b2c3d4e5/prod"
        );
        assert!(crate::decode::execution::is_execution_group(
            &delivery_group("a", "b")
        ));
        assert!(crate::decode::execution::is_execution_group(
            &standard_group("a", "b")
        ));
        // The test vector tests/iac/test_names.py recomputes (the Terraform module's expression).
        assert_eq!(
            delivery_name("a1b2c3d4e5", "prod"),
            "apigw-stream-a1b2c3d4e5-84044628-a5b9-f591-ead9-198736cb84a1"
        );
        let longest = "x".repeat(128);
        let longest_other = format!("{}y", "x".repeat(127));
        for stage in ["p", "prod", longest.as_str(), longest_other.as_str()] {
            let name = delivery_name("a1b2c3d4e5", stage);
            assert_eq!(name.len(), 60, "{name}");
            assert!(name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        }
        assert_ne!(
            delivery_name("a1b2c3d4e5", &longest),
            delivery_name("a1b2c3d4e5", &longest_other),
            "names stay distinct"
        );
        assert_eq!(
            legacy_delivery_name("a1b2c3d4e5", "prod"),
            "apigw-stream-a1b2c3d4e5-prod"
        );
        assert_eq!(
            legacy_delivery_name("a1b2c3d4e5", &"x".repeat(100)).len(),
            60
        );
        assert_eq!(
            stage_arn("aws", "us-east-1", "abc", "prod"),
            "arn:aws:apigateway:us-east-1::/restapis/abc/stages/prod"
        );
        assert_eq!(
            delivery_resource_arn("aws", "us-east-1", "123456789012", "abc", "prod"),
            "arn:aws:apigateway:us-east-1:123456789012:/restapis/abc/stages/prod"
        );
    }

    #[test]
    fn prior_tag_round_trips_and_rejects_other_text() {
        for m in [
            MethodLogging::off(),
            MethodLogging::streaming(),
            MethodLogging {
                logging_level: "ERROR".into(),
                data_trace: false,
            },
        ] {
            assert_eq!(MethodLogging::from_tag(&m.to_tag()), Some(m));
        }
        for bad in [
            "",
            "loggingLevel=DEBUG dataTrace=false",
            "loggingLevel=INFO",
            "loggingLevel=INFO dataTrace=yes",
            "loggingLevel=INFO dataTrace=true extra=1",
        ] {
            assert_eq!(MethodLogging::from_tag(bad), None, "{bad}");
        }
    }

    #[test]
    fn delivery_state_for_a_stage() {
        let name = delivery_name("abc", "prod");
        let dest_arn = format!("arn:aws:logs:us-east-1:1:delivery-destination:{name}");
        let d = Deliveries {
            sources: vec![
                (
                    "someone-elses".into(),
                    vec!["arn:aws:apigateway:us-east-1:1:/restapis/xyz/stages/prod".into()],
                    Some(EXECUTION_LOG_TYPE.into()),
                ),
                (
                    name.clone(),
                    vec!["arn:aws:apigateway:us-east-1:1:/restapis/abc/stages/prod".into()],
                    Some(EXECUTION_LOG_TYPE.into()),
                ),
            ],
            destinations: [(name.clone(), (Some(dest_arn.clone()), Some("g".into())))]
                .into_iter()
                .collect(),
            deliveries: vec![("d1".into(), Some(name.clone()), Some(dest_arn))],
        };
        let st = d.for_stage("us-east-1", "abc", "prod");
        assert_eq!(
            st.source,
            Some(SourceInfo {
                name: name.clone(),
                ours: true
            })
        );
        assert_eq!(st.delivery_id.as_deref(), Some("d1"));
        let other = d.for_stage("us-east-1", "xyz", "prod");
        assert_eq!(other.source.map(|s| s.ours), Some(false));
        assert_eq!(other.delivery_id, None);
        assert_eq!(d.for_stage("eu-west-1", "abc", "prod").source, None);
    }
}
