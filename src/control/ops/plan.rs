//! Changes to a stage and its log group, as planned by `enable`/`disable`, and their application.
//!
//! A plan is data: printed without `--apply`, executed with it. Each stage is applied on its own
//! so one failure does not stop the others; the report lists every stage's outcome.

use std::collections::HashSet;

use serde::Serialize;

use super::execution::{MethodLogging, PRIOR_TAG};
use super::{OpsError, RegionClients, StageRef};
use crate::transaction::ApiKind;

/// One change to AWS.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Change {
    CreateLogGroup {
        log_group: String,
        retention_days: i32,
    },
    SetAccessLogging {
        destination_arn: String,
        format: String,
        /// The format it replaces (`--set-format`), when the stage had one.
        #[serde(skip_serializing_if = "Option::is_none")]
        replaces: Option<String>,
    },
    PutSubscriptionFilter {
        log_group: String,
        filter_name: String,
        destination_arn: String,
    },
    DeleteSubscriptionFilter {
        log_group: String,
        filter_name: String,
    },
    RemoveAccessLogging {
        destination_arn: String,
    },
    /// REST: the stage's `*/*` method settings, after recording the ones they replace in the
    /// stage tag `apigw-stream:prior-logging` (absent when a record is already there).
    SetMethodLogging {
        stage_arn: String,
        settings: MethodLogging,
        #[serde(skip_serializing_if = "Option::is_none")]
        record_prior: Option<MethodLogging>,
    },
    /// REST: put back the `*/*` method settings `enable` recorded, then drop the record.
    RestoreMethodLogging {
        stage_arn: String,
        settings: MethodLogging,
    },
    /// The 1 MB delivery: a destination (a log group of ours)...
    PutDeliveryDestination {
        name: String,
        log_group_arn: String,
    },
    /// ...the stage as a source of `EXECUTION_LOGS`...
    PutDeliverySource {
        name: String,
        resource_arn: String,
    },
    /// ...and the delivery between them.
    CreateDelivery {
        source_name: String,
        destination_name: String,
        /// `CreateDelivery --record-fields`: the shape the decoder reads.
        record_fields: Vec<String>,
    },
    DeleteDelivery {
        id: String,
    },
    DeleteDeliverySource {
        name: String,
    },
    DeleteDeliveryDestination {
        name: String,
    },
    /// API Gateway's account-level CloudWatch Logs role (REST logging needs one): an IAM role
    /// trusted by API Gateway with the AWS managed policy, set as `cloudwatchRoleArn`.
    CreateAccountRole {
        role_name: String,
        policy_arn: String,
    },
}

impl Change {
    /// Changes to a log group are shared by the stages writing to it: applied once per run.
    fn is_group_level(&self) -> bool {
        matches!(
            self,
            Change::CreateLogGroup { .. }
                | Change::PutSubscriptionFilter { .. }
                | Change::DeleteSubscriptionFilter { .. }
                | Change::CreateAccountRole { .. }
        )
    }
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::CreateLogGroup {
                log_group,
                retention_days,
            } => write!(
                f,
                "create log group {log_group} (retention {retention_days} days)"
            ),
            Change::SetAccessLogging {
                destination_arn,
                replaces,
                ..
            } => match replaces {
                Some(_) => write!(
                    f,
                    "replace the access-log format with the recommended one ({destination_arn})"
                ),
                None => write!(
                    f,
                    "turn on access logging to {destination_arn} (recommended format)"
                ),
            },
            Change::PutSubscriptionFilter {
                log_group,
                filter_name,
                destination_arn,
            } => write!(
                f,
                "add subscription filter {filter_name} on {log_group} → {destination_arn}"
            ),
            Change::DeleteSubscriptionFilter {
                log_group,
                filter_name,
            } => write!(f, "delete subscription filter {filter_name} on {log_group}"),
            Change::RemoveAccessLogging { destination_arn } => {
                write!(f, "turn off access logging (was {destination_arn})")
            }
            Change::SetMethodLogging { .. }
            | Change::RestoreMethodLogging { .. }
            | Change::PutDeliveryDestination { .. }
            | Change::PutDeliverySource { .. }
            | Change::CreateDelivery { .. }
            | Change::DeleteDelivery { .. }
            | Change::DeleteDeliverySource { .. }
            | Change::DeleteDeliveryDestination { .. } => self.fmt_execution(f),
            Change::CreateAccountRole {
                role_name,
                policy_arn,
            } => write!(
                f,
                "create IAM role {role_name} (trusted by apigateway.amazonaws.com, policy {policy_arn}) \
                 and set it as API Gateway's account CloudWatch Logs role (cloudwatchRoleArn)"
            ),
        }
    }
}

