//! Discovery: every REST (v1) and HTTP/WebSocket (v2) API of a region with its stages, their
//! access-log settings, and the subscription filters on the log groups they write to.

use std::collections::BTreeMap;

use serde::Serialize;

use super::access_log::{classify, FormatClass};
use super::execution::{self, ExecutionLogging, StreamSource};
pub use super::loggroup::{read_log_group, FilterInfo, LogGroupState};
use super::{log_group_from_arn, OpsError, RegionClients, StageRef};
use crate::transaction::ApiKind;

/// Which API kinds to look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Kinds {
    pub rest: bool,
    pub http: bool,
    pub websocket: bool,
}

impl Default for Kinds {
    fn default() -> Self {
        Kinds {
            rest: true,
            http: true,
            websocket: true,
        }
    }
}

impl Kinds {
    pub fn includes(&self, kind: ApiKind) -> bool {
        match kind {
            ApiKind::Rest => self.rest,
            ApiKind::Http => self.http,
            ApiKind::Websocket => self.websocket,
            ApiKind::Unknown => false,
        }
    }
}

/// A stage's access-log settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccessLog {
    pub destination_arn: String,
    /// `None` when the destination is not a CloudWatch Logs group (Firehose).
    pub log_group: Option<String>,
    pub format: Option<String>,
    pub format_class: Option<FormatClass>,
}

/// One stage as discovered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageInfo {
    #[serde(flatten)]
    pub stage: StageRef,
    pub api_name: Option<String>,
    pub access_log: Option<AccessLog>,
    /// The state of the access-log group, when the stage logs to one.
    pub log_group: Option<LogGroupState>,
    /// REST stages: execution logging (method settings, its log groups, our 1 MB delivery).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution: Option<ExecutionLogging>,
    /// The logs our subscription filters stream this stage from (empty: not streamed).
    pub streamed_from: Vec<StreamSource>,
    /// The API's tags overlaid with the stage's (a stage tag wins): what the auto-enable policy
    /// reads (`apigw-stream=on|off`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// Who enabled streaming, from the stage tag [`ENABLED_BY_TAG`]
    /// (`policy` when the auto-enable control function did).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled_by: Option<String>,
}

impl StageInfo {
    /// Our filter on this stage's log group, if any.
    pub fn our_filter(&self) -> Option<&FilterInfo> {
        self.log_group.as_ref()?.ours().next()
    }

    /// Which of the stage's logs carry one of our filters.
    pub fn compute_streamed_from(&self) -> Vec<StreamSource> {
        let mut out = Vec::new();
        if self.our_filter().is_some() {
            out.push(StreamSource::Access);
        }
        if let Some(x) = &self.execution {
            if x.standard_group.ours().next().is_some() {
                out.push(StreamSource::Execution);
            }
            if x.delivery_group.ours().next().is_some() {
                out.push(StreamSource::Execution1Mb);
            }
        }
        out
    }
}

/// Everything found in one region; `errors` holds what could not be read (the rest is still there).
#[derive(Debug, Clone, Default, Serialize)]
pub struct RegionInventory {
    pub region: String,
    pub stages: Vec<StageInfo>,
    pub errors: Vec<String>,
}

