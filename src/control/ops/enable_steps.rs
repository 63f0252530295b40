//! The options and planning steps both `enable` modes share (access log and execution logs):
//! the decode function, the log group, our subscription filter, and API Gateway's account role.

use std::collections::BTreeMap;

use super::discover::StageInfo;
use super::loggroup::LogGroupState;
use super::plan::{Change, StagePlan};
use super::{account_role, shared_filter_name};

/// Default retention of the log groups `enable` creates.
pub const DEFAULT_RETENTION_DAYS: i32 = 7;

/// Retention values CloudWatch Logs accepts (`PutRetentionPolicy`).
pub const RETENTION_DAYS: &[i32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnableOptions {
    /// The decode function; `None` = the stack's export, looked up in each region.
    pub function_arn: Option<String>,
    pub stack_name: String,
    /// Log group for stages without access logging (every kind).
    pub log_group: Option<String>,
    /// Log group for HTTP stages without access logging (the vendor's `.env`); `log_group` wins.
    pub http_log_group: Option<String>,
    pub retention_days: i32,
    /// Replace an existing non-recommended format with ours.
    pub set_format: bool,
    /// REST stages: stream the execution logs (data tracing on) instead of the access log.
    pub execution_logs: bool,
    /// With `execution_logs`: through the 1 MB delivery into a log group of ours.
    pub large_bodies: bool,
    /// With `execution_logs`: joined mode, the stage's access-log filter stays so both sources
    /// reach the decode function and are stitched into one transaction (`JOIN_STAGES`).
    pub keep_access_logs: bool,
    /// Create API Gateway's account CloudWatch Logs role where a region has none.
    pub create_account_role: bool,
    /// The account of the stages (and of the log groups made for them), when the filters'
    /// destination is in another account: a central CloudWatch Logs destination. `None`: the
    /// destination's account (a decode function in this account).
    pub account: Option<String>,
}

impl Default for EnableOptions {
    fn default() -> Self {
        EnableOptions {
            function_arn: None,
            stack_name: super::DEFAULT_STACK_NAME.to_string(),
            log_group: None,
            http_log_group: None,
            retention_days: DEFAULT_RETENTION_DAYS,
            set_format: false,
            execution_logs: false,
            large_bodies: false,
            keep_access_logs: false,
            create_account_role: false,
            account: None,
        }
    }
}

/// Why the decode function of a region is not known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FunctionError {
    /// The stack's export could not be read (`cause` names the stack and the call).
    #[error("decode function not found ({cause})")]
    NotFound { cause: String },
    /// The function named does not exist in the region.
    #[error("decode function {arn} does not exist in {region}")]
    Missing { arn: String, region: String },
}

/// Why a stage's enable plan is blocked (the plan shows the message as the stage's reason).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Blocked {
    #[error(transparent)]
    Function(#[from] FunctionError),
    #[error("decode function {arn:?} is not an ARN")]
    NotAnArn { arn: String },
    #[error(
        "decode function {arn} is in {function_region}; a subscription filter needs one in {region} \
         (deploy the pipeline there, or leave out --function-arn to use each region's stack export)"
    )]
    OtherRegion {
        arn: String,
        function_region: String,
        region: String,
    },
    #[error(
        "access logs go to {destination}, not to a CloudWatch Logs group; a subscription filter needs a log group"
    )]
    NotALogGroup { destination: String },
    #[error("log group {group} has the {class} log class; subscription filters need STANDARD")]
    LogClass { group: String, class: String },
    #[error(
        "log group {group} already has two subscription filters ({}), the most CloudWatch Logs allows: \
         remove one, or {hint}",
        foreign.join(", ")
    )]
    FilterLimit {
        group: String,
        foreign: Vec<String>,
        hint: &'static str,
    },
    #[error(
        "{what} needs the API Gateway account's CloudWatch Logs role in {region}, and none is set: \
         add --create-account-role (an IAM role with AmazonAPIGatewayPushToCloudWatchLogs), or set one \
         (aws apigateway update-account --patch-operations op=replace,path=/cloudwatchRoleArn,value=ROLE_ARN)"
    )]
    NoAccountRole { what: &'static str, region: String },
    #[error("the stage's execution-logging settings could not be read")]
    ExecutionUnread,
    #[error("cannot tell whether the stage already has a log delivery ({cause})")]
    DeliveriesUnread { cause: String },
    #[error(
        "the stage already has a delivery source for its execution logs ({source_name}, not ours): \
         subscribe the log group it delivers to, or delete it and run again"
    )]
    ForeignDeliverySource { source_name: String },
    #[error(transparent)]
    Delivery(#[from] super::delivery::DeliveryError),
}

