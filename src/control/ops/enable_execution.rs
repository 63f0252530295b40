//! `enable --execution-logs [--large-bodies]` for one REST stage: stream its execution logs
//! (data tracing on) instead of its access log, so that each request becomes one transaction
//! with headers and bodies.
//!
//! Order of the changes: the account role, the log group and our filter on it (so the first
//! line is already streamed), the delivery destination, the method settings (a delivery source
//! needs logging on), the delivery source and the delivery, and last the removal of our filter
//! from the stage's other logs (a moment of overlap rather than a gap).

use std::collections::BTreeMap;

use super::discover::StageInfo;
use super::enable_steps::{
    plan_account_role, plan_filter, plan_group, Blocked, DecodeFunction, EnableOptions,
    RegionContext,
};
use super::execution::{
    delivery_name, delivery_resource_arn, stage_arn, ExecutionLogging, MethodLogging,
};
use super::log_group_arn;
use super::plan::{Change, StagePlan};
use crate::transaction::ApiKind;

/// Said in every plan that turns data tracing on (or finds it on).
pub const DATA_TRACE_WARNING: &str =
    "data tracing logs request and response headers and bodies to CloudWatch Logs: \
     ingestion and storage are billed per GB, and bodies may hold personal data and secrets \
     (API Gateway masks authorization headers and API keys, REDACT_HEADERS masks the headers it \
     names, bodies are not scrubbed)";

pub(crate) fn plan(
    plan: &mut StagePlan,
    st: &StageInfo,
    writers: &BTreeMap<String, usize>,
    ctx: &RegionContext,
    opts: &EnableOptions,
    function: &DecodeFunction,
) -> Result<(), Blocked> {
    if st.stage.kind != ApiKind::Rest {
        plan.notes.push(format!(
            "skipped: execution logs are REST-only here ({} APIs are streamed from their access log: \
             run enable without --execution-logs)",
            st.stage.kind
        ));
        return Ok(());
    }
    let Some(exec) = &st.execution else {
        return Err(Blocked::ExecutionUnread);
    };
    plan_account_role(plan, st, ctx, opts, function, "REST execution logging")?;

    let (ours, others) = if opts.large_bodies {
        (&exec.delivery_group, [&exec.standard_group])
    } else {
        (&exec.standard_group, [&exec.delivery_group])
    };
    plan_group(plan, ours, opts.retention_days)?;
    // One writer: the stage's own filter name, never the shared one.
    plan_filter(plan, st, &ours.name, ours, &BTreeMap::new(), &function.arn)?;

    let name = delivery_name(&st.stage.api_id, &st.stage.stage);
    if let (true, Some(why)) = (opts.large_bodies, &exec.delivery.unreadable) {
        return Err(Blocked::DeliveriesUnread { cause: why.clone() });
    }
    if opts.large_bodies {
        plan_destination(plan, st, exec, &name, &ours.name, function)?;
    }
    plan_method_settings(plan, st, exec, function);
    if opts.large_bodies {
        plan_source_and_delivery(plan, st, exec, &name, function)?;
        plan.notes.push(
            "API Gateway keeps writing the standard (1 KB) execution log group as well; only the 1 MB \
             delivery's group is streamed"
                .to_string(),
        );
    }
    for g in others {
        for f in g.ours() {
            plan.changes.push(Change::DeleteSubscriptionFilter {
                log_group: g.name.clone(),
                filter_name: f.name.clone(),
            });
        }
    }
    if opts.keep_access_logs {
        plan.notes.push(format!(
            "joined mode: the access-log filter stays; set JOIN_STAGES (stack parameter JoinStages) \
             to include {}/{} so its access-log record and execution logs become one transaction \
             (docs/stitching.md)",
            st.stage.api_id, st.stage.stage
        ));
    } else {
        plan_access_filter_removal(plan, st, writers);
    }
    Ok(())
}

