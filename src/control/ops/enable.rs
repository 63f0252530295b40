//! `enable`: for each selected stage, make sure its access log lands in a CloudWatch Logs group
//! and that the group has our subscription filter to the decode function.
//!
//! Order of the changes per stage: create the group, add the filter, then turn logging on, so the
//! first logged line is already streamed.

use std::collections::BTreeMap;

use aws_config::SdkConfig;

use super::access_log::{recommended_format, FormatClass};
use super::discover::{self, read_log_group, LogGroupState, StageInfo};
use super::enable_steps::{plan_account_role, plan_filter, plan_group, DecodeFunction};
pub use super::enable_steps::{
    Blocked, EnableOptions, FunctionError, RegionContext, DEFAULT_RETENTION_DAYS, RETENTION_DAYS,
};
use super::plan::{self, Change, Report, StagePlan};
use super::select::Selection;
use super::{account_role, arn_parts, log_group_arn, stack, RegionClients};
use crate::transaction::ApiKind;

/// Name of the log group `enable` creates for a stage without access logging. Log group names
/// allow only `[.-_/#A-Za-z0-9]`, so other characters (the `$` of HTTP's `$default`) become `_`.
pub fn default_log_group(api_id: &str, stage: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._-/#".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    format!(
        "/aws/apigateway/apigw-stream/{}/{}",
        clean(api_id),
        clean(stage)
    )
}

/// Where a stage's access log goes (or will go).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// Already logging to this group.
    Existing(String),
    /// Logging elsewhere than CloudWatch Logs (Firehose).
    Elsewhere(String),
    /// Not logging: will log to this group.
    New(String),
}

fn target(st: &StageInfo, opts: &EnableOptions) -> Target {
    match &st.access_log {
        Some(al) => match &al.log_group {
            Some(g) => Target::Existing(g.clone()),
            None => Target::Elsewhere(al.destination_arn.clone()),
        },
        None => {
            let chosen = opts.log_group.clone().or_else(|| {
                (st.stage.kind == ApiKind::Http)
                    .then(|| opts.http_log_group.clone())
                    .flatten()
            });
            Target::New(
                chosen.unwrap_or_else(|| default_log_group(&st.stage.api_id, &st.stage.stage)),
            )
        }
    }
}

/// The log groups the selected stages will write to that discovery has not read yet.
pub fn groups_to_read(selected: &[&StageInfo], opts: &EnableOptions) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if opts.execution_logs {
        // Execution mode sets up no new access logging (its groups are read by discovery).
        return out;
    }
    for st in selected {
        if let Target::New(g) = target(st, opts) {
            if !out.contains(&g) {
                out.push(g);
            }
        }
    }
    out
}

/// Plan one region. `all` is every discovered stage of the region (to see which log groups are
/// shared), `groups` the state of every log group involved.
pub fn plan_region(
    all: &[StageInfo],
    selected: &[&StageInfo],
    groups: &BTreeMap<String, LogGroupState>,
    ctx: &RegionContext,
    opts: &EnableOptions,
) -> Vec<StagePlan> {
    // Writers per log group after this run: the stages logging there now plus those pointed there.
    let mut writers: BTreeMap<String, usize> = BTreeMap::new();
    for st in all {
        if let Some(g) = st.access_log.as_ref().and_then(|a| a.log_group.as_ref()) {
            *writers.entry(g.clone()).or_default() += 1;
        }
    }
    for st in selected.iter().filter(|_| !opts.execution_logs) {
        if let Target::New(g) = target(st, opts) {
            *writers.entry(g).or_default() += 1;
        }
    }
    selected
        .iter()
        .map(|st| plan_stage(st, groups, &writers, ctx, opts))
        .collect()
}

fn plan_stage(
    st: &StageInfo,
    groups: &BTreeMap<String, LogGroupState>,
    writers: &BTreeMap<String, usize>,
    ctx: &RegionContext,
    opts: &EnableOptions,
) -> StagePlan {
    let mut plan = StagePlan::new(st.stage.clone());
    if let Err(reason) = plan_steps(&mut plan, st, groups, writers, ctx, opts) {
        plan.blocked = Some(reason.to_string());
    }
    plan
}