impl Change {
    /// The execution-logging changes (method settings, the 1 MB delivery) in words.
    fn fmt_execution(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::SetMethodLogging {
                settings,
                record_prior,
                ..
            } => {
                write!(f, "set the stage's method settings */*: {settings}")?;
                match record_prior {
                    Some(p) => write!(f, " (was {p}; recorded in the stage tag {PRIOR_TAG})"),
                    None => Ok(()),
                }
            }
            Change::RestoreMethodLogging { settings, .. } => write!(
                f,
                "restore the stage's method settings */*: {settings} (from the stage tag {PRIOR_TAG})"
            ),
            Change::PutDeliveryDestination {
                name,
                log_group_arn,
            } => write!(f, "put delivery destination {name} → {log_group_arn}"),
            Change::PutDeliverySource { name, resource_arn } => write!(
                f,
                "put delivery source {name} (EXECUTION_LOGS of {resource_arn})"
            ),
            Change::CreateDelivery {
                source_name,
                destination_name,
                record_fields,
            } => write!(
                f,
                "create delivery {source_name} → {destination_name} (output format {}, record fields {})",
                crate::decode::execution::delivery::OUTPUT_FORMAT,
                record_fields.join(",")
            ),
            Change::DeleteDelivery { id } => write!(f, "delete delivery {id}"),
            Change::DeleteDeliverySource { name } => write!(f, "delete delivery source {name}"),
            Change::DeleteDeliveryDestination { name } => {
                write!(f, "delete delivery destination {name}")
            }
            // The access-log, filter and account changes are told by `Display` itself.
            _ => write!(f, "{self:?}"),
        }
    }
}

/// What should happen to one stage.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StagePlan {
    #[serde(flatten)]
    pub stage: StageRef,
    pub changes: Vec<Change>,
    /// Things the user should know that change nothing (kept formats, shared filters...).
    pub notes: Vec<String>,
    /// Why the stage cannot be handled; a blocked stage counts as a failure.
    pub blocked: Option<String>,
}

impl StagePlan {
    pub fn new(stage: StageRef) -> StagePlan {
        StagePlan {
            stage,
            changes: Vec::new(),
            notes: Vec::new(),
            blocked: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Changes listed, nothing done (no `--apply`).
    Planned,
    Unchanged,
    Changed,
    Failed,
    Blocked,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Planned => "planned",
            Status::Unchanged => "unchanged",
            Status::Changed => "changed",
            Status::Failed => "failed",
            Status::Blocked => "blocked",
        }
    }
}

/// What happened to one stage.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageOutcome {
    #[serde(flatten)]
    pub stage: StageRef,
    pub status: Status,
    /// Planned changes (planned), or the changes made (changed, failed: those before the failure).
    pub changes: Vec<Change>,
    pub notes: Vec<String>,
    pub error: Option<String>,
}

/// The result of a run over many stages and regions.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub stages: Vec<StageOutcome>,
    /// Problems not tied to one stage: unreadable regions, selectors that matched nothing.
    pub errors: Vec<String>,
    /// Regions left out on purpose (not enabled for the account under `--regions all`).
    pub skipped_regions: Vec<String>,
}

impl Report {
    pub fn count(&self, status: Status) -> usize {
        self.stages.iter().filter(|s| s.status == status).count()
    }

    /// Failed and blocked stages plus run-level errors: non-zero means a non-zero exit.
    pub fn failures(&self) -> usize {
        self.count(Status::Failed) + self.count(Status::Blocked) + self.errors.len()
    }
}