/// Discover the APIs of one region. A failing API or log group is recorded in `errors` and the
/// rest goes on; an error listing the APIs of a kind at all is recorded the same way.
pub async fn discover_region(clients: &RegionClients, kinds: Kinds) -> RegionInventory {
    let mut inv = RegionInventory {
        region: clients.region.clone(),
        ..Default::default()
    };
    if kinds.rest {
        if let Err(e) = discover_rest(clients, &mut inv).await {
            inv.errors.push(e.to_string());
        }
    }
    if kinds.http || kinds.websocket {
        if let Err(e) = discover_v2(clients, kinds, &mut inv).await {
            inv.errors.push(e.to_string());
        }
    }
    // One read per log group, shared by the stages writing to it.
    let mut groups: BTreeMap<String, Option<LogGroupState>> = BTreeMap::new();
    for st in &inv.stages {
        if let Some(g) = st.access_log.as_ref().and_then(|a| a.log_group.clone()) {
            groups.entry(g).or_insert(None);
        }
    }
    for (name, slot) in groups.iter_mut() {
        match read_log_group(&clients.logs, name).await {
            Ok(state) => *slot = Some(state),
            Err(e) => inv.errors.push(e.to_string()),
        }
    }
    for st in &mut inv.stages {
        if let Some(g) = st.access_log.as_ref().and_then(|a| a.log_group.as_ref()) {
            st.log_group = groups.get(g).cloned().flatten();
        }
    }
    let rest = inv.stages.iter_mut().filter_map(|st| {
        let exec = st.execution.as_mut()?;
        (st.stage.kind == ApiKind::Rest).then_some((&st.stage, exec))
    });
    execution::read_region(clients, rest, &mut inv.errors).await;
    for st in &mut inv.stages {
        st.streamed_from = st.compute_streamed_from();
    }
    inv.stages.sort_by(|a, b| a.stage.cmp(&b.stage));
    inv
}

/// The API's tags with the stage's laid over them.
fn overlay(
    api: &std::collections::HashMap<String, String>,
    stage: Option<&std::collections::HashMap<String, String>>,
) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> =
        api.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    for (k, v) in stage.into_iter().flatten() {
        out.insert(k.clone(), v.clone());
    }
    out
}

/// The stage tag recording who enabled streaming (declared where stages are read; the
/// auto-enable policy writes it).
pub const ENABLED_BY_TAG: &str = "apigw-stream:enabled-by";

/// The stage's own [`ENABLED_BY_TAG`] (not the API's: it marks a stage).
fn enabled_by(stage: Option<&std::collections::HashMap<String, String>>) -> Option<String> {
    stage?
        .get(ENABLED_BY_TAG)
        .filter(|v| !v.is_empty())
        .cloned()
}

fn access_log(destination_arn: Option<&str>, format: Option<&str>) -> Option<AccessLog> {
    let arn = destination_arn.filter(|a| !a.is_empty())?;
    Some(AccessLog {
        destination_arn: arn.to_string(),
        log_group: log_group_from_arn(arn),
        format: format.map(str::to_string),
        format_class: format.map(classify),
    })
}

/// An API as listed, before its stages are read.
struct Api {
    id: String,
    name: Option<String>,
    kind: ApiKind,
    tags: std::collections::HashMap<String, String>,
}

/// What a stage of either API version says about itself.
struct StageFacts<'a> {
    name: &'a str,
    destination_arn: Option<&'a str>,
    format: Option<&'a str>,
    tags: Option<&'a std::collections::HashMap<String, String>>,
    execution: Option<ExecutionLogging>,
}

impl Api {
    /// The discovered stage (its log group and streaming are filled in later).
    fn stage(&self, region: &str, facts: StageFacts<'_>) -> StageInfo {
        StageInfo {
            stage: StageRef {
                region: region.to_string(),
                kind: self.kind,
                api_id: self.id.clone(),
                stage: facts.name.to_string(),
            },
            api_name: self.name.clone(),
            access_log: access_log(facts.destination_arn, facts.format),
            log_group: None,
            execution: facts.execution,
            streamed_from: Vec::new(),
            tags: overlay(&self.tags, facts.tags),
            enabled_by: enabled_by(facts.tags),
        }
    }
}

async fn discover_rest(clients: &RegionClients, inv: &mut RegionInventory) -> Result<(), OpsError> {
    let mut apis = Vec::new();
    let mut pages = clients
        .apigw
        .get_rest_apis()
        .limit(500)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| OpsError::aws("GetRestApis", &clients.region, e))?;
        for api in page.items() {
            if let Some(id) = api.id() {
                apis.push(Api {
                    id: id.to_string(),
                    name: api.name().map(str::to_string),
                    kind: ApiKind::Rest,
                    tags: api.tags().cloned().unwrap_or_default(),
                });
            }
        }
    }
    for api in apis {
        let stages = match clients.apigw.get_stages().rest_api_id(&api.id).send().await {
            Ok(s) => s,
            Err(e) => {
                inv.errors.push(
                    OpsError::aws("GetStages", format!("rest API {}", api.id), e).to_string(),
                );
                continue;
            }
        };
        for st in stages.item() {
            let Some(name) = st.stage_name() else {
                continue;
            };
            let settings = st.access_log_settings();
            let facts = StageFacts {
                name,
                destination_arn: settings.and_then(|s| s.destination_arn()),
                format: settings.and_then(|s| s.format()),
                tags: st.tags(),
                execution: Some(ExecutionLogging::from_stage(&api.id, st)),
            };
            inv.stages.push(api.stage(&clients.region, facts));
        }
    }
    Ok(())
}