/// One stage's plan, step by step; an `Err` blocks the stage with that reason (the changes
/// planned before it stay listed).
fn plan_steps(
    plan: &mut StagePlan,
    st: &StageInfo,
    groups: &BTreeMap<String, LogGroupState>,
    writers: &BTreeMap<String, usize>,
    ctx: &RegionContext,
    opts: &EnableOptions,
) -> Result<(), Blocked> {
    let mut function = decode_function(st, ctx)?;
    if let Some(account) = &opts.account {
        function.account = account.clone();
    }
    if opts.execution_logs {
        return super::enable_execution::plan(plan, st, writers, ctx, opts, &function);
    }
    let (group, state) = plan_log_group(plan, st, groups, opts)?;
    plan_filter(plan, st, &group, &state, writers, &function.arn)?;
    plan_access_logging(plan, st, ctx, opts, &group, &function)
}

fn decode_function(st: &StageInfo, ctx: &RegionContext) -> Result<DecodeFunction, Blocked> {
    let arn = ctx.function_arn.clone()?;
    let Some((partition, _, fn_region, account, _)) = arn_parts(&arn) else {
        return Err(Blocked::NotAnArn { arn });
    };
    if fn_region != st.stage.region {
        return Err(Blocked::OtherRegion {
            function_region: fn_region.to_string(),
            region: st.stage.region.clone(),
            arn,
        });
    }
    Ok(DecodeFunction {
        partition: partition.to_string(),
        account: account.to_string(),
        arn,
    })
}

/// The stage's log group, created when missing; it must accept subscription filters.
fn plan_log_group(
    plan: &mut StagePlan,
    st: &StageInfo,
    groups: &BTreeMap<String, LogGroupState>,
    opts: &EnableOptions,
) -> Result<(String, LogGroupState), Blocked> {
    let group = match target(st, opts) {
        Target::Elsewhere(destination) => return Err(Blocked::NotALogGroup { destination }),
        Target::Existing(g) | Target::New(g) => g,
    };
    let state = groups
        .get(&group)
        .cloned()
        .unwrap_or_else(|| LogGroupState::missing(&group));
    plan_group(plan, &state, opts.retention_days)?;
    Ok((group, state))
}

/// The stage's access-log destination and format: set when missing, replaced when asked.
fn plan_access_logging(
    plan: &mut StagePlan,
    st: &StageInfo,
    ctx: &RegionContext,
    opts: &EnableOptions,
    group: &str,
    function: &DecodeFunction,
) -> Result<(), Blocked> {
    let ours_format = recommended_format(st.stage.kind);
    if let Some(x) = &st.execution {
        let also = [
            (&x.standard_group, "execution"),
            (&x.delivery_group, "1 MB execution"),
        ];
        for (g, what) in also {
            if g.ours().next().is_some() {
                plan.notes.push(format!(
                    "also streamed from its {what} logs ({}): each request arrives twice; \
                     run disable, then enable, to stream the access log only",
                    g.name
                ));
            }
        }
    }
    let Some(al) = &st.access_log else {
        if st.stage.kind == ApiKind::Rest {
            plan_account_role(plan, st, ctx, opts, function, "REST access logging")?;
        }
        plan.changes.push(Change::SetAccessLogging {
            destination_arn: log_group_arn(
                &function.partition,
                &st.stage.region,
                &function.account,
                group,
            ),
            format: ours_format.to_string(),
            replaces: None,
        });
        return Ok(());
    };
    match al.format_class {
        Some(FormatClass::Recommended) => {}
        class if opts.set_format || class.is_none() => {
            plan.changes.push(Change::SetAccessLogging {
                destination_arn: al.destination_arn.clone(),
                format: ours_format.to_string(),
                replaces: al.format.clone(),
            });
        }
        Some(class) => {
            let hint = match class {
                FormatClass::Other => " (lines the decoder cannot read are counted as unparsed)",
                _ => "",
            };
            plan.notes.push(format!(
                "keeps its {class} access-log format{hint}; --set-format switches to the recommended one"
            ));
        }
        None => {}
    }
    Ok(())
}

/// Discover, plan and (with `apply`) enable the selected stages in every region.
pub async fn enable(
    base: &SdkConfig,
    regions: &[String],
    from_all: bool,
    selection: &Selection,
    opts: &EnableOptions,
    apply: bool,
) -> Report {
    let inventory = discover::discover_regions(base, regions, from_all, selection.kinds).await;
    enable_discovered(&inventory, &selection.selector, opts, apply).await
}