/// Plans as outcomes without touching AWS (the default, without `--apply`).
pub fn dry_run(plans: Vec<StagePlan>) -> Vec<StageOutcome> {
    plans
        .into_iter()
        .map(|p| {
            let status = if p.blocked.is_some() {
                Status::Blocked
            } else if p.changes.is_empty() {
                Status::Unchanged
            } else {
                Status::Planned
            };
            StageOutcome {
                stage: p.stage,
                status,
                // A blocked stage gets none of its changes.
                changes: if p.blocked.is_some() {
                    Vec::new()
                } else {
                    p.changes
                },
                notes: p.notes,
                error: p.blocked,
            }
        })
        .collect()
}

/// Apply plans in order, each stage on its own. Group-level changes already made earlier in this
/// run (a log group shared by several stages) are not repeated.
pub async fn apply(clients: &RegionClients, plans: Vec<StagePlan>) -> Vec<StageOutcome> {
    let mut done: HashSet<Change> = HashSet::new();
    let mut out = Vec::with_capacity(plans.len());
    for plan in plans {
        if let Some(reason) = plan.blocked {
            tracing::warn!(stage = %plan.stage, "blocked: {reason}");
            out.push(StageOutcome {
                stage: plan.stage,
                status: Status::Blocked,
                changes: Vec::new(),
                notes: plan.notes,
                error: Some(reason),
            });
            continue;
        }
        let mut made = Vec::new();
        let mut error = None;
        for change in plan.changes {
            if change.is_group_level() && done.contains(&change) {
                continue;
            }
            match apply_change(clients, &plan.stage, &change).await {
                Ok(()) => {
                    tracing::info!(stage = %plan.stage, "{change}");
                    if change.is_group_level() {
                        done.insert(change.clone());
                    }
                    made.push(change);
                }
                Err(e) => {
                    tracing::warn!(stage = %plan.stage, "{change}: {e}");
                    error = Some(format!("{change}: {e}"));
                    break;
                }
            }
        }
        let status = match (&error, made.is_empty()) {
            (Some(_), _) => Status::Failed,
            (None, true) => Status::Unchanged,
            (None, false) => Status::Changed,
        };
        out.push(StageOutcome {
            stage: plan.stage,
            status,
            changes: made,
            notes: plan.notes,
            error,
        });
    }
    out
}

async fn apply_change(
    clients: &RegionClients,
    stage: &StageRef,
    change: &Change,
) -> Result<(), OpsError> {
    match change {
        Change::CreateLogGroup {
            log_group,
            retention_days,
        } => create_log_group(clients, log_group, *retention_days).await,
        Change::SetAccessLogging {
            destination_arn,
            format,
            ..
        } => set_access_logging(clients, stage, Some((destination_arn, format))).await,
        Change::RemoveAccessLogging { .. } => set_access_logging(clients, stage, None).await,
        Change::SetMethodLogging {
            stage_arn,
            settings,
            record_prior,
        } => {
            super::method_settings::set(clients, stage, stage_arn, settings, record_prior.as_ref())
                .await
        }
        Change::RestoreMethodLogging {
            stage_arn,
            settings,
        } => super::method_settings::restore(clients, stage, stage_arn, settings).await,
        Change::PutDeliveryDestination {
            name,
            log_group_arn,
        } => super::delivery::put_destination(&clients.logs, name, log_group_arn).await,
        Change::PutDeliverySource { name, resource_arn } => {
            super::delivery::put_source(&clients.logs, name, resource_arn).await
        }
        Change::CreateDelivery {
            source_name,
            destination_name,
            record_fields,
        } => {
            super::delivery::create(&clients.logs, source_name, destination_name, record_fields)
                .await
        }
        Change::DeleteDelivery { id } => super::delivery::delete(&clients.logs, id).await,
        Change::DeleteDeliverySource { name } => {
            super::delivery::delete_source(&clients.logs, name).await
        }
        Change::DeleteDeliveryDestination { name } => {
            super::delivery::delete_destination(&clients.logs, name).await
        }
        Change::CreateAccountRole {
            role_name,
            policy_arn,
        } => super::account_role::create(clients, role_name, policy_arn).await,
        Change::PutSubscriptionFilter {
            log_group,
            filter_name,
            destination_arn,
        } => put_subscription_filter(clients, log_group, filter_name, destination_arn).await,
        Change::DeleteSubscriptionFilter {
            log_group,
            filter_name,
        } => delete_subscription_filter(clients, log_group, filter_name).await,
    }
}