fn plan_method_settings(
    plan: &mut StagePlan,
    st: &StageInfo,
    exec: &ExecutionLogging,
    function: &DecodeFunction,
) {
    let want = MethodLogging::streaming();
    let now = exec.method_or_off();
    if now != want {
        plan.changes.push(Change::SetMethodLogging {
            stage_arn: stage_arn(
                &function.partition,
                &st.stage.region,
                &st.stage.api_id,
                &st.stage.stage,
            ),
            settings: want,
            // An earlier run's record is the user's setting; ours would overwrite it.
            record_prior: exec.prior.is_none().then_some(now),
        });
    }
    plan.notes.push(DATA_TRACE_WARNING.to_string());
}

fn plan_destination(
    plan: &mut StagePlan,
    st: &StageInfo,
    exec: &ExecutionLogging,
    name: &str,
    group: &str,
    function: &DecodeFunction,
) -> Result<(), Blocked> {
    let group_arn = log_group_arn(
        &function.partition,
        &st.stage.region,
        &function.account,
        group,
    );
    let current = exec.delivery.destination.as_ref();
    if current.and_then(|d| d.resource_arn.as_deref()) != Some(group_arn.as_str()) {
        if let Some(d) = current {
            plan.notes.push(format!(
                "delivery destination {} delivered to {}; re-pointing it",
                d.name,
                d.resource_arn.as_deref().unwrap_or("?")
            ));
        }
        plan.changes.push(Change::PutDeliveryDestination {
            name: name.to_string(),
            log_group_arn: group_arn,
        });
    }
    Ok(())
}

fn plan_source_and_delivery(
    plan: &mut StagePlan,
    st: &StageInfo,
    exec: &ExecutionLogging,
    name: &str,
    function: &DecodeFunction,
) -> Result<(), Blocked> {
    match &exec.delivery.source {
        Some(s) if !s.ours => {
            return Err(Blocked::ForeignDeliverySource {
                source_name: s.name.clone(),
            });
        }
        Some(_) => {}
        None => plan.changes.push(Change::PutDeliverySource {
            name: name.to_string(),
            resource_arn: delivery_resource_arn(
                &function.partition,
                &st.stage.region,
                &function.account,
                &st.stage.api_id,
                &st.stage.stage,
            ),
        }),
    }
    if exec.delivery.delivery_id.is_none() {
        let template = match &exec.delivery.template {
            Some(Ok(t)) => Some(t),
            Some(Err(why)) => {
                plan.notes.push(format!(
                    "could not read what AWS allows for EXECUTION_LOGS deliveries ({why})"
                ));
                None
            }
            None => None,
        };
        let (record_fields, notes) = super::delivery::record_fields(template)?;
        plan.notes.extend(notes);
        plan.changes.push(Change::CreateDelivery {
            source_name: name.to_string(),
            destination_name: name.to_string(),
            record_fields,
        });
    }
    Ok(())
}

