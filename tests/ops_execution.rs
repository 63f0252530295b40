//! `enable --execution-logs` (`--large-bodies`, `--create-account-role`), `disable` and `apis`
//! against moto's server. Truth is what moto holds: stage method settings and tags, log groups
//! and their filters, delivery destinations, the IAM role and API Gateway's account.
//!
//! moto 5.2 refuses `PutDeliverySource` for API Gateway and has no `DescribeConfigurationTemplates`:
//! the large-bodies tests run moto's server with those two added (`tests/moto/moto_server_ext.py`),
//! everything else as moto has it.
#![cfg(feature = "cli")]

mod common;
mod ops_support;

use apigw_stream::control::ops::disable::{self, DisableOptions};
use apigw_stream::control::ops::discover::{discover_regions, Kinds, StageInfo};
use apigw_stream::control::ops::enable::{self, EnableOptions};
use apigw_stream::control::ops::execution::{
    delivery_group, delivery_name, standard_group, StreamSource, PRIOR_TAG,
};
use apigw_stream::control::ops::plan::{Change, Report, Status};
use apigw_stream::control::ops::select::{ApiSelector, Selection, Selector};
use apigw_stream::decode::execution::delivery::RECORD_FIELDS;
use aws_sdk_apigateway::types::{Op, PatchOperation};
use ops_support::*;

fn regions() -> Vec<String> {
    vec![REGION.to_string()]
}

fn one(api: &str) -> Selection {
    Selection {
        selector: Selector::Apis(vec![ApiSelector::one(api, None)]),
        kinds: Kinds::default(),
    }
}

fn execution(large: bool, role: bool) -> EnableOptions {
    EnableOptions {
        execution_logs: true,
        large_bodies: large,
        create_account_role: role,
        ..Default::default()
    }
}

/// The `*/*` method settings as moto holds them: (loggingLevel, dataTraceEnabled).
async fn method_settings(
    conf: &aws_config::SdkConfig,
    api: &str,
    stage: &str,
) -> Option<(String, bool)> {
    let st = aws_sdk_apigateway::Client::new(conf)
        .get_stage()
        .rest_api_id(api)
        .stage_name(stage)
        .send()
        .await
        .expect("get stage");
    st.method_settings().and_then(|m| m.get("*/*")).map(|s| {
        (
            s.logging_level().unwrap_or("OFF").to_string(),
            s.data_trace_enabled(),
        )
    })
}

async fn stage_tag(conf: &aws_config::SdkConfig, api: &str, stage: &str) -> Option<String> {
    let st = aws_sdk_apigateway::Client::new(conf)
        .get_stage()
        .rest_api_id(api)
        .stage_name(stage)
        .send()
        .await
        .expect("get stage");
    st.tags().and_then(|t| t.get(PRIOR_TAG)).cloned()
}

async fn set_method_settings(conf: &aws_config::SdkConfig, api: &str, stage: &str, level: &str) {
    aws_sdk_apigateway::Client::new(conf)
        .update_stage()
        .rest_api_id(api)
        .stage_name(stage)
        .patch_operations(
            PatchOperation::builder()
                .op(Op::Replace)
                .path("/*/*/logging/loglevel")
                .value(level)
                .build(),
        )
        .send()
        .await
        .expect("user's own method settings");
}

async fn group_exists(conf: &aws_config::SdkConfig, name: &str) -> Option<i32> {
    let resp = aws_sdk_cloudwatchlogs::Client::new(conf)
        .describe_log_groups()
        .log_group_name_prefix(name)
        .send()
        .await
        .expect("describe log groups");
    resp.log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(name))
        .map(|g| g.retention_in_days().unwrap_or(0))
}

async fn find(conf: &aws_config::SdkConfig, api: &str, stage: &str) -> StageInfo {
    let inv = discover_regions(conf, &regions(), false, Kinds::default()).await;
    assert!(
        inv.regions[0].1.errors.is_empty(),
        "{:?}",
        inv.regions[0].1.errors
    );
    inv.regions
        .into_iter()
        .flat_map(|(_, i)| i.stages)
        .find(|s| s.stage.api_id == api && s.stage.stage == stage)
        .unwrap_or_else(|| panic!("{api}/{stage} not discovered"))
}