/// Create the log group (one made meanwhile is fine) and set its retention.
async fn create_log_group(
    clients: &RegionClients,
    log_group: &str,
    retention_days: i32,
) -> Result<(), OpsError> {
    match clients
        .logs
        .create_log_group()
        .log_group_name(log_group)
        .send()
        .await
    {
        Ok(_) => {}
        // Created meanwhile (another stage, another run): the retention still applies.
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_already_exists_exception()) => {}
        Err(e) => return Err(OpsError::aws("CreateLogGroup", log_group, e)),
    }
    clients
        .logs
        .put_retention_policy()
        .log_group_name(log_group)
        .retention_in_days(retention_days)
        .send()
        .await
        .map_err(|e| OpsError::aws("PutRetentionPolicy", log_group, e))?;
    Ok(())
}

/// Add (or re-point) a subscription filter; the two-filter limit is said in words.
async fn put_subscription_filter(
    clients: &RegionClients,
    log_group: &str,
    filter_name: &str,
    destination_arn: &str,
) -> Result<(), OpsError> {
    let res = clients
        .logs
        .put_subscription_filter()
        .log_group_name(log_group)
        .filter_name(filter_name)
        .filter_pattern("")
        .destination_arn(destination_arn)
        .send()
        .await;
    match res {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_limit_exceeded_exception()) => {
            Err(OpsError::Input(format!(
                "log group {log_group} already has the maximum of two subscription filters \
                 (a CloudWatch Logs limit): remove one, or log this stage to another group with --log-group"
            )))
        }
        Err(e) => Err(OpsError::aws("PutSubscriptionFilter", log_group, e)),
    }
}

/// Delete a subscription filter; one already gone is fine.
async fn delete_subscription_filter(
    clients: &RegionClients,
    log_group: &str,
    filter_name: &str,
) -> Result<(), OpsError> {
    match clients
        .logs
        .delete_subscription_filter()
        .log_group_name(log_group)
        .filter_name(filter_name)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        // Already gone: the goal is reached.
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(OpsError::aws("DeleteSubscriptionFilter", log_group, e)),
    }
}

/// Set (`Some((destination, format))`) or remove (`None`) a stage's access-log settings.
async fn set_access_logging(
    clients: &RegionClients,
    stage: &StageRef,
    settings: Option<(&String, &String)>,
) -> Result<(), OpsError> {
    let target = format!("{} API {} stage {}", stage.kind, stage.api_id, stage.stage);
    match stage.kind {
        ApiKind::Rest => {
            use aws_sdk_apigateway::types::{Op, PatchOperation};
            let ops = match settings {
                Some((dest, format)) => vec![
                    PatchOperation::builder()
                        .op(Op::Replace)
                        .path("/accessLogSettings/destinationArn")
                        .value(dest)
                        .build(),
                    PatchOperation::builder()
                        .op(Op::Replace)
                        .path("/accessLogSettings/format")
                        .value(format)
                        .build(),
                ],
                None => vec![PatchOperation::builder()
                    .op(Op::Remove)
                    .path("/accessLogSettings")
                    .build()],
            };
            clients
                .apigw
                .update_stage()
                .rest_api_id(&stage.api_id)
                .stage_name(&stage.stage)
                .set_patch_operations(Some(ops))
                .send()
                .await
                .map_err(|e| OpsError::aws("UpdateStage", target, e))?;
        }
        ApiKind::Http | ApiKind::Websocket => match settings {
            Some((dest, format)) => {
                let als = aws_sdk_apigatewayv2::types::AccessLogSettings::builder()
                    .destination_arn(dest)
                    .format(format)
                    .build();
                clients
                    .apigw2
                    .update_stage()
                    .api_id(&stage.api_id)
                    .stage_name(&stage.stage)
                    .access_log_settings(als)
                    .send()
                    .await
                    .map_err(|e| OpsError::aws("UpdateStage", target, e))?;
            }
            None => {
                clients
                    .apigw2
                    .delete_access_log_settings()
                    .api_id(&stage.api_id)
                    .stage_name(&stage.stage)
                    .send()
                    .await
                    .map_err(|e| OpsError::aws("DeleteAccessLogSettings", target, e))?;
            }
        },
        ApiKind::Unknown => {
            return Err(OpsError::Input(format!("{target}: unknown API kind")));
        }
    }
    Ok(())
}