/// The HTTP and WebSocket APIs of the region, of the kinds asked for.
async fn v2_apis(clients: &RegionClients, kinds: Kinds) -> Result<Vec<Api>, OpsError> {
    use aws_sdk_apigatewayv2::types::ProtocolType;
    let mut apis = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = clients
            .apigw2
            .get_apis()
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| OpsError::aws("GetApis", &clients.region, e))?;
        for api in page.items() {
            let kind = match api.protocol_type() {
                Some(ProtocolType::Http) => ApiKind::Http,
                Some(ProtocolType::Websocket) => ApiKind::Websocket,
                _ => continue,
            };
            if let (Some(id), true) = (api.api_id(), kinds.includes(kind)) {
                apis.push(Api {
                    id: id.to_string(),
                    name: api.name().map(str::to_string),
                    kind,
                    tags: api.tags().cloned().unwrap_or_default(),
                });
            }
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(apis)
}

async fn discover_v2(
    clients: &RegionClients,
    kinds: Kinds,
    inv: &mut RegionInventory,
) -> Result<(), OpsError> {
    for api in v2_apis(clients, kinds).await? {
        let mut token: Option<String> = None;
        loop {
            let page = match clients
                .apigw2
                .get_stages()
                .api_id(&api.id)
                .set_next_token(token.take())
                .send()
                .await
            {
                Ok(p) => p,
                Err(e) => {
                    inv.errors.push(
                        OpsError::aws("GetStages", format!("{} API {}", api.kind, api.id), e)
                            .to_string(),
                    );
                    break;
                }
            };
            for st in page.items() {
                let Some(name) = st.stage_name() else {
                    continue;
                };
                let settings = st.access_log_settings();
                let facts = StageFacts {
                    name,
                    destination_arn: settings.and_then(|s| s.destination_arn()),
                    format: settings.and_then(|s| s.format()),
                    tags: st.tags(),
                    execution: None,
                };
                inv.stages.push(api.stage(&clients.region, facts));
            }
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
    }
    Ok(())
}

/// Discovery over many regions, with regions that are not enabled for the account told apart.
#[derive(Debug, Default)]
pub struct Inventory {
    pub regions: Vec<(RegionClients, RegionInventory)>,
    /// Regions left out: not enabled for the account (only under `--regions all`).
    pub skipped_regions: Vec<String>,
}

/// Discover every region in turn. With `from_all`, a region whose every call was refused as
/// unauthorised (an opt-in region the account has not enabled) is skipped rather than failed.
pub async fn discover_regions(
    base: &aws_config::SdkConfig,
    regions: &[String],
    from_all: bool,
    kinds: Kinds,
) -> Inventory {
    let mut out = Inventory::default();
    for region in regions {
        let clients = RegionClients::new(base, region);
        let inv = discover_region(&clients, kinds).await;
        if from_all && region_not_enabled(&inv) {
            tracing::info!(region = %region, "skipped: not enabled for this account ({})", inv.errors[0]);
            out.skipped_regions.push(region.clone());
            continue;
        }
        out.regions.push((clients, inv));
    }
    out
}

fn region_not_enabled(inv: &RegionInventory) -> bool {
    const MARKERS: [&str; 4] = [
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "AuthFailure",
        "security token included in the request is invalid",
    ];
    inv.stages.is_empty()
        && !inv.errors.is_empty()
        && inv
            .errors
            .iter()
            .all(|e| MARKERS.iter().any(|m| e.contains(m)))
}
