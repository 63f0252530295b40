//! `disable`: remove our subscription filters from the selected stages' log groups, our 1 MB
//! execution-log deliveries, put back the method settings `enable --execution-logs` recorded and,
//! with `--restore-logging`, remove the access-log settings `enable` set. Foreign filters,
//! deliveries, log groups, formats we did not set, and the account's CloudWatch Logs role (other
//! APIs rely on it) are never touched.

use std::collections::BTreeMap;

use aws_config::SdkConfig;

use super::access_log::FormatClass;
use super::discover::{self, StageInfo};
use super::execution::{stage_arn, ExecutionLogging};
use super::plan::{self, Change, Report, StagePlan};
use super::regions;
use super::select::Selection;
use super::StageRef;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DisableOptions {
    /// Also turn off access logging where its format is the one `enable` sets.
    pub restore_logging: bool,
}

/// Plan one region. A filter on a group other stages still write to is kept: removing it would
/// stop their stream too.
pub fn plan_region(
    all: &[StageInfo],
    selected: &[&StageInfo],
    opts: &DisableOptions,
) -> Vec<StagePlan> {
    let mut writers: BTreeMap<&str, Vec<&StageRef>> = BTreeMap::new();
    for st in all {
        if let Some(g) = st.access_log.as_ref().and_then(|a| a.log_group.as_deref()) {
            writers.entry(g).or_default().push(&st.stage);
        }
    }
    selected
        .iter()
        .map(|st| {
            let mut plan = StagePlan::new(st.stage.clone());
            if let Some(exec) = &st.execution {
                plan_execution(&mut plan, &st.stage, exec);
            }
            let Some(al) = &st.access_log else {
                return plan;
            };
            if let Some(state) = &st.log_group {
                let others: Vec<String> = writers
                    .get(state.name.as_str())
                    .map(|w| {
                        w.iter()
                            .filter(|s| !selected.iter().any(|sel| sel.stage == ***s))
                            .map(|s| format!("{}/{}", s.api_id, s.stage))
                            .collect()
                    })
                    .unwrap_or_default();
                for f in state.ours() {
                    if others.is_empty() {
                        plan.changes.push(Change::DeleteSubscriptionFilter {
                            log_group: state.name.clone(),
                            filter_name: f.name.clone(),
                        });
                    } else {
                        plan.notes.push(format!(
                            "kept filter {} on {}: the group is also written by {} (not selected)",
                            f.name,
                            state.name,
                            others.join(", ")
                        ));
                    }
                }
            }
            if opts.restore_logging {
                if al.format_class == Some(FormatClass::Recommended) {
                    plan.changes.push(Change::RemoveAccessLogging {
                        destination_arn: al.destination_arn.clone(),
                    });
                } else {
                    plan.notes.push(
                        "access logging left on: its format is not the one enable sets".to_string(),
                    );
                }
            }
            plan
        })
        .collect()
}

/// Undo `enable --execution-logs`: our filters on the execution groups, our 1 MB delivery (the
/// delivery into our destination, our source, our destination; the log groups are kept), and the
/// method settings from the stage tag. Data tracing is switched back even without
/// `--restore-logging`: it is what costs and what logs bodies.
fn plan_execution(plan: &mut StagePlan, stage: &StageRef, exec: &ExecutionLogging) {
    for g in [&exec.standard_group, &exec.delivery_group] {
        for f in g.ours() {
            plan.changes.push(Change::DeleteSubscriptionFilter {
                log_group: g.name.clone(),
                filter_name: f.name.clone(),
            });
        }
    }
    let d = &exec.delivery;
    if let Some(why) = &d.unreadable {
        plan.notes.push(format!(
            "could not read the region's log deliveries ({why}): a 1 MB delivery of this stage, if any, is left in place"
        ));
    }
    if let Some(id) = &d.delivery_id {
        plan.changes.push(Change::DeleteDelivery { id: id.clone() });
    }
    if let Some(s) = d.source.as_ref().filter(|s| s.ours) {
        plan.changes.push(Change::DeleteDeliverySource {
            name: s.name.clone(),
        });
    }
    if let Some(dest) = &d.destination {
        plan.changes.push(Change::DeleteDeliveryDestination {
            name: dest.name.clone(),
        });
    }
    if let Some(prior) = &exec.prior {
        plan.changes.push(Change::RestoreMethodLogging {
            stage_arn: stage_arn(
                regions::partition(&stage.region),
                &stage.region,
                &stage.api_id,
                &stage.stage,
            ),
            settings: prior.clone(),
        });
    }
}