/// Our filter on the stage's access-log group goes, so one request is not two transactions;
/// a filter that serves other stages' access logs too stays, and the plan says so.
fn plan_access_filter_removal(
    plan: &mut StagePlan,
    st: &StageInfo,
    writers: &BTreeMap<String, usize>,
) {
    let Some(group) = &st.log_group else {
        return;
    };
    let shared = writers.get(&group.name).copied().unwrap_or(0) > 1;
    for f in group.ours() {
        if !shared {
            plan.changes.push(Change::DeleteSubscriptionFilter {
                log_group: group.name.clone(),
                filter_name: f.name.clone(),
            });
        } else {
            plan.notes.push(format!(
                "kept filter {} on {}: other stages' access logs go there too, so this stage's requests \
                 also arrive as access-log records (log this stage's access log elsewhere, or turn it off)",
                f.name, group.name
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::ops::discover::{AccessLog, FilterInfo, LogGroupState, StageInfo};
    use crate::control::ops::enable::plan_region;
    use crate::control::ops::execution::{
        delivery_group, standard_group, DeliveryState, DestinationInfo, SourceInfo,
    };
    use crate::control::ops::{access_log, StageRef};

    const FN: &str = "arn:aws:lambda:us-east-1:123456789012:function:apigw-stream-decode";

    fn group(name: &str, exists: bool, filters: &[&str]) -> LogGroupState {
        LogGroupState {
            name: name.into(),
            exists,
            retention_days: None,
            class: None,
            filters: filters
                .iter()
                .map(|n| FilterInfo {
                    name: n.to_string(),
                    destination_arn: Some(FN.into()),
                    ours: crate::control::ops::is_ours(n),
                })
                .collect(),
        }
    }

    /// A REST stage logging its access log to `g` with our filter on it.
    fn rest(api: &str, exec: ExecutionLogging) -> StageInfo {
        let g = "/access";
        StageInfo {
            stage: StageRef {
                region: "us-east-1".into(),
                kind: ApiKind::Rest,
                api_id: api.into(),
                stage: "prod".into(),
            },
            api_name: None,
            access_log: Some(AccessLog {
                destination_arn: log_group_arn("aws", "us-east-1", "123456789012", g),
                log_group: Some(g.into()),
                format: Some(access_log::REST_FORMAT.into()),
                format_class: Some(access_log::FormatClass::Recommended),
            }),
            log_group: Some(group(g, true, &[&format!("apigw-stream/rest/{api}/prod")])),
            execution: Some(exec),
            streamed_from: Vec::new(),
            tags: Default::default(),
            enabled_by: None,
        }
    }

    fn fresh(api: &str) -> ExecutionLogging {
        ExecutionLogging {
            method: None,
            prior: None,
            standard_group: group(&standard_group(api, "prod"), false, &[]),
            delivery_group: group(&delivery_group(api, "prod"), false, &[]),
            delivery: DeliveryState::default(),
        }
    }

    fn ctx(role: Option<bool>) -> RegionContext {
        RegionContext {
            function_arn: Ok(FN.into()),
            rest_logging_role: role,
        }
    }

    fn opts(large: bool, role: bool) -> EnableOptions {
        EnableOptions {
            execution_logs: true,
            large_bodies: large,
            create_account_role: role,
            ..Default::default()
        }
    }

    fn run(all: &[StageInfo], c: &RegionContext, o: &EnableOptions) -> Vec<StagePlan> {
        let selected: Vec<&StageInfo> = all.iter().collect();
        plan_region(all, &selected, &BTreeMap::new(), c, o)
    }

    #[test]
    fn keep_access_logs_leaves_the_access_filter_and_names_join_stages() {
        let all = [rest("r1", fresh("r1"))];
        let o = EnableOptions {
            keep_access_logs: true,
            ..opts(false, false)
        };
        let plans = run(&all, &ctx(Some(true)), &o);
        assert!(
            !plans[0].changes.iter().any(|c| matches!(
                c,
                Change::DeleteSubscriptionFilter { log_group, .. } if log_group == "/access"
            )),
            "{:?}",
            plans[0].changes
        );
        assert!(plans[0]
            .notes
            .iter()
            .any(|n| n.contains("JOIN_STAGES") && n.contains("r1/prod")));
    }

    #[test]
    fn execution_logs_in_order_and_the_access_filter_goes() {
        let all = [rest("r1", fresh("r1"))];
        let plans = run(&all, &ctx(Some(true)), &opts(false, false));
        let g = standard_group("r1", "prod");
        assert_eq!(plans[0].blocked, None);
        assert_eq!(
            plans[0].changes,
            vec![
                Change::CreateLogGroup {
                    log_group: g.clone(),
                    retention_days: 7
                },
                Change::PutSubscriptionFilter {
                    log_group: g.clone(),
                    filter_name: "apigw-stream/rest/r1/prod".into(),
                    destination_arn: FN.into()
                },
                Change::SetMethodLogging {
                    stage_arn: "arn:aws:apigateway:us-east-1::/restapis/r1/stages/prod".into(),
                    settings: MethodLogging::streaming(),
                    record_prior: Some(MethodLogging::off()),
                },
                Change::DeleteSubscriptionFilter {
                    log_group: "/access".into(),
                    filter_name: "apigw-stream/rest/r1/prod".into()
                },
            ]
        );
        assert!(
            plans[0].notes.iter().any(|n| n.contains("personal data")),
            "{:?}",
            plans[0].notes
        );
    }

    #[test]
    fn large_bodies_build_the_delivery_after_logging_is_on() {
        let all = [rest("r1", fresh("r1"))];
        let plans = run(&all, &ctx(Some(true)), &opts(true, false));
        let kinds: Vec<&str> = plans[0]
            .changes
            .iter()
            .map(|c| match c {
                Change::CreateLogGroup { .. } => "group",
                Change::PutSubscriptionFilter { .. } => "filter",
                Change::PutDeliveryDestination { .. } => "destination",
                Change::SetMethodLogging { .. } => "method",
                Change::PutDeliverySource { .. } => "source",
                Change::CreateDelivery { .. } => "delivery",
                Change::DeleteSubscriptionFilter { .. } => "unsubscribe",
                _ => "other",
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "group",
                "filter",
                "destination",
                "method",
                "source",
                "delivery",
                "unsubscribe"
            ]
        );
        assert!(plans[0].changes.contains(&Change::PutDeliverySource {
            name: delivery_name("r1", "prod"),
            resource_arn: "arn:aws:apigateway:us-east-1:123456789012:/restapis/r1/stages/prod"
                .into()
        }));
        assert!(plans[0].changes.contains(&Change::PutDeliveryDestination {
            name: delivery_name("r1", "prod"),
            log_group_arn: format!(
                "arn:aws:logs:us-east-1:123456789012:log-group:{}",
                delivery_group("r1", "prod")
            )
        }));
    }

    #[test]
    fn a_stage_already_done_plans_nothing() {
        let name = delivery_name("r1", "prod");
        let mut x = fresh("r1");
        x.method = Some(MethodLogging::streaming());
        x.prior = Some(MethodLogging::off());
        x.delivery_group = group(
            &delivery_group("r1", "prod"),
            true,
            &["apigw-stream/rest/r1/prod"],
        );
        x.delivery = DeliveryState {
            source: Some(SourceInfo {
                name: name.clone(),
                ours: true,
            }),
            destination: Some(DestinationInfo {
                name: name.clone(),
                arn: Some("arn:d".into()),
                resource_arn: Some(format!(
                    "arn:aws:logs:us-east-1:123456789012:log-group:{}",
                    delivery_group("r1", "prod")
                )),
            }),
            delivery_id: Some("d1".into()),
            unreadable: None,
            template: None,
        };
        let mut st = rest("r1", x);
        st.log_group = Some(group("/access", true, &[]));
        let plans = run(&[st], &ctx(Some(true)), &opts(true, false));
        assert!(plans[0].changes.is_empty(), "{:?}", plans[0].changes);
        assert!(plans[0].blocked.is_none());
    }

    #[test]
    fn switching_to_large_bodies_unsubscribes_the_standard_group() {
        let mut x = fresh("r1");
        x.standard_group = group(
            &standard_group("r1", "prod"),
            true,
            &["apigw-stream/rest/r1/prod", "datadog"],
        );
        x.method = Some(MethodLogging::streaming());
        x.prior = Some(MethodLogging::off());
        let plans = run(&[rest("r1", x)], &ctx(Some(true)), &opts(true, false));
        assert!(plans[0]
            .changes
            .contains(&Change::DeleteSubscriptionFilter {
                log_group: standard_group("r1", "prod"),
                filter_name: "apigw-stream/rest/r1/prod".into()
            }));
        assert!(
            !plans[0]
                .changes
                .iter()
                .any(|c| matches!(c, Change::SetMethodLogging { .. })),
            "settings already right"
        );
    }

    #[test]
    fn account_role_blocks_or_is_created() {
        let all = [rest("r1", fresh("r1"))];
        let plans = run(&all, &ctx(Some(false)), &opts(false, false));
        let why = plans[0].blocked.as_deref().expect("blocked");
        assert!(
            why.contains("--create-account-role") && why.contains("cloudwatchRoleArn"),
            "{why}"
        );
        let plans = run(&all, &ctx(Some(false)), &opts(false, true));
        assert_eq!(plans[0].blocked, None);
        assert_eq!(
            plans[0].changes[0],
            Change::CreateAccountRole {
                role_name: crate::control::ops::account_role::ROLE_NAME.into(),
                policy_arn:
                    "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
                        .into()
            }
        );
    }

    #[test]
    fn earlier_record_is_kept_and_foreign_sources_block() {
        let mut x = fresh("r1");
        x.method = Some(MethodLogging {
            logging_level: "ERROR".into(),
            data_trace: false,
        });
        x.prior = Some(MethodLogging::off());
        x.delivery.source = Some(SourceInfo {
            name: "theirs".into(),
            ours: false,
        });
        let plans = run(
            &[rest("r1", x.clone())],
            &ctx(Some(true)),
            &opts(false, false),
        );
        assert!(plans[0].changes.iter().any(|c| matches!(
            c,
            Change::SetMethodLogging {
                record_prior: None,
                ..
            }
        )));
        let plans = run(&[rest("r1", x)], &ctx(Some(true)), &opts(true, false));
        assert!(plans[0].blocked.as_deref().unwrap().contains("theirs"));
    }

    #[test]
    fn http_is_skipped_with_a_reason_and_shared_access_filters_stay() {
        let mut http = rest("h1", fresh("h1"));
        http.stage.kind = ApiKind::Http;
        http.execution = None;
        let a = rest("r1", fresh("r1"));
        let mut b = rest("r2", fresh("r2"));
        // r1 and r2 share /access and its shared filter.
        let shared = group("/access", true, &["apigw-stream/rest/-/-"]);
        let mut a2 = a.clone();
        a2.log_group = Some(shared.clone());
        b.log_group = Some(shared);
        let all = [http, a2, b];
        let plans = run(&all[..2], &ctx(Some(true)), &opts(false, false));
        assert!(plans[0].changes.is_empty());
        assert!(
            plans[0].notes[0].contains("REST-only"),
            "{:?}",
            plans[0].notes
        );
        let selected = vec![&all[1]];
        let plans = plan_region(
            &all,
            &selected,
            &BTreeMap::new(),
            &ctx(Some(true)),
            &opts(false, false),
        );
        assert!(!plans[0]
            .changes
            .iter()
            .any(|c| matches!(c, Change::DeleteSubscriptionFilter { .. })));
        assert!(plans[0].notes.iter().any(|n| n.contains("kept filter")));
    }

    #[test]
    fn a_full_execution_group_points_to_large_bodies() {
        let mut x = fresh("r1");
        x.standard_group = group(&standard_group("r1", "prod"), true, &["datadog", "splunk"]);
        let plans = run(
            &[rest("r1", x.clone())],
            &ctx(Some(true)),
            &opts(false, false),
        );
        let why = plans[0].blocked.as_deref().expect("blocked");
        assert!(
            why.contains("--large-bodies") && why.contains("datadog, splunk"),
            "{why}"
        );
        // The 1 MB delivery's group is ours and free: the same stage goes through.
        let plans = run(&[rest("r1", x)], &ctx(Some(true)), &opts(true, false));
        assert_eq!(plans[0].blocked, None);
    }

    #[test]
    fn unreadable_deliveries_block_only_the_1mb_mode() {
        let mut x = fresh("r1");
        x.delivery.unreadable = Some("AccessDeniedException: no".into());
        let plans = run(
            &[rest("r1", x.clone())],
            &ctx(Some(true)),
            &opts(true, false),
        );
        let why = plans[0].blocked.as_deref().expect("blocked");
        assert!(why.contains("AccessDeniedException"), "{why}");
        let plans = run(&[rest("r1", x)], &ctx(Some(true)), &opts(false, false));
        assert_eq!(plans[0].blocked, None);
    }
}