/// Plan and (with `apply`) enable the stages `selector` picks from an inventory already
/// discovered: what `enable` does after discovery, and what the auto-enable control function runs
/// for the stages its policy admits.
pub async fn enable_discovered(
    inventory: &discover::Inventory,
    selector: &super::select::Selector,
    opts: &EnableOptions,
    apply: bool,
) -> Report {
    let mut report = selector.start_report(inventory);

    for (clients, inv) in &inventory.regions {
        report
            .errors
            .extend(inv.errors.iter().map(|e| format!("{}: {e}", inv.region)));
        let (selected, _) = selector.apply(&inv.stages);
        if selected.is_empty() {
            continue;
        }
        let ctx = region_context(clients, &selected, opts).await;
        let mut groups: BTreeMap<String, LogGroupState> = inv
            .stages
            .iter()
            .filter_map(|s| s.log_group.clone())
            .map(|g| (g.name.clone(), g))
            .collect();
        for name in groups_to_read(&selected, opts) {
            if groups.contains_key(&name) {
                continue;
            }
            match read_log_group(&clients.logs, &name).await {
                Ok(state) => {
                    groups.insert(name, state);
                }
                Err(e) => report.errors.push(format!("{}: {e}", inv.region)),
            }
        }
        let plans = plan_region(&inv.stages, &selected, &groups, &ctx, opts);
        let outcomes = if apply {
            plan::apply(clients, plans).await
        } else {
            plan::dry_run(plans)
        };
        report.stages.extend(outcomes);
    }
    report
}