/// Discover, plan and (with `apply`) disable the selected stages in every region.
pub async fn disable(
    base: &SdkConfig,
    regions: &[String],
    from_all: bool,
    selection: &Selection,
    opts: &DisableOptions,
    apply: bool,
) -> Report {
    let inventory = discover::discover_regions(base, regions, from_all, selection.kinds).await;
    let mut report = selection.selector.start_report(&inventory);
    for (clients, inv) in &inventory.regions {
        report
            .errors
            .extend(inv.errors.iter().map(|e| format!("{}: {e}", inv.region)));
        let (selected, _) = selection.selector.apply(&inv.stages);
        let plans = plan_region(&inv.stages, &selected, opts);
        report.stages.extend(if apply {
            plan::apply(clients, plans).await
        } else {
            plan::dry_run(plans)
        });
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::ops::access_log::{classify, REST_FORMAT};
    use crate::control::ops::discover::{AccessLog, FilterInfo, LogGroupState};
    use crate::transaction::ApiKind;

    fn stage(api: &str, group: &str, format: &str, filters: &[&str]) -> StageInfo {
        StageInfo {
            stage: StageRef {
                region: "us-east-1".into(),
                kind: ApiKind::Rest,
                api_id: api.into(),
                stage: "prod".into(),
            },
            api_name: None,
            access_log: Some(AccessLog {
                destination_arn: format!("arn:aws:logs:us-east-1:1:log-group:{group}"),
                log_group: Some(group.into()),
                format: Some(format.into()),
                format_class: Some(classify(format)),
            }),
            log_group: Some(LogGroupState {
                name: group.into(),
                exists: true,
                retention_days: None,
                class: None,
                filters: filters
                    .iter()
                    .map(|n| FilterInfo {
                        name: n.to_string(),
                        destination_arn: None,
                        ours: crate::control::ops::is_ours(n),
                    })
                    .collect(),
            }),
            execution: None,
            streamed_from: Vec::new(),
            tags: Default::default(),
            enabled_by: None,
        }
    }

    #[test]
    fn removes_only_ours() {
        let all = [stage(
            "a",
            "g",
            REST_FORMAT,
            &["apigw-stream/rest/a/prod", "datadog"],
        )];
        let sel: Vec<&StageInfo> = all.iter().collect();
        let plans = plan_region(&all, &sel, &DisableOptions::default());
        assert_eq!(
            plans[0].changes,
            vec![Change::DeleteSubscriptionFilter {
                log_group: "g".into(),
                filter_name: "apigw-stream/rest/a/prod".into()
            }]
        );
        let plans = plan_region(
            &all,
            &sel,
            &DisableOptions {
                restore_logging: true,
            },
        );
        assert!(matches!(
            plans[0].changes.last(),
            Some(Change::RemoveAccessLogging { .. })
        ));
    }

    #[test]
    fn shared_group_filter_kept_while_others_write_to_it() {
        let all = [
            stage("a", "shared", REST_FORMAT, &["apigw-stream/rest/-/-"]),
            stage("b", "shared", REST_FORMAT, &["apigw-stream/rest/-/-"]),
        ];
        let plans = plan_region(&all, &[&all[0]], &DisableOptions::default());
        assert!(plans[0].changes.is_empty());
        assert!(plans[0].notes[0].contains("b/prod"), "{:?}", plans[0].notes);
        let both: Vec<&StageInfo> = all.iter().collect();
        let plans = plan_region(&all, &both, &DisableOptions::default());
        assert!(plans.iter().all(|p| p.changes.len() == 1));
    }

    #[test]
    fn foreign_format_is_not_removed() {
        let all = [stage("a", "g", "$context.requestId", &[])];
        let sel: Vec<&StageInfo> = all.iter().collect();
        let plans = plan_region(
            &all,
            &sel,
            &DisableOptions {
                restore_logging: true,
            },
        );
        assert!(plans[0].changes.is_empty());
        assert_eq!(plans[0].notes.len(), 1);
    }

    #[test]
    fn execution_undo_removes_ours_and_restores_the_recorded_settings() {
        use crate::control::ops::execution::{
            delivery_group, standard_group, DeliveryState, DestinationInfo, MethodLogging,
            SourceInfo,
        };
        let group = |name: String, filters: &[&str]| LogGroupState {
            name,
            exists: true,
            retention_days: None,
            class: None,
            filters: filters
                .iter()
                .map(|n| FilterInfo {
                    name: n.to_string(),
                    destination_arn: None,
                    ours: crate::control::ops::is_ours(n),
                })
                .collect(),
        };
        let mut st = stage("a", "g", REST_FORMAT, &[]);
        st.execution = Some(ExecutionLogging {
            method: Some(MethodLogging::streaming()),
            prior: Some(MethodLogging {
                logging_level: "ERROR".into(),
                data_trace: false,
            }),
            standard_group: group(standard_group("a", "prod"), &["datadog"]),
            delivery_group: group(delivery_group("a", "prod"), &["apigw-stream/rest/a/prod"]),
            delivery: DeliveryState {
                source: Some(SourceInfo {
                    name: "apigw-stream-a-prod".into(),
                    ours: true,
                }),
                destination: Some(DestinationInfo {
                    name: "apigw-stream-a-prod".into(),
                    arn: None,
                    resource_arn: None,
                }),
                delivery_id: Some("d1".into()),
                unreadable: None,
                template: None,
            },
        });
        let all = [st];
        let sel: Vec<&StageInfo> = all.iter().collect();
        let plans = plan_region(&all, &sel, &DisableOptions::default());
        assert_eq!(
            plans[0].changes,
            vec![
                Change::DeleteSubscriptionFilter {
                    log_group: delivery_group("a", "prod"),
                    filter_name: "apigw-stream/rest/a/prod".into()
                },
                Change::DeleteDelivery { id: "d1".into() },
                Change::DeleteDeliverySource {
                    name: "apigw-stream-a-prod".into()
                },
                Change::DeleteDeliveryDestination {
                    name: "apigw-stream-a-prod".into()
                },
                Change::RestoreMethodLogging {
                    stage_arn: "arn:aws:apigateway:us-east-1::/restapis/a/stages/prod".into(),
                    settings: MethodLogging {
                        logging_level: "ERROR".into(),
                        data_trace: false
                    }
                },
            ]
        );
    }
}
