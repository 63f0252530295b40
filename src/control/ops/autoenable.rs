//! Auto-enable: new stages stream by themselves, and drift is repaired.
//!
//! The control function (`functions/control`) receives two kinds of events and hands each to
//! [`run`]:
//!
//! - API Gateway management events from CloudTrail, through an EventBridge rule
//!   (`detail-type: AWS API Call via CloudTrail`, `CreateStage`, `UpdateStage`,
//!   `CreateDeployment`, `CreateApi`, `TagResource`; REST and v2 share these names): the stage
//!   named in the event is discovered and, if the [`Policy`] admits it, enabled;
//! - a scheduled event (the daily reconcile): every stage of the configured regions is checked
//!   the same way, so a deleted filter or a stage whose log group changed is put right, and
//!   reported as drift.
//!
//! Enabling is `apigw-stream enable --apply` for those stages: the same discovery
//! ([`discover::discover_region`]), plan ([`enable::plan_region`]) and application
//! ([`super::plan::apply`]) through [`enable::enable_discovered`]. A stage this function
//! changed is tagged [`ENABLED_BY_TAG`]`=`[`ENABLED_BY_POLICY`], which `apis` shows.
//!
//! The policy only ever adds streaming: a stage tagged `apigw-stream=off` that is streamed
//! already is reported (with the `disable` command to run), not changed.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::discover::{self, Inventory, Kinds, StageInfo};
use super::enable::{self, EnableOptions};
use super::plan::{Report, Status};
use super::select::{ApiSelector, Selector};
use super::{regions, OpsError, RegionClients, StageRef};
use crate::config::{parse_bool, ConfigError, Env};
use crate::transaction::ApiKind;

/// The tag a user sets on a stage (or on its API) to opt in or out: `apigw-stream=on|off`.
pub const POLICY_TAG: &str = "apigw-stream";
pub use super::discover::ENABLED_BY_TAG;
/// Its value when the control function did.
pub const ENABLED_BY_POLICY: &str = "policy";

/// The management events the EventBridge rule forwards (`detail.eventName`); REST and v2 APIs
/// use the same names, told apart by `restApiId` / `apiId` in the request.
pub const EVENT_NAMES: &[&str] = &[
    "CreateStage",
    "UpdateStage",
    "CreateDeployment",
    "CreateApi",
    "TagResource",
];

/// Which stages the policy admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// Every stage.
    All,
    /// Only stages tagged `apigw-stream=on` (on the stage or its API).
    OptIn,
    /// Every stage except those tagged `apigw-stream=off`.
    OptOut,
}

impl Scope {
    pub fn parse(s: &str) -> Option<Scope> {
        match s.trim().to_ascii_lowercase().as_str() {
            "all" => Some(Scope::All),
            "opt-in" | "tagged" => Some(Scope::OptIn),
            "opt-out" | "all-but-off" => Some(Scope::OptOut),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::All => "all",
            Scope::OptIn => "opt-in",
            Scope::OptOut => "opt-out",
        }
    }
}

/// Which log a REST stage is streamed from (HTTP and WebSocket stages always use the access log).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// The access log (`enable`).
    Access,
    /// The execution logs (`enable --execution-logs`).
    Execution,
    /// The execution logs through the 1 MB delivery (`--execution-logs --large-bodies`).
    Execution1Mb,
    /// Both, joined by the decode function (`--execution-logs --keep-access-logs`).
    Joined,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Mode> {
        match s.trim().to_ascii_lowercase().as_str() {
            "access" => Some(Mode::Access),
            "execution" => Some(Mode::Execution),
            "execution-1mb" | "large-bodies" => Some(Mode::Execution1Mb),
            "joined" => Some(Mode::Joined),
            _ => None,
        }
    }

    /// Set the `enable` options this mode stands for.
    pub fn apply_to(self, opts: &mut EnableOptions) {
        opts.execution_logs = self != Mode::Access;
        opts.large_bodies = self == Mode::Execution1Mb;
        opts.keep_access_logs = self == Mode::Joined;
    }
}

/// Why the auto-enable policy leaves a stage alone, from its tags.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotAdmitted {
    #[error("tagged {POLICY_TAG}=off")]
    TaggedOff,
    #[error("tag {POLICY_TAG}={value:?} is neither on nor off")]
    UnreadableTag { value: String },
    #[error("not tagged {POLICY_TAG}=on (opt-in policy)")]
    NotOptedIn,
}

/// The auto-enable policy: which stages, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Policy {
    pub scope: Scope,
    pub mode: Mode,
}