/// What the planner needs to know about a region besides its stages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionContext {
    /// The decode function ARN, or why it could not be found.
    pub function_arn: Result<String, FunctionError>,
    /// Whether the API Gateway account has a CloudWatch Logs role (REST logging needs it);
    /// `None` when unknown (not asked, or the call failed).
    pub rest_logging_role: Option<bool>,
}

/// The decode function a stage's filter points to, checked against the stage's region.
pub(crate) struct DecodeFunction {
    pub(crate) arn: String,
    pub(crate) partition: String,
    pub(crate) account: String,
}

/// The group our filter goes on: created when missing; it must accept subscription filters.
pub(crate) fn plan_group(
    plan: &mut StagePlan,
    group: &LogGroupState,
    retention_days: i32,
) -> Result<(), Blocked> {
    if !group.exists {
        plan.changes.push(Change::CreateLogGroup {
            log_group: group.name.clone(),
            retention_days,
        });
    } else if !group.accepts_subscriptions() {
        return Err(Blocked::LogClass {
            group: group.name.clone(),
            class: group.class.clone().unwrap_or_else(|| "?".to_string()),
        });
    }
    Ok(())
}

/// Our subscription filter on the group: kept, re-pointed, or added (within the two-filter limit).
pub(crate) fn plan_filter(
    plan: &mut StagePlan,
    st: &StageInfo,
    group: &str,
    state: &LogGroupState,
    writers: &BTreeMap<String, usize>,
    function_arn: &str,
) -> Result<(), Blocked> {
    let ours: Vec<_> = state.ours().collect();
    if ours
        .iter()
        .any(|f| f.destination_arn.as_deref() == Some(function_arn))
    {
        // Already streamed (by this stage's filter or the group's shared one).
        return Ok(());
    }
    if let Some(f) = ours.first() {
        // Ours, pointing elsewhere (an older stack): re-point it; it keeps its slot.
        plan.notes.push(format!(
            "filter {} pointed to {}; re-pointing it",
            f.name,
            f.destination_arn.as_deref().unwrap_or("?")
        ));
        plan.changes.push(Change::PutSubscriptionFilter {
            log_group: group.to_string(),
            filter_name: f.name.clone(),
            destination_arn: function_arn.to_string(),
        });
        return Ok(());
    }
    let foreign: Vec<&str> = state.foreign().map(|f| f.name.as_str()).collect();
    if foreign.len() >= 2 {
        return Err(Blocked::FilterLimit {
            group: group.to_string(),
            foreign: foreign.iter().map(|f| f.to_string()).collect(),
            hint: if crate::decode::execution::is_execution_group(group) {
                "stream the stage through the 1 MB delivery into a group of ours (--large-bodies)"
            } else {
                "log this stage to another group with --log-group"
            },
        });
    }
    let shared = writers.get(group).copied().unwrap_or(0) > 1;
    let filter_name = if shared {
        plan.notes.push(format!(
            "log group {group} is written by several stages: one filter serves them all"
        ));
        shared_filter_name(st.stage.kind)
    } else {
        st.stage.filter_name()
    };
    plan.changes.push(Change::PutSubscriptionFilter {
        log_group: group.to_string(),
        filter_name,
        destination_arn: function_arn.to_string(),
    });
    Ok(())
}

/// API Gateway's account CloudWatch Logs role, which REST logging needs: created with
/// `--create-account-role` where none is set; otherwise a missing role blocks the stage.
pub(crate) fn plan_account_role(
    plan: &mut StagePlan,
    st: &StageInfo,
    ctx: &RegionContext,
    opts: &EnableOptions,
    function: &DecodeFunction,
    what: &'static str,
) -> Result<(), Blocked> {
    match ctx.rest_logging_role {
        Some(true) => Ok(()),
        Some(false) if opts.create_account_role => {
            plan.changes.push(Change::CreateAccountRole {
                role_name: account_role::ROLE_NAME.to_string(),
                policy_arn: account_role::managed_policy_arn(&function.partition),
            });
            Ok(())
        }
        Some(false) => Err(Blocked::NoAccountRole {
            what,
            region: st.stage.region.clone(),
        }),
        None => {
            plan.notes.push(format!(
                "could not read the API Gateway account settings in {}: {what} fails if it has no CloudWatch Logs role",
                st.stage.region
            ));
            Ok(())
        }
    }
}