async fn region_context(
    clients: &RegionClients,
    selected: &[&StageInfo],
    opts: &EnableOptions,
) -> RegionContext {
    let mut function_arn = match &opts.function_arn {
        Some(a) => Ok(a.clone()),
        None => stack::decode_function_arn(&clients.cfn, &opts.stack_name)
            .await
            .map_err(|e| FunctionError::NotFound {
                cause: e.to_string(),
            }),
    };
    // (A CloudWatch Logs destination, `arn:…:logs:…:destination:…`, is no function to look up.)
    let same_region =
        |arn: &str| arn_parts(arn).is_some_and(|p| p.1 == "lambda" && p.2 == clients.region);
    if let Some(arn) = function_arn.as_ref().ok().filter(|a| same_region(a)) {
        // A missing function would fail every PutSubscriptionFilter; say so in the plan. Other
        // errors (e.g. no lambda:GetFunction permission) are left for the apply to meet.
        if let Err(e) = clients
            .lambda
            .get_function()
            .function_name(arn)
            .send()
            .await
        {
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception())
            {
                function_arn = Err(FunctionError::Missing {
                    arn: arn.clone(),
                    region: clients.region.clone(),
                });
            } else {
                tracing::debug!("GetFunction {arn}: {}", super::sdk_message(&e));
            }
        }
    }
    let needs_rest_logging = selected
        .iter()
        .any(|s| s.stage.kind == ApiKind::Rest && (opts.execution_logs || s.access_log.is_none()));
    let rest_logging_role = if needs_rest_logging {
        match account_role::is_set(clients).await {
            Ok(set) => Some(set),
            Err(e) => {
                tracing::warn!(region = %clients.region, "cannot read the API Gateway account settings: {e}");
                None
            }
        }
    } else {
        None
    };
    RegionContext {
        function_arn,
        rest_logging_role,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::ops::discover::{AccessLog, FilterInfo};
    use crate::control::ops::plan::Status;
    use crate::control::ops::{access_log, StageRef};

    const FN: &str = "arn:aws:lambda:us-east-1:123456789012:function:apigw-stream-decode";

    fn stage(kind: ApiKind, api: &str, st: &str, group: Option<&str>, format: &str) -> StageInfo {
        StageInfo {
            stage: StageRef {
                region: "us-east-1".into(),
                kind,
                api_id: api.into(),
                stage: st.into(),
            },
            api_name: None,
            access_log: group.map(|g| AccessLog {
                destination_arn: log_group_arn("aws", "us-east-1", "123456789012", g),
                log_group: Some(g.into()),
                format: Some(format.into()),
                format_class: Some(access_log::classify(format)),
            }),
            log_group: None,
            execution: None,
            streamed_from: Vec::new(),
            tags: Default::default(),
            enabled_by: None,
        }
    }

    fn group(name: &str, filters: &[(&str, &str)]) -> LogGroupState {
        LogGroupState {
            name: name.into(),
            exists: true,
            retention_days: Some(7),
            class: Some("STANDARD".into()),
            filters: filters
                .iter()
                .map(|(n, d)| FilterInfo {
                    name: n.to_string(),
                    destination_arn: Some(d.to_string()),
                    ours: crate::control::ops::is_ours(n),
                })
                .collect(),
        }
    }

    fn ctx() -> RegionContext {
        RegionContext {
            function_arn: Ok(FN.into()),
            rest_logging_role: Some(true),
        }
    }

    fn plan(
        all: &[StageInfo],
        groups: &[LogGroupState],
        ctx: &RegionContext,
        opts: &EnableOptions,
    ) -> Vec<StagePlan> {
        let selected: Vec<&StageInfo> = all.iter().collect();
        let groups = groups.iter().map(|g| (g.name.clone(), g.clone())).collect();
        plan_region(all, &selected, &groups, ctx, opts)
    }

    #[test]
    fn stage_without_logging_gets_group_filter_then_logging() {
        let all = [stage(ApiKind::Http, "h1", "$default", None, "")];
        let plans = plan(&all, &[], &ctx(), &EnableOptions::default());
        let g = default_log_group("h1", "$default");
        assert_eq!(
            plans[0].changes,
            vec![
                Change::CreateLogGroup {
                    log_group: g.clone(),
                    retention_days: 7
                },
                Change::PutSubscriptionFilter {
                    log_group: g.clone(),
                    filter_name: "apigw-stream/http/h1/$default".into(),
                    destination_arn: FN.into()
                },
                Change::SetAccessLogging {
                    destination_arn: format!("arn:aws:logs:us-east-1:123456789012:log-group:{g}"),
                    format: access_log::HTTP_FORMAT.into(),
                    replaces: None
                },
            ]
        );
        assert_eq!(plans[0].blocked, None);
    }

    /// A member account of a central pipeline: the filter names the central account's
    /// CloudWatch Logs destination, the access log goes to a group of the member's own account.
    #[test]
    fn a_central_destination_keeps_the_log_group_in_the_stages_account() {
        let destination = "arn:aws:logs:us-east-1:111122223333:destination:apigw-stream";
        let all = [stage(ApiKind::Http, "h1", "$default", None, "")];
        let ctx = RegionContext {
            function_arn: Ok(destination.into()),
            rest_logging_role: Some(true),
        };
        let opts = EnableOptions {
            account: Some("444455556666".into()),
            ..Default::default()
        };
        let plans = plan(&all, &[], &ctx, &opts);
        let g = default_log_group("h1", "$default");
        assert_eq!(plans[0].blocked, None);
        assert!(plans[0].changes.contains(&Change::PutSubscriptionFilter {
            log_group: g.clone(),
            filter_name: "apigw-stream/http/h1/$default".into(),
            destination_arn: destination.into()
        }));
        assert!(plans[0].changes.contains(&Change::SetAccessLogging {
            destination_arn: format!("arn:aws:logs:us-east-1:444455556666:log-group:{g}"),
            format: access_log::HTTP_FORMAT.into(),
            replaces: None
        }));
    }

    #[test]
    fn default_group_names_are_valid_log_group_names() {
        assert_eq!(
            default_log_group("h1", "$default"),
            "/aws/apigateway/apigw-stream/h1/_default"
        );
        assert_eq!(
            default_log_group("a1b2", "prod-2"),
            "/aws/apigateway/apigw-stream/a1b2/prod-2"
        );
    }

    #[test]
    fn enabled_stage_is_unchanged() {
        let all = [stage(
            ApiKind::Rest,
            "r1",
            "prod",
            Some("g"),
            access_log::REST_FORMAT,
        )];
        let plans = plan(
            &all,
            &[group("g", &[("apigw-stream/rest/r1/prod", FN)])],
            &ctx(),
            &EnableOptions::default(),
        );
        assert!(
            plans[0].changes.is_empty() && plans[0].blocked.is_none(),
            "{:?}",
            plans[0]
        );
        assert_eq!(plan::dry_run(plans)[0].status, Status::Unchanged);
    }

    #[test]
    fn two_foreign_filters_block_with_a_clear_message() {
        let all = [stage(
            ApiKind::Rest,
            "r1",
            "prod",
            Some("g"),
            access_log::REST_FORMAT,
        )];
        let g = group("g", &[("datadog", "arn:x"), ("splunk", "arn:y")]);
        let plans = plan(&all, &[g], &ctx(), &EnableOptions::default());
        let why = plans[0].blocked.as_deref().expect("blocked");
        assert!(
            why.contains("two subscription filters") && why.contains("datadog, splunk"),
            "{why}"
        );
    }

    #[test]
    fn one_foreign_filter_leaves_room_for_ours() {
        let all = [stage(
            ApiKind::Rest,
            "r1",
            "prod",
            Some("g"),
            access_log::REST_FORMAT,
        )];
        let plans = plan(
            &all,
            &[group("g", &[("datadog", "arn:x")])],
            &ctx(),
            &EnableOptions::default(),
        );
        assert!(matches!(
            plans[0].changes.as_slice(),
            [Change::PutSubscriptionFilter { .. }]
        ));
    }

    #[test]
    fn console_format_is_kept_unless_set_format() {
        let clf = "$context.identity.sourceIp $context.identity.caller $context.identity.user [$context.requestTime] \"$context.httpMethod $context.resourcePath $context.protocol\" $context.status $context.responseLength $context.requestId";
        let all = [stage(ApiKind::Rest, "r1", "prod", Some("g"), clf)];
        let groups = [group("g", &[("apigw-stream/rest/r1/prod", FN)])];
        let plans = plan(&all, &groups, &ctx(), &EnableOptions::default());
        assert!(plans[0].changes.is_empty());
        assert!(
            plans[0].notes[0].contains("console-clf"),
            "{:?}",
            plans[0].notes
        );
        let opts = EnableOptions {
            set_format: true,
            ..Default::default()
        };
        let plans = plan(&all, &groups, &ctx(), &opts);
        assert!(matches!(
            &plans[0].changes[..],
            [Change::SetAccessLogging { replaces: Some(old), .. }] if old == clf
        ));
    }

    #[test]
    fn shared_group_gets_one_shared_filter() {
        let all = [
            stage(ApiKind::Http, "h1", "a", None, ""),
            stage(ApiKind::Http, "h2", "b", None, ""),
        ];
        let opts = EnableOptions {
            http_log_group: Some("cequence-http-api-access-logs".into()),
            ..Default::default()
        };
        let plans = plan(&all, &[], &ctx(), &opts);
        for p in &plans {
            assert!(p.changes.contains(&Change::PutSubscriptionFilter {
                log_group: "cequence-http-api-access-logs".into(),
                filter_name: "apigw-stream/http/-/-".into(),
                destination_arn: FN.into(),
            }));
        }
    }

    #[test]
    fn rest_logging_without_account_role_is_blocked_and_other_problems_named() {
        let all = [stage(ApiKind::Rest, "r1", "prod", None, "")];
        let c = RegionContext {
            function_arn: Ok(FN.into()),
            rest_logging_role: Some(false),
        };
        let plans = plan(&all, &[], &c, &EnableOptions::default());
        assert!(plans[0]
            .blocked
            .as_deref()
            .unwrap()
            .contains("cloudwatchRoleArn"));

        let c = RegionContext {
            function_arn: Ok("arn:aws:lambda:eu-west-1:123456789012:function:d".into()),
            rest_logging_role: Some(true),
        };
        let plans = plan(&all, &[], &c, &EnableOptions::default());
        assert!(plans[0].blocked.as_deref().unwrap().contains("eu-west-1"));

        let c = RegionContext {
            function_arn: Err(FunctionError::NotFound {
                cause: "no export".into(),
            }),
            rest_logging_role: None,
        };
        let plans = plan(&all, &[], &c, &EnableOptions::default());
        assert!(plans[0].blocked.as_deref().unwrap().contains("no export"));
    }

    #[test]
    fn our_filter_to_another_function_is_repointed_in_place() {
        let all = [stage(
            ApiKind::Rest,
            "r1",
            "prod",
            Some("g"),
            access_log::REST_FORMAT,
        )];
        let g = group(
            "g",
            &[
                (
                    "apigw-stream/rest/r1/prod",
                    "arn:aws:lambda:us-east-1:1:function:old",
                ),
                ("x", "y"),
            ],
        );
        let plans = plan(&all, &[g], &ctx(), &EnableOptions::default());
        assert_eq!(
            plans[0].changes,
            vec![Change::PutSubscriptionFilter {
                log_group: "g".into(),
                filter_name: "apigw-stream/rest/r1/prod".into(),
                destination_arn: FN.into()
            }]
        );
    }
}