impl Policy {
    /// `Ok` when the policy admits a stage with these (API overlaid with stage) tags, else why not.
    pub fn admits(&self, tags: &BTreeMap<String, String>) -> Result<(), NotAdmitted> {
        let tag = tags.get(POLICY_TAG).map(|v| parse_bool(v));
        match (self.scope, tag) {
            (_, Some(Some(false))) if self.scope != Scope::All => Err(NotAdmitted::TaggedOff),
            (Scope::OptIn, Some(Some(true))) => Ok(()),
            (Scope::OptIn, Some(None)) => Err(NotAdmitted::UnreadableTag {
                value: tags.get(POLICY_TAG).cloned().unwrap_or_default(),
            }),
            (Scope::OptIn, None) => Err(NotAdmitted::NotOptedIn),
            _ => Ok(()),
        }
    }

    /// The policy forbids this stage explicitly (tagged off, under a scope that reads the tag).
    fn opted_out(&self, tags: &BTreeMap<String, String>) -> bool {
        self.scope != Scope::All && tags.get(POLICY_TAG).and_then(|v| parse_bool(v)) == Some(false)
    }
}

/// The control function's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlConfig {
    pub policy: Policy,
    /// The `enable` options (decode function, log group, retention...), mode applied.
    pub enable: EnableOptions,
    /// Regions the reconcile covers; empty = the function's own.
    pub regions: Vec<String>,
    /// Plan and report only; change nothing.
    pub dry_run: bool,
}

/// Environment variable names of the control function.
pub mod vars {
    pub const SCOPE: &str = "AUTO_ENABLE_SCOPE";
    pub const MODE: &str = "AUTO_ENABLE_MODE";
    pub const DRY_RUN: &str = "AUTO_ENABLE_DRY_RUN";
    pub const REGIONS: &str = "AUTO_ENABLE_REGIONS";
    pub const DECODE_FUNCTION_ARN: &str = "DECODE_FUNCTION_ARN";
    pub const STACK_NAME: &str = "STACK_NAME";
    pub const LOG_GROUP: &str = "LOG_GROUP";
    pub const RETENTION_DAYS: &str = "RETENTION_DAYS";
    pub const SET_FORMAT: &str = "SET_FORMAT";
    pub const CREATE_ACCOUNT_ROLE: &str = "CREATE_ACCOUNT_ROLE";
}