fn outcome<'a>(
    report: &'a Report,
    stage: &str,
) -> &'a apigw_stream::control::ops::plan::StageOutcome {
    report
        .stages
        .iter()
        .find(|s| s.stage.stage == stage)
        .unwrap_or_else(|| panic!("no outcome for {stage}: {report:#?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn execution_logs_enable_twice_then_disable_restores() {
    let moto = common::Moto::start();
    let conf = moto.sdk_config();
    let p = deploy_pipeline(&conf).await;
    set_apigateway_logging_role(&conf).await;
    let api = rest_api(&conf, "pets", &["prod", "dev"]).await;
    // The user already logs errors on dev: that is what disable must put back.
    set_method_settings(&conf, &api, "dev", "ERROR").await;
    // Both stages streamed from their access logs first.
    let report = enable::enable(
        &conf,
        &regions(),
        false,
        &one(&api),
        &EnableOptions::default(),
        true,
    )
    .await;
    assert_eq!(report.failures(), 0, "{report:#?}");
    let access_group = apigw_stream::control::ops::enable::default_log_group(&api, "prod");
    assert_eq!(filters(&conf, &access_group).await.len(), 1);

    // The plan changes nothing in moto, and says what it would do.
    let opts = execution(false, false);
    let plan = enable::enable(&conf, &regions(), false, &one(&api), &opts, false).await;
    assert_eq!(plan.failures(), 0, "{plan:#?}");
    assert_eq!(plan.count(Status::Planned), 2);
    let prod = outcome(&plan, "prod");
    assert!(prod.changes.contains(&Change::DeleteSubscriptionFilter {
        log_group: access_group.clone(),
        filter_name: format!("apigw-stream/rest/{api}/prod"),
    }));
    assert!(prod.notes.iter().any(|n| n.contains("personal data")));
    assert_eq!(method_settings(&conf, &api, "prod").await, None);
    assert_eq!(
        group_exists(&conf, &standard_group(&api, "prod")).await,
        None
    );

    // Apply.
    let report = enable::enable(&conf, &regions(), false, &one(&api), &opts, true).await;
    assert_eq!(report.failures(), 0, "{report:#?}");
    assert_eq!(report.count(Status::Changed), 2);
    for stage in ["prod", "dev"] {
        assert_eq!(
            method_settings(&conf, &api, stage).await,
            Some(("INFO".to_string(), true)),
            "{stage}"
        );
        let g = standard_group(&api, stage);
        assert_eq!(group_exists(&conf, &g).await, Some(7), "{g} with retention");
        assert_eq!(
            filters(&conf, &g).await,
            vec![(
                format!("apigw-stream/rest/{api}/{stage}"),
                p.function_arn.clone()
            )]
        );
        let access = apigw_stream::control::ops::enable::default_log_group(&api, stage);
        assert!(
            filters(&conf, &access).await.is_empty(),
            "{stage}: the access-log filter is gone, one request is one transaction"
        );
    }
    assert_eq!(
        stage_tag(&conf, &api, "prod").await.as_deref(),
        Some("loggingLevel=OFF dataTrace=false")
    );
    assert_eq!(
        stage_tag(&conf, &api, "dev").await.as_deref(),
        Some("loggingLevel=ERROR dataTrace=false")
    );
    let st = find(&conf, &api, "prod").await;
    assert_eq!(st.streamed_from, vec![StreamSource::Execution]);

    // A second run changes nothing.
    let again = enable::enable(&conf, &regions(), false, &one(&api), &opts, true).await;
    assert_eq!(again.failures(), 0, "{again:#?}");
    assert_eq!(again.count(Status::Unchanged), 2, "{again:#?}");
    assert_eq!(find(&conf, &api, "prod").await, st);

    // `apis` shows the mode and the data tracing.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_apigw-stream"))
        .args(["apis", "--endpoint-url", &moto.endpoint, "--region", REGION])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("run apis");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{table}");
    assert!(table.contains("MODE"), "{table}");
    let line = table
        .lines()
        .find(|l| l.contains(&api) && l.contains(" prod "))
        .expect("prod line");
    assert!(
        line.contains("execution") && line.contains("INFO, data trace on"),
        "{line}"
    );

    // disable: our filters go, the method settings come back as they were, the record goes.
    let report = disable::disable(
        &conf,
        &regions(),
        false,
        &one(&api),
        &DisableOptions::default(),
        true,
    )
    .await;
    assert_eq!(report.failures(), 0, "{report:#?}");
    assert_eq!(
        method_settings(&conf, &api, "prod").await,
        Some(("OFF".to_string(), false))
    );
    assert_eq!(
        method_settings(&conf, &api, "dev").await,
        Some(("ERROR".to_string(), false))
    );
    for stage in ["prod", "dev"] {
        assert_eq!(stage_tag(&conf, &api, stage).await, None, "{stage}");
        assert!(filters(&conf, &standard_group(&api, stage))
            .await
            .is_empty());
    }
    assert!(find(&conf, &api, "prod").await.streamed_from.is_empty());
    // And a disable after that has nothing left to do.
    let report = disable::disable(
        &conf,
        &regions(),
        false,
        &one(&api),
        &DisableOptions::default(),
        false,
    )
    .await;
    assert_eq!(report.count(Status::Unchanged), 2, "{report:#?}");
}

/// `--large-bodies` on moto's server with its CloudWatch Logs additions
/// (`tests/moto/moto_server_ext.py`: API Gateway as a delivery source, the configuration
/// template): the plan shows what AWS allows, the apply creates the destination with output
/// format json and the delivery with every record field, a rerun has nothing to do, and
/// `disable` removes the delivery, the source and the destination.
#[tokio::test(flavor = "multi_thread")]
async fn large_bodies_create_the_delivery_in_the_shape_we_parse() {
    let moto = common::Moto::start_ext(&[]);
    let conf = moto.sdk_config();
    let p = deploy_pipeline(&conf).await;
    set_apigateway_logging_role(&conf).await;
    let api = rest_api(&conf, "orders", &["prod"]).await;
    let opts = execution(true, false);
    let name = delivery_name(&api, "prod");
    let group = delivery_group(&api, "prod");
    let fields: Vec<String> = RECORD_FIELDS.iter().map(|f| f.to_string()).collect();

    let plan = enable::enable(&conf, &regions(), false, &one(&api), &opts, false).await;
    assert_eq!(plan.failures(), 0, "{plan:#?}");
    let prod = outcome(&plan, "prod");
    assert!(prod.changes.contains(&Change::PutDeliverySource {
        name: name.clone(),
        resource_arn: format!("arn:aws:apigateway:{REGION}:{ACCOUNT}:/restapis/{api}/stages/prod"),
    }));
    assert!(prod.changes.contains(&Change::CreateDelivery {
        source_name: name.clone(),
        destination_name: name.clone(),
        record_fields: fields.clone(),
    }));
    assert!(
        prod.notes
            .iter()
            .any(|n| n.contains("AWS offers these record fields") && n.contains("payload")),
        "{:#?}",
        prod.notes
    );

    let report = enable::enable(&conf, &regions(), false, &one(&api), &opts, true).await;
    assert_eq!(report.failures(), 0, "{report:#?}");
    // What moto holds: our group with our filter, the destination into it (json), the delivery
    // from the stage's source with every record field, logging on.
    assert_eq!(
        filters(&conf, &group).await,
        vec![(
            format!("apigw-stream/rest/{api}/prod"),
            p.function_arn.clone()
        )]
    );
    let logs = aws_sdk_cloudwatchlogs::Client::new(&conf);
    let dest = logs
        .get_delivery_destination()
        .name(&name)
        .send()
        .await
        .expect("destination in moto");
    let dest = dest.delivery_destination().expect("a destination");
    assert_eq!(
        dest.delivery_destination_configuration()
            .map(|c| c.destination_resource_arn()),
        Some(format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}").as_str())
    );
    assert_eq!(dest.output_format().map(|f| f.as_str()), Some("json"));
    let deliveries = logs.describe_deliveries().send().await.expect("deliveries");
    let ours: Vec<_> = deliveries
        .deliveries()
        .iter()
        .filter(|d| d.delivery_source_name() == Some(name.as_str()))
        .collect();
    assert_eq!(ours.len(), 1, "{deliveries:#?}");
    assert_eq!(ours[0].record_fields(), fields.as_slice());
    assert_eq!(ours[0].delivery_destination_arn(), dest.arn());
    assert_eq!(
        method_settings(&conf, &api, "prod").await,
        Some(("INFO".to_string(), true))
    );
    // The standard group is not subscribed in this mode.
    assert_eq!(
        group_exists(&conf, &standard_group(&api, "prod")).await,
        None
    );
    let st = find(&conf, &api, "prod").await;
    assert_eq!(st.streamed_from, vec![StreamSource::Execution1Mb]);

    // A rerun has nothing left to do.
    let plan = enable::enable(&conf, &regions(), false, &one(&api), &opts, false).await;
    assert!(outcome(&plan, "prod").changes.is_empty(), "{plan:#?}");

    let report = disable::disable(
        &conf,
        &regions(),
        false,
        &one(&api),
        &DisableOptions::default(),
        true,
    )
    .await;
    assert_eq!(report.failures(), 0, "{report:#?}");
    assert!(filters(&conf, &group).await.is_empty());
    let gone = logs.get_delivery_destination().name(&name).send().await;
    assert!(gone.is_err(), "destination deleted");
    assert!(logs.get_delivery_source().name(&name).send().await.is_err());
    let left = logs.describe_deliveries().send().await.expect("deliveries");
    assert!(left.deliveries().is_empty(), "{left:#?}");
    assert_eq!(
        method_settings(&conf, &api, "prod").await,
        Some(("OFF".to_string(), false))
    );
    assert!(
        group_exists(&conf, &group).await.is_some(),
        "log groups are kept"
    );
}

/// What AWS allows decides: a field the decoder needs that AWS no longer offers stops the plan
/// with the cause; a field AWS offers that the decoder does not know is created and warned about.
#[tokio::test(flavor = "multi_thread")]
async fn large_bodies_check_the_fields_aws_allows() {
    let without_payload = RECORD_FIELDS
        .iter()
        .filter(|f| **f != "payload")
        .copied()
        .collect::<Vec<_>>()
        .join(",");
    let moto = common::Moto::start_ext(&[("APIGW_TEMPLATE_FIELDS", &without_payload)]);
    let conf = moto.sdk_config();
    deploy_pipeline(&conf).await;
    set_apigateway_logging_role(&conf).await;
    let api = rest_api(&conf, "orders", &["prod"]).await;
    let plan = enable::enable(
        &conf,
        &regions(),
        false,
        &one(&api),
        &execution(true, false),
        true,
    )
    .await;
    let prod = outcome(&plan, "prod");
    assert_ne!(prod.status, Status::Changed, "{plan:#?}");
    let err = prod.error.as_deref().unwrap_or_default();
    assert!(
        err.contains("payload") && err.contains("no longer offers"),
        "{plan:#?}"
    );
    let logs = aws_sdk_cloudwatchlogs::Client::new(&conf);
    assert!(logs
        .describe_deliveries()
        .send()
        .await
        .unwrap()
        .deliveries()
        .is_empty());

    let more = format!("{},request_id", RECORD_FIELDS.join(","));
    let moto = common::Moto::start_ext(&[("APIGW_TEMPLATE_FIELDS", &more)]);
    let conf = moto.sdk_config();
    deploy_pipeline(&conf).await;
    set_apigateway_logging_role(&conf).await;
    let api = rest_api(&conf, "orders", &["prod"]).await;
    let report = enable::enable(
        &conf,
        &regions(),
        false,
        &one(&api),
        &execution(true, false),
        true,
    )
    .await;
    assert_eq!(report.failures(), 0, "{report:#?}");
    let prod = outcome(&report, "prod");
    assert!(
        prod.notes
            .iter()
            .any(|n| n.starts_with("warning") && n.contains("request_id")),
        "{:#?}",
        prod.notes
    );
    let logs = aws_sdk_cloudwatchlogs::Client::new(&conf);
    let d = logs.describe_deliveries().send().await.unwrap();
    assert_eq!(d.deliveries().len(), 1);
    assert!(d.deliveries()[0]
        .record_fields()
        .iter()
        .any(|f| f == "request_id"));
}

/// `--create-account-role`: without it a missing account role blocks with the way out; with it
/// the role is made in IAM and set on API Gateway's account; a second run leaves it.
#[tokio::test(flavor = "multi_thread")]
async fn account_role_created_only_when_missing() {
    // moto loads the AWS managed policies (the role's policy) only when asked.
    let moto = common::Moto::start_with(&[("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")]);
    let conf = moto.sdk_config();
    deploy_pipeline(&conf).await;
    let api = rest_api(&conf, "pets", &["prod"]).await;
    let apigw = aws_sdk_apigateway::Client::new(&conf);
    let account_role = || async {
        apigw
            .get_account()
            .send()
            .await
            .expect("get account")
            .cloudwatch_role_arn()
            .map(str::to_string)
    };
    assert_eq!(account_role().await, None);

    let report = enable::enable(
        &conf,
        &regions(),
        false,
        &one(&api),
        &execution(false, false),
        true,
    )
    .await;
    let prod = outcome(&report, "prod");
    assert_eq!(prod.status, Status::Blocked);
    let why = prod.error.as_deref().unwrap();
    assert!(why.contains("--create-account-role"), "{why}");
    assert_eq!(method_settings(&conf, &api, "prod").await, None);

    let opts = execution(false, true);
    let report = enable::enable(&conf, &regions(), false, &one(&api), &opts, true).await;
    assert_eq!(report.failures(), 0, "{report:#?}");
    let iam = aws_sdk_iam::Client::new(&conf);
    let role = iam
        .get_role()
        .role_name(apigw_stream::control::ops::account_role::ROLE_NAME)
        .send()
        .await
        .expect("role in moto");
    let role_arn = role.role().map(|r| r.arn().to_string());
    assert!(role
        .role()
        .and_then(|r| r.assume_role_policy_document())
        .is_some_and(|d| d.contains("apigateway.amazonaws.com")));
    let attached = iam
        .list_attached_role_policies()
        .role_name(apigw_stream::control::ops::account_role::ROLE_NAME)
        .send()
        .await
        .expect("attached policies");
    assert!(attached.attached_policies().iter().any(|p| p.policy_arn()
        == Some("arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs")));
    assert_eq!(account_role().await, role_arn);
    assert_eq!(
        method_settings(&conf, &api, "prod").await,
        Some(("INFO".to_string(), true))
    );

    let again = enable::enable(&conf, &regions(), false, &one(&api), &opts, false).await;
    assert_eq!(again.count(Status::Unchanged), 1, "{again:#?}");
}

/// The flags that make no sense together are refused before anything is asked of AWS.
#[test]
fn execution_flags_are_checked_first() {
    for (args, needle) in [
        (
            &["enable", "--all", "--large-bodies"][..],
            "--execution-logs",
        ),
        (
            &["enable", "--all", "--execution-logs", "--log-group", "/x"][..],
            "--log-group",
        ),
        (
            &["enable", "--all", "--execution-logs", "--set-format"][..],
            "--set-format",
        ),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_apigw-stream"))
            .args(args)
            .args(["--endpoint-url", "http://127.0.0.1:9", "--region", REGION])
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .output()
            .expect("run apigw-stream");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}