fn get(env: &dyn Env, name: &str) -> Option<String> {
    env.get(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// The variable `name` read by `parse`, `default` when unset; `why` says what it accepts.
fn parsed<T>(
    env: &dyn Env,
    name: &'static str,
    default: T,
    parse: impl Fn(&str) -> Option<T>,
    why: &str,
) -> Result<T, ConfigError> {
    match get(env, name) {
        None => Ok(default),
        Some(v) => parse(&v).ok_or_else(|| ConfigError::Invalid {
            name,
            value: v,
            why: why.into(),
        }),
    }
}

fn flag(env: &dyn Env, name: &'static str) -> Result<bool, ConfigError> {
    parsed(env, name, false, parse_bool, "expected true or false")
}

impl ControlConfig {
    pub fn from_env(env: &dyn Env) -> Result<ControlConfig, ConfigError> {
        let scope = parsed(
            env,
            vars::SCOPE,
            Scope::OptOut,
            Scope::parse,
            "expected all, opt-in or opt-out",
        )?;
        let mode = parsed(
            env,
            vars::MODE,
            Mode::Access,
            Mode::parse,
            "expected access, execution, execution-1mb or joined",
        )?;
        let retention_days = parsed(
            env,
            vars::RETENTION_DAYS,
            enable::DEFAULT_RETENTION_DAYS,
            |v| {
                v.parse::<i32>()
                    .ok()
                    .filter(|n| enable::RETENTION_DAYS.contains(n))
            },
            "not a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30...)",
        )?;
        let function_arn = get(env, vars::DECODE_FUNCTION_ARN);
        let stack_name = get(env, vars::STACK_NAME);
        if function_arn.is_none() && stack_name.is_none() {
            return Err(ConfigError::Missing {
                name: vars::DECODE_FUNCTION_ARN,
            });
        }
        let mut opts = EnableOptions {
            function_arn,
            stack_name: stack_name.unwrap_or_else(|| super::DEFAULT_STACK_NAME.to_string()),
            log_group: get(env, vars::LOG_GROUP),
            retention_days,
            set_format: flag(env, vars::SET_FORMAT)?,
            create_account_role: flag(env, vars::CREATE_ACCOUNT_ROLE)?,
            ..EnableOptions::default()
        };
        mode.apply_to(&mut opts);
        let regions = get(env, vars::REGIONS)
            .map(|v| {
                v.split([',', ' '])
                    .map(str::trim)
                    .filter(|r| !r.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        Ok(ControlConfig {
            policy: Policy { scope, mode },
            enable: opts,
            regions,
            dry_run: flag(env, vars::DRY_RUN)?,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Events

/// REST (`restApiId`) or v2 (`apiId`: HTTP and WebSocket).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Rest,
    V2,
}

impl Family {
    fn kinds(self) -> Kinds {
        match self {
            Family::Rest => Kinds {
                rest: true,
                http: false,
                websocket: false,
            },
            Family::V2 => Kinds {
                rest: false,
                http: true,
                websocket: true,
            },
        }
    }
}

/// A management event naming an API and, usually, one of its stages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StageEvent {
    pub event_name: String,
    pub region: String,
    pub family: Family,
    pub api_id: String,
    /// `None`: every stage of the API (`CreateApi`, a deployment to no stage, an API tagged).
    pub stage: Option<String>,
}

/// What an event asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "trigger", rename_all = "kebab-case")]
pub enum Trigger {
    Stage(StageEvent),
    Reconcile,
    /// Nothing to do, and why (a failed call, another service's event...).
    Ignored {
        reason: String,
    },
}

/// The first non-empty string under `key`, searching `v` depth-first (the stage name sits at
/// `requestParameters.createStageInput.stageName`, `requestParameters.stageName`,
/// `responseElements.self.stageName`... depending on the call and the API family).
fn find_str<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    match v {
        Value::Object(map) => {
            if let Some(s) = map
                .get(key)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
            {
                return Some(s);
            }
            map.values().find_map(|x| find_str(x, key))
        }
        Value::Array(items) => items.iter().find_map(|x| find_str(x, key)),
        _ => None,
    }
}

/// `.../restapis/{id}[/stages/{name}]` or `.../apis/{id}[/stages/{name}]` of an API Gateway ARN.
fn from_resource_arn(arn: &str) -> Option<(Family, String, Option<String>)> {
    let (_, path) = arn.split_once("::/")?;
    let mut parts = path.split('/');
    let family = match parts.next()? {
        "restapis" => Family::Rest,
        "apis" => Family::V2,
        _ => return None,
    };
    let api = parts.next().filter(|s| !s.is_empty())?.to_string();
    let stage = match (parts.next(), parts.next()) {
        (Some("stages"), Some(s)) if !s.is_empty() => Some(s.to_string()),
        (None, _) => None,
        _ => return None, // another sub-resource (a route, an integration...)
    };
    Some((family, api, stage))
}

/// Whether a CloudTrail event records a call this function made itself: its own `UpdateStage`
/// and `TagResource` come back through the rule, and would only find nothing to do. Lambda's
/// execution-role sessions are named after the function
/// (`arn:aws:sts::{account}:assumed-role/{role}/{function}`).
pub fn is_own_call(event: &Value, function_name: &str) -> bool {
    !function_name.is_empty()
        && event
            .pointer("/detail/userIdentity/arn")
            .and_then(Value::as_str)
            .is_some_and(|arn| {
                arn.contains(":assumed-role/") && arn.rsplit('/').next() == Some(function_name)
            })
}

/// Read an EventBridge event: a CloudTrail API Gateway management event, a scheduled event, or
/// `{"action": "reconcile"}` (a manual invocation).
pub fn parse_event(event: &Value) -> Trigger {
    let ignored = |reason: String| Trigger::Ignored { reason };
    if event.get("action").and_then(Value::as_str) == Some("reconcile") {
        return Trigger::Reconcile;
    }
    let detail_type = event
        .get("detail-type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if detail_type == "Scheduled Event" {
        return Trigger::Reconcile;
    }
    if detail_type != "AWS API Call via CloudTrail" {
        return ignored(format!(
            "not a CloudTrail or scheduled event ({detail_type:?})"
        ));
    }
    let Some(detail) = event.get("detail") else {
        return ignored("CloudTrail event without detail".into());
    };
    let source = detail
        .get("eventSource")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if source != "apigateway.amazonaws.com" {
        return ignored(format!("event from {source:?}, not API Gateway"));
    }
    let name = detail
        .get("eventName")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if !EVENT_NAMES.contains(&name.as_str()) {
        return ignored(format!("{name:?} does not create or change a stage"));
    }
    if let Some(code) = detail.get("errorCode").and_then(Value::as_str) {
        return ignored(format!("{name} failed ({code})"));
    }
    let Some(region) = detail
        .get("awsRegion")
        .or_else(|| event.get("region"))
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty())
    else {
        return ignored(format!("{name} without a region"));
    };
    let null = Value::Null;
    let request = detail.get("requestParameters").unwrap_or(&null);
    let response = detail.get("responseElements").unwrap_or(&null);
    let target = if name == "TagResource" {
        find_str(request, "resourceArn").and_then(from_resource_arn)
    } else {
        let rest = find_str(request, "restApiId").or_else(|| find_str(response, "restApiId"));
        let v2 = find_str(request, "apiId").or_else(|| find_str(response, "apiId"));
        let stage = find_str(request, "stageName")
            .or_else(|| find_str(response, "stageName"))
            .map(str::to_string);
        match (rest, v2) {
            (Some(id), _) => Some((Family::Rest, id.to_string(), stage)),
            (None, Some(id)) => Some((Family::V2, id.to_string(), stage)),
            _ => None,
        }
    };
    match target {
        Some((family, api_id, stage)) => Trigger::Stage(StageEvent {
            event_name: name,
            region: region.to_string(),
            family,
            api_id,
            stage,
        }),
        None => ignored(format!("{name} names no API stage")),
    }
}

// ---------------------------------------------------------------------------------------------
// Running

/// What happened to one stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Not streamed before; streamed now.
    Enabled,
    /// Enabled by policy before, found broken (filter deleted, log group changed), repaired.
    Repaired,
    /// Already as the policy wants it.
    Unchanged,
    /// Dry run: what would change.
    Planned,
    /// Left alone by the policy.
    Skipped,
    /// Tagged off but streamed: reported, not changed (run `disable`).
    OptedOutStreamed,
    /// Cannot be enabled without the user (two foreign filters, Firehose logging...).
    Blocked,
    /// An AWS call failed.
    Failed,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Enabled => "enabled",
            Action::Repaired => "repaired",
            Action::Unchanged => "unchanged",
            Action::Planned => "planned",
            Action::Skipped => "skipped",
            Action::OptedOutStreamed => "opted-out-streamed",
            Action::Blocked => "blocked",
            Action::Failed => "failed",
        }
    }
}

/// One stage's line in the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageAction {
    #[serde(flatten)]
    pub stage: StageRef,
    pub action: Action,
    /// The changes made (or planned), as `enable` prints them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
    /// Why skipped, blocked or failed; the command to run for `opted-out-streamed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The result of one invocation: logged as one line, counted as EMF metrics, returned.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ControlReport {
    pub trigger: String,
    pub policy: Policy,
    pub dry_run: bool,
    pub stages: Vec<StageAction>,
    /// Problems not tied to one stage (a region that could not be read, a stage not found).
    pub errors: Vec<String>,
}

crate::counters! {
    /// Counters of one invocation, the `Function=control` EMF metrics.
    pub struct ControlStats {
        /// Stages the invocation looked at.
        checked: sum ["StagesChecked", Count],
        /// Stages enabled (or planned, in a dry run).
        enabled: sum ["StagesEnabled", Count],
        /// Stages the policy enabled before and found broken (filter deleted, log group changed),
        /// repaired.
        repaired: sum ["DriftRepaired", Count],
        /// Stages already as the policy wants.
        unchanged: sum ["StagesUnchanged", Count],
        /// Stages the policy leaves alone.
        skipped: sum ["StagesSkipped", Count],
        /// Stages tagged `apigw-stream=off` that are streamed already: reported, not changed.
        opted_out_streamed: sum ["OptedOutStreamed", Count],
        /// Stages that cannot be enabled without the user (two foreign filters, Firehose
        /// logging, …).
        blocked: sum ["StagesBlocked", Count],
        /// Stages where an AWS call failed (the event is retried).
        failed: sum ["StagesFailed", Count],
        /// AWS calls that failed outside a stage (the event is retried).
        errors: sum ["ControlErrors", Count],
    }
}

impl ControlReport {
    pub fn stats(&self) -> ControlStats {
        let mut s = ControlStats {
            checked: self.stages.len() as u64,
            errors: self.errors.len() as u64,
            ..Default::default()
        };
        for st in &self.stages {
            match st.action {
                Action::Enabled | Action::Planned => s.enabled += 1,
                Action::Repaired => s.repaired += 1,
                Action::Unchanged => s.unchanged += 1,
                Action::Skipped => s.skipped += 1,
                Action::OptedOutStreamed => s.opted_out_streamed += 1,
                Action::Blocked => s.blocked += 1,
                Action::Failed => s.failed += 1,
            }
        }
        s
    }

    /// Whether Lambda should retry the event: an AWS call failed (blocked stages need the user,
    /// and a retry would not help them).
    pub fn should_retry(&self) -> bool {
        !self.errors.is_empty() || self.stages.iter().any(|s| s.action == Action::Failed)
    }

    /// The stages with this action.
    pub fn with(&self, action: Action) -> impl Iterator<Item = &StageAction> {
        self.stages.iter().filter(move |s| s.action == action)
    }
}

/// The policy's choice among discovered stages: the selector of the admitted ones, and the
/// report lines of the others.
pub fn choose(policy: &Policy, stages: &[&StageInfo]) -> (Vec<ApiSelector>, Vec<StageAction>) {
    let mut admitted = Vec::new();
    let mut lines = Vec::new();
    for st in stages {
        if policy.opted_out(&st.tags) && !st.streamed_from.is_empty() {
            lines.push(StageAction {
                stage: st.stage.clone(),
                action: Action::OptedOutStreamed,
                changes: Vec::new(),
                detail: Some(format!(
                    "tagged {POLICY_TAG}=off but streamed: apigw-stream disable --region {} --api {} --stage {} --apply",
                    st.stage.region, st.stage.api_id, st.stage.stage
                )),
            });
            continue;
        }
        match policy.admits(&st.tags) {
            Ok(()) => admitted.push(ApiSelector {
                api_id: st.stage.api_id.clone(),
                stage: Some(st.stage.stage.clone()),
                stages: Vec::new(),
                region: Some(st.stage.region.clone()),
                kind: Some(st.stage.kind.to_string()),
            }),
            Err(reason) => lines.push(StageAction {
                stage: st.stage.clone(),
                action: Action::Skipped,
                changes: Vec::new(),
                detail: Some(reason.to_string()),
            }),
        }
    }
    (admitted, lines)
}

/// Turn `enable`'s outcomes into report lines: a change to a stage we had enabled is drift
/// repaired; a change to any other stage enables it.
pub fn classify(report: &Report, stages: &[&StageInfo]) -> Vec<StageAction> {
    report
        .stages
        .iter()
        .map(|o| {
            let ours_before = stages
                .iter()
                .any(|s| s.stage == o.stage && s.enabled_by.as_deref() == Some(ENABLED_BY_POLICY));
            let action = match o.status {
                Status::Changed if ours_before => Action::Repaired,
                Status::Changed => Action::Enabled,
                Status::Unchanged => Action::Unchanged,
                Status::Planned if o.changes.is_empty() => Action::Unchanged,
                Status::Planned => Action::Planned,
                Status::Blocked => Action::Blocked,
                Status::Failed => Action::Failed,
            };
            StageAction {
                stage: o.stage.clone(),
                action,
                changes: o.changes.iter().map(|c| c.to_string()).collect(),
                detail: o.error.clone(),
            }
        })
        .collect()
}

/// Handle one trigger. `clients` are the function's region's; other regions (a reconcile over
/// `AUTO_ENABLE_REGIONS`) get clients from `base`.
pub async fn run(
    base: &aws_config::SdkConfig,
    clients: &RegionClients,
    config: &ControlConfig,
    trigger: &Trigger,
) -> ControlReport {
    let mut report = ControlReport {
        trigger: match trigger {
            Trigger::Stage(e) => e.event_name.clone(),
            Trigger::Reconcile => "reconcile".to_string(),
            Trigger::Ignored { .. } => "ignored".to_string(),
        },
        policy: config.policy,
        dry_run: config.dry_run,
        stages: Vec::new(),
        errors: Vec::new(),
    };
    match trigger {
        Trigger::Ignored { .. } => {}
        Trigger::Stage(event) => {
            let regional = if event.region == clients.region {
                clients.clone()
            } else {
                RegionClients::new(base, &event.region)
            };
            let inv = discover::discover_region(&regional, event.family.kinds()).await;
            let wanted: Vec<&StageInfo> = inv
                .stages
                .iter()
                .filter(|s| s.stage.api_id == event.api_id)
                .filter(|s| event.stage.as_ref().is_none_or(|n| &s.stage.stage == n))
                .collect();
            if wanted.is_empty() {
                report.errors.extend(inv.errors.iter().cloned());
                report.errors.push(format!(
                    "{} {}: API {} stage {} not found",
                    event.region,
                    event.event_name,
                    event.api_id,
                    event.stage.as_deref().unwrap_or("(any)")
                ));
                return report;
            }
            let owned: Vec<StageInfo> = wanted.into_iter().cloned().collect();
            let inventory = Inventory {
                regions: vec![(regional, inv)],
                skipped_regions: Vec::new(),
            };
            enable_chosen(&inventory, &owned, config, &mut report).await;
        }
        Trigger::Reconcile => {
            let list: Vec<String> = if config.regions.is_empty() {
                vec![clients.region.clone()]
            } else {
                config.regions.clone()
            };
            let mut inventory = Inventory::default();
            for region in &list {
                let regional = if *region == clients.region {
                    clients.clone()
                } else {
                    RegionClients::new(base, region)
                };
                let inv = discover::discover_region(&regional, Kinds::default()).await;
                report
                    .errors
                    .extend(inv.errors.iter().map(|e| format!("{region}: {e}")));
                inventory.regions.push((regional, inv));
            }
            let all: Vec<StageInfo> = inventory
                .regions
                .iter()
                .flat_map(|(_, inv)| inv.stages.iter().cloned())
                .collect();
            enable_chosen(&inventory, &all, config, &mut report).await;
        }
    }
    report
}

/// Apply the policy to `stages` (all from `inventory`), enable the admitted ones, tag the ones
/// changed, and add the lines to `report`.
async fn enable_chosen(
    inventory: &Inventory,
    stages: &[StageInfo],
    config: &ControlConfig,
    report: &mut ControlReport,
) {
    let refs: Vec<&StageInfo> = stages.iter().collect();
    let (admitted, lines) = choose(&config.policy, &refs);
    report.stages.extend(lines);
    if admitted.is_empty() {
        return;
    }
    let outcome = enable::enable_discovered(
        inventory,
        &Selector::Apis(admitted),
        &config.enable,
        !config.dry_run,
    )
    .await;
    report.errors.extend(outcome.errors.iter().cloned());
    let mut lines = classify(&outcome, &refs);
    for line in &mut lines {
        if !matches!(line.action, Action::Enabled | Action::Repaired) {
            continue;
        }
        let Some((clients, _)) = inventory
            .regions
            .iter()
            .find(|(c, _)| c.region == line.stage.region)
        else {
            continue;
        };
        if let Err(e) = mark_enabled_by_policy(clients, &line.stage).await {
            // Streaming works; only `apis` will not say who enabled it.
            tracing::warn!(stage = %line.stage, "tagging the stage: {e}");
            report
                .errors
                .push(format!("{}: streamed, but not tagged: {e}", line.stage));
        }
    }
    report.stages.extend(lines);
}

/// The stage's ARN for tagging: `arn:{partition}:apigateway:{region}::/restapis|apis/{id}/stages/{stage}`.
pub fn stage_tag_arn(stage: &StageRef) -> String {
    let partition = regions::partition(&stage.region);
    let collection = if stage.kind == ApiKind::Rest {
        "restapis"
    } else {
        "apis"
    };
    format!(
        "arn:{partition}:apigateway:{}::/{collection}/{}/stages/{}",
        stage.region, stage.api_id, stage.stage
    )
}

/// Tag a stage [`ENABLED_BY_TAG`]`=`[`ENABLED_BY_POLICY`].
pub async fn mark_enabled_by_policy(
    clients: &RegionClients,
    stage: &StageRef,
) -> Result<(), OpsError> {
    let arn = stage_tag_arn(stage);
    if stage.kind == ApiKind::Rest {
        clients
            .apigw
            .tag_resource()
            .resource_arn(&arn)
            .tags(ENABLED_BY_TAG, ENABLED_BY_POLICY)
            .send()
            .await
            .map_err(|e| OpsError::aws("TagResource", &arn, e))?;
    } else {
        clients
            .apigw2
            .tag_resource()
            .resource_arn(&arn)
            .tags(ENABLED_BY_TAG, ENABLED_BY_POLICY)
            .send()
            .await
            .map_err(|e| OpsError::aws("TagResource", &arn, e))?;
    }
    Ok(())
}

/// The EMF line of one invocation (`Function=control`).
pub fn report_emf(report: &ControlReport, timestamp_ms: i64) -> Value {
    crate::runtime::metrics::emf(
        timestamp_ms,
        &[("Function", "control")],
        &report.stats().metrics(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn policy(scope: Scope) -> Policy {
        Policy {
            scope,
            mode: Mode::Access,
        }
    }

    #[test]
    fn scopes_read_the_tag() {
        let on = tags(&[("apigw-stream", "on")]);
        let off = tags(&[("apigw-stream", "OFF")]);
        let none = tags(&[("team", "payments")]);
        assert!(policy(Scope::All).admits(&off).is_ok());
        assert!(policy(Scope::OptIn).admits(&on).is_ok());
        assert!(policy(Scope::OptIn).admits(&none).is_err());
        assert!(policy(Scope::OptIn).admits(&off).is_err());
        assert!(policy(Scope::OptOut).admits(&none).is_ok());
        assert!(policy(Scope::OptOut).admits(&on).is_ok());
        let why = policy(Scope::OptOut).admits(&off).unwrap_err().to_string();
        assert!(why.contains("apigw-stream=off"), "{why}");
    }

    #[test]
    fn modes_set_the_enable_options() {
        let mut o = EnableOptions::default();
        Mode::Joined.apply_to(&mut o);
        assert!(o.execution_logs && o.keep_access_logs && !o.large_bodies);
        Mode::Execution1Mb.apply_to(&mut o);
        assert!(o.execution_logs && o.large_bodies && !o.keep_access_logs);
        Mode::Access.apply_to(&mut o);
        assert!(!o.execution_logs && !o.large_bodies && !o.keep_access_logs);
    }

    fn env(pairs: &[(&str, &str)]) -> std::collections::HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn config_from_env() {
        let c = ControlConfig::from_env(&env(&[
            (
                "DECODE_FUNCTION_ARN",
                "arn:aws:lambda:us-east-1:1:function:d",
            ),
            ("AUTO_ENABLE_SCOPE", "opt-in"),
            ("AUTO_ENABLE_MODE", "execution"),
            ("AUTO_ENABLE_REGIONS", "us-east-1, eu-west-1"),
            ("RETENTION_DAYS", "30"),
        ]))
        .expect("valid");
        assert_eq!(c.policy.scope, Scope::OptIn);
        assert!(c.enable.execution_logs);
        assert_eq!(c.enable.retention_days, 30);
        assert_eq!(c.regions, ["us-east-1", "eu-west-1"]);
        let d = ControlConfig::from_env(&env(&[("STACK_NAME", "s")])).expect("defaults");
        assert_eq!(d.policy.scope, Scope::OptOut);
        assert_eq!(d.policy.mode, Mode::Access);
        assert!(!d.dry_run);
        for (bad, name) in [
            (("AUTO_ENABLE_SCOPE", "some"), "AUTO_ENABLE_SCOPE"),
            (("AUTO_ENABLE_MODE", "trace"), "AUTO_ENABLE_MODE"),
            (("RETENTION_DAYS", "2"), "RETENTION_DAYS"),
            (("AUTO_ENABLE_DRY_RUN", "maybe"), "AUTO_ENABLE_DRY_RUN"),
        ] {
            let e = ControlConfig::from_env(&env(&[("STACK_NAME", "s"), bad])).unwrap_err();
            assert!(e.to_string().contains(name), "{e}");
        }
        let e = ControlConfig::from_env(&env(&[])).unwrap_err();
        assert!(e.to_string().contains("DECODE_FUNCTION_ARN"), "{e}");
    }

    fn cloudtrail(name: &str, request: Value, response: Value) -> Value {
        json!({
            "version": "0",
            "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
            "detail-type": "AWS API Call via CloudTrail",
            "source": "aws.apigateway",
            "account": "123456789012",
            "time": "2026-12-06T10:00:00Z",
            "region": "eu-west-1",
            "resources": [],
            "detail": {
                "eventVersion": "1.09",
                "eventSource": "apigateway.amazonaws.com",
                "eventName": name,
                "awsRegion": "eu-west-1",
                "requestParameters": request,
                "responseElements": response,
                "eventType": "AwsApiCall",
                "managementEvent": true,
            }
        })
    }

    fn stage_event(t: Trigger) -> StageEvent {
        match t {
            Trigger::Stage(e) => e,
            other => panic!("not a stage event: {other:?}"),
        }
    }

    #[test]
    fn cloudtrail_events_name_the_stage() {
        let e = stage_event(parse_event(&cloudtrail(
            "CreateStage",
            json!({"restApiId": "a1b2c3", "createStageInput": {"stageName": "prod", "deploymentId": "d1"}}),
            json!({"self": {"restApiId": "a1b2c3", "stageName": "prod"}}),
        )));
        assert_eq!(
            (
                e.family,
                e.api_id.as_str(),
                e.stage.as_deref(),
                e.region.as_str()
            ),
            (Family::Rest, "a1b2c3", Some("prod"), "eu-west-1")
        );
        let e = stage_event(parse_event(&cloudtrail(
            "CreateDeployment",
            json!({"restApiId": "a1b2c3", "createDeploymentInput": {"stageName": "dev"}}),
            Value::Null,
        )));
        assert_eq!(e.stage.as_deref(), Some("dev"));
        let e = stage_event(parse_event(&cloudtrail(
            "UpdateStage",
            json!({"restApiId": "a1b2c3", "stageName": "prod", "updateStageInput": {"patchOperations": []}}),
            Value::Null,
        )));
        assert_eq!(e.stage.as_deref(), Some("prod"));
        // v2: `apiId`.
        let e = stage_event(parse_event(&cloudtrail(
            "CreateStage",
            json!({"apiId": "h7t9", "stageName": "$default"}),
            json!({"stageName": "$default"}),
        )));
        assert_eq!(
            (e.family, e.api_id.as_str(), e.stage.as_deref()),
            (Family::V2, "h7t9", Some("$default"))
        );
        // A quick-created HTTP API: every stage of it.
        let e = stage_event(parse_event(&cloudtrail(
            "CreateApi",
            json!({"name": "pets", "protocolType": "HTTP"}),
            json!({"apiId": "q1w2", "name": "pets"}),
        )));
        assert_eq!((e.family, e.stage), (Family::V2, None));
        // A tag put on a stage.
        let e = stage_event(parse_event(&cloudtrail(
            "TagResource",
            json!({"resourceArn": "arn:aws:apigateway:eu-west-1::/restapis/a1b2c3/stages/prod", "tags": {"apigw-stream": "on"}}),
            Value::Null,
        )));
        assert_eq!(
            (e.family, e.api_id.as_str(), e.stage.as_deref()),
            (Family::Rest, "a1b2c3", Some("prod"))
        );
    }

    #[test]
    fn other_events_are_ignored_or_reconcile() {
        let scheduled =
            json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
        assert_eq!(parse_event(&scheduled), Trigger::Reconcile);
        assert_eq!(
            parse_event(&json!({"action": "reconcile"})),
            Trigger::Reconcile
        );
        let mut failed = cloudtrail(
            "CreateStage",
            json!({"restApiId": "a", "createStageInput": {"stageName": "p"}}),
            Value::Null,
        );
        failed["detail"]["errorCode"] = json!("BadRequestException");
        assert!(matches!(parse_event(&failed), Trigger::Ignored { .. }));
        let other = cloudtrail(
            "DeleteStage",
            json!({"restApiId": "a", "stageName": "p"}),
            Value::Null,
        );
        assert!(matches!(parse_event(&other), Trigger::Ignored { .. }));
        let route = cloudtrail(
            "TagResource",
            json!({"resourceArn": "arn:aws:apigateway:eu-west-1::/apis/h7/routes/r1"}),
            Value::Null,
        );
        assert!(matches!(parse_event(&route), Trigger::Ignored { .. }));
        assert!(matches!(
            parse_event(&json!([1, 2])),
            Trigger::Ignored { .. }
        ));
        assert!(matches!(parse_event(&json!("x")), Trigger::Ignored { .. }));
    }

    #[test]
    fn own_calls_are_recognised_by_the_role_session() {
        let mut e = cloudtrail(
            "UpdateStage",
            json!({"restApiId": "a", "stageName": "p"}),
            Value::Null,
        );
        assert!(!is_own_call(&e, "apigw-stream-control"));
        e["detail"]["userIdentity"] = json!({"type": "AssumedRole",
            "arn": "arn:aws:sts::123456789012:assumed-role/apigw-stream-ControlRole-AbC/apigw-stream-control"});
        assert!(is_own_call(&e, "apigw-stream-control"));
        assert!(!is_own_call(&e, "other"));
        assert!(!is_own_call(&e, ""));
        e["detail"]["userIdentity"]["arn"] =
            json!("arn:aws:iam::123456789012:user/apigw-stream-control");
        assert!(!is_own_call(&e, "apigw-stream-control"));
    }

    #[test]
    fn stage_arns_for_tagging() {
        let mut s = StageRef {
            region: "us-east-1".into(),
            kind: ApiKind::Rest,
            api_id: "a1".into(),
            stage: "prod".into(),
        };
        assert_eq!(
            stage_tag_arn(&s),
            "arn:aws:apigateway:us-east-1::/restapis/a1/stages/prod"
        );
        s.kind = ApiKind::Http;
        s.region = "cn-north-1".into();
        assert_eq!(
            stage_tag_arn(&s),
            "arn:aws-cn:apigateway:cn-north-1::/apis/a1/stages/prod"
        );
    }
}
