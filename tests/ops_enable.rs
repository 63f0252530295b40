//! `apis`, `enable`, `disable` against moto's server.
#![cfg(feature = "cli")]

mod common;
mod ops_support;

use apigw_stream::control::ops::access_log::{
    FormatClass, HTTP_FORMAT, REST_FORMAT, WEBSOCKET_FORMAT,
};
use apigw_stream::control::ops::disable::{self, DisableOptions};
use apigw_stream::control::ops::discover::{discover_regions, Kinds, StageInfo};
use apigw_stream::control::ops::enable::{self, default_log_group, EnableOptions};
use apigw_stream::control::ops::plan::{self, Change, Status};
use apigw_stream::control::ops::select::{ApiSelector, Selection, Selector};
use apigw_stream::control::ops::{RegionClients, StageRef};
use apigw_stream::transaction::ApiKind;
use ops_support::*;

const CLF: &str = "$context.identity.sourceIp $context.identity.caller $context.identity.user [$context.requestTime] \"$context.httpMethod $context.resourcePath $context.protocol\" $context.status $context.responseLength $context.requestId";

fn regions() -> Vec<String> {
    vec![REGION.to_string()]
}

fn all() -> Selection {
    Selection {
        selector: Selector::All,
        kinds: Kinds::default(),
    }
}

async fn stages(conf: &aws_config::SdkConfig) -> Vec<StageInfo> {
    let inv = discover_regions(conf, &regions(), false, Kinds::default()).await;
    assert!(
        inv.regions[0].1.errors.is_empty(),
        "{:?}",
        inv.regions[0].1.errors
    );
    inv.regions
        .into_iter()
        .flat_map(|(_, i)| i.stages)
        .collect()
}

fn find<'a>(stages: &'a [StageInfo], api: &str, stage: &str) -> &'a StageInfo {
    stages
        .iter()
        .find(|s| s.stage.api_id == api && s.stage.stage == stage)
        .unwrap_or_else(|| panic!("{api}/{stage} not discovered"))
}

#[tokio::test(flavor = "multi_thread")]
async fn apis_enable_twice_then_disable() {
    let moto = common::Moto::start();
    let conf = moto.sdk_config();
    let p = deploy_pipeline(&conf).await;
    set_apigateway_logging_role(&conf).await;

    // pets: two stages without access logging.
    let pets = rest_api(&conf, "pets", &["prod", "dev"]).await;
    // orders: logging already on, the console's CLF template, and a foreign filter on the group.
    let orders = rest_api(&conf, "orders", &["prod"]).await;
    log_group(
        &conf,
        "/custom/orders",
        &["datadog-forwarder"],
        &p.function_arn,
    )
    .await;
    rest_stage_logging(&conf, &orders, "prod", "/custom/orders", CLF).await;
    // An HTTP API already logging in our format to an existing group.
    log_group(&conf, "/custom/http", &[], &p.function_arn).await;
    let http = http_api(&conf, "shop", "$default", Some("/custom/http"), HTTP_FORMAT).await;
    // A WebSocket API likewise.
    log_group(&conf, "/custom/ws", &[], &p.function_arn).await;
    let ws = websocket_api(&conf, "chat", "live", Some("/custom/ws"), WEBSOCKET_FORMAT).await;

    // `apis` sees all of it.
    let found = stages(&conf).await;
    assert_eq!(found.len(), 5, "{found:#?}");
    assert_eq!(find(&found, &ws, "live").stage.kind, ApiKind::Websocket);
    let pets_prod = find(&found, &pets, "prod");
    assert_eq!(pets_prod.stage.kind, ApiKind::Rest);
    assert_eq!(pets_prod.api_name.as_deref(), Some("pets"));
    assert!(pets_prod.access_log.is_none());
    let orders_prod = find(&found, &orders, "prod");
    let al = orders_prod.access_log.as_ref().expect("orders logs");
    assert_eq!(al.log_group.as_deref(), Some("/custom/orders"));
    assert_eq!(al.format_class, Some(FormatClass::ConsoleClf));
    let g = orders_prod.log_group.as_ref().expect("group state");
    assert!(g.exists && orders_prod.our_filter().is_none());
    assert_eq!(g.foreign().count(), 1);
    let http_stage = find(&found, &http, "$default");
    assert_eq!(http_stage.stage.kind, ApiKind::Http);
    assert_eq!(
        http_stage.access_log.as_ref().and_then(|a| a.format_class),
        Some(FormatClass::Recommended)
    );

    // Without --apply: a plan, nothing changed.
    let opts = EnableOptions::default(); // decode function from the stack's export
    let report = enable::enable(&conf, &regions(), false, &all(), &opts, false).await;
    assert_eq!(report.failures(), 0, "{report:#?}");
    assert_eq!(report.count(Status::Planned), 5);
    assert_eq!(stages(&conf).await, found, "a plan changes nothing");

    // --apply: logging on where it was off, our filter everywhere.
    let report = enable::enable(&conf, &regions(), false, &all(), &opts, true).await;
    assert_eq!(report.failures(), 0, "{report:#?}");
    assert_eq!(report.count(Status::Changed), 5, "{report:#?}");
    let after = stages(&conf).await;
    for (api, stage, kind) in [
        (&pets, "prod", "rest"),
        (&pets, "dev", "rest"),
        (&orders, "prod", "rest"),
        (&http, "$default", "http"),
        (&ws, "live", "websocket"),
    ] {
        let st = find(&after, api, stage);
        let f = st
            .our_filter()
            .unwrap_or_else(|| panic!("{api}/{stage}: no filter"));
        assert_eq!(f.name, format!("apigw-stream/{kind}/{api}/{stage}"));
        assert_eq!(f.destination_arn.as_deref(), Some(p.function_arn.as_str()));
    }
    let st = find(&after, &pets, "prod");
    let al = st.access_log.as_ref().expect("pets/prod now logs");
    assert_eq!(
        al.log_group.as_deref(),
        Some(default_log_group(&pets, "prod").as_str())
    );
    assert_eq!(al.format.as_deref(), Some(REST_FORMAT));
    assert_eq!(
        st.log_group.as_ref().and_then(|g| g.retention_days),
        Some(7)
    );
    // The console format was left alone, and said so.
    let orders_after = find(&after, &orders, "prod");
    assert_eq!(
        orders_after
            .access_log
            .as_ref()
            .and_then(|a| a.format.as_deref()),
        Some(CLF)
    );
    let orders_outcome = report
        .stages
        .iter()
        .find(|s| s.stage.api_id == orders)
        .unwrap();
    assert!(
        orders_outcome
            .notes
            .iter()
            .any(|n| n.contains("console-clf")),
        "{orders_outcome:?}"
    );

    // A second run changes nothing.
    let report = enable::enable(&conf, &regions(), false, &all(), &opts, true).await;
    assert_eq!(report.failures(), 0, "{report:#?}");
    assert_eq!(report.count(Status::Unchanged), 5, "{report:#?}");
    assert_eq!(stages(&conf).await, after);

    // disable one API: only our filter goes, the foreign one stays.
    let one = Selection {
        selector: Selector::Apis(vec![ApiSelector::one(&orders, Some("prod"))]),
        kinds: Kinds::default(),
    };
    let report = disable::disable(
        &conf,
        &regions(),
        false,
        &one,
        &DisableOptions::default(),
        true,
    )
    .await;
    assert_eq!(report.failures(), 0, "{report:#?}");
    assert_eq!(report.count(Status::Changed), 1);
    assert_eq!(
        filters(&conf, "/custom/orders").await,
        vec![("datadog-forwarder".to_string(), p.function_arn.clone())]
    );
    // The others are untouched.
    assert!(find(&stages(&conf).await, &pets, "prod")
        .our_filter()
        .is_some());

    // disable the REST APIs with --restore-logging: the logging we set goes, the user's stays.
    let rest_only = Selection {
        selector: Selector::All,
        kinds: Kinds {
            rest: true,
            http: false,
            websocket: false,
        },
    };
    let report = disable::disable(
        &conf,
        &regions(),
        false,
        &rest_only,
        &DisableOptions {
            restore_logging: true,
        },
        true,
    )
    .await;
    assert_eq!(report.failures(), 0, "{report:#?}");
    let last = stages(&conf).await;
    for stage in ["prod", "dev"] {
        let st = find(&last, &pets, stage);
        assert!(
            st.access_log.is_none(),
            "{stage}: logging we set is removed"
        );
    }
    assert!(filters(&conf, &default_log_group(&pets, "prod"))
        .await
        .is_empty());
    assert_eq!(
        find(&last, &orders, "prod")
            .access_log
            .as_ref()
            .and_then(|a| a.format.as_deref()),
        Some(CLF),
        "the user's logging stays"
    );
    assert!(
        find(&last, &http, "$default").our_filter().is_some(),
        "HTTP was not selected"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_stage_is_reported_and_the_rest_enabled() {
    let moto = common::Moto::start();
    let conf = moto.sdk_config();
    let p = deploy_pipeline(&conf).await;
    set_apigateway_logging_role(&conf).await;

    // "full" logs to a group that already has the two subscription filters CloudWatch allows.
    let full = rest_api(&conf, "full", &["prod"]).await;
    log_group(
        &conf,
        "/full",
        &["datadog-forwarder", "splunk"],
        &p.function_arn,
    )
    .await;
    rest_stage_logging(&conf, &full, "prod", "/full", REST_FORMAT).await;
    let ok1 = rest_api(&conf, "ok1", &["prod"]).await;
    let ok2 = rest_api(&conf, "ok2", &["prod"]).await;

    let opts = EnableOptions {
        function_arn: Some(p.function_arn.clone()),
        ..Default::default()
    };
    let report = enable::enable(&conf, &regions(), false, &all(), &opts, true).await;
    assert_eq!(report.failures(), 1, "{report:#?}");
    assert_eq!(report.count(Status::Changed), 2);
    let bad = report
        .stages
        .iter()
        .find(|s| s.stage.api_id == full)
        .unwrap();
    assert_eq!(bad.status, Status::Blocked);
    let why = bad.error.as_deref().unwrap();
    assert!(
        why.contains("/full") && why.contains("two subscription filters"),
        "{why}"
    );
    let after = stages(&conf).await;
    for api in [&ok1, &ok2] {
        assert!(
            find(&after, api, "prod").our_filter().is_some(),
            "{api} enabled"
        );
    }
    assert_eq!(
        filters(&conf, "/full").await.len(),
        2,
        "the full group is untouched"
    );

    // A failure at apply time (the limit reached between plan and apply) is reported the same
    // way, and the stages after it still run.
    let clients = RegionClients::new(&conf, REGION);
    let stage = |api: &str| StageRef {
        region: REGION.into(),
        kind: ApiKind::Rest,
        api_id: api.into(),
        stage: "prod".into(),
    };
    let plans = vec![
        plan::StagePlan {
            changes: vec![Change::PutSubscriptionFilter {
                log_group: "/full".into(),
                filter_name: format!("apigw-stream/rest/{full}/prod"),
                destination_arn: p.function_arn.clone(),
            }],
            ..plan::StagePlan::new(stage(&full))
        },
        plan::StagePlan {
            changes: vec![Change::CreateLogGroup {
                log_group: "/later".into(),
                retention_days: 1,
            }],
            ..plan::StagePlan::new(stage("later"))
        },
    ];
    let outcomes = plan::apply(&clients, plans).await;
    assert_eq!(outcomes[0].status, Status::Failed);
    let err = outcomes[0].error.as_deref().unwrap();
    assert!(err.contains("maximum of two subscription filters"), "{err}");
    assert_eq!(outcomes[1].status, Status::Changed);
}

/// The binary: `apis --json`, `enable` plan and exit codes, `--env-file`.
#[tokio::test(flavor = "multi_thread")]
async fn cli_apis_and_enable() {
    let moto = common::Moto::start();
    let conf = moto.sdk_config();
    let p = deploy_pipeline(&conf).await;
    let rest = rest_api(&conf, "pets", &["prod"]).await;
    log_group(&conf, "/custom/http", &[], &p.function_arn).await;
    let http = http_api(&conf, "shop", "$default", Some("/custom/http"), HTTP_FORMAT).await;

    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_apigw-stream"))
            .args(args)
            .args(["--endpoint-url", &moto.endpoint, "--region", REGION])
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env_remove("AWS_PROFILE")
            .output()
            .expect("run apigw-stream");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };

    let (code, stdout, stderr) = run(&["apis", "--json"]);
    assert_eq!(code, Some(0), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("apis --json");
    let listed = v["regions"][0]["stages"].as_array().expect("stages");
    assert_eq!(listed.len(), 2);
    assert!(listed
        .iter()
        .any(|s| s["api_id"] == rest.as_str() && s["kind"] == "rest"));
    assert!(listed
        .iter()
        .any(|s| s["api_id"] == http.as_str() && s["access_log"]["format_class"] == "recommended"));

    let (code, stdout, _) = run(&["apis"]);
    assert_eq!(code, Some(0));
    assert!(
        stdout.starts_with("REGION") && stdout.contains(&http),
        "{stdout}"
    );

    // REST logging needs the account's CloudWatch role, which moto's account lacks: the REST stage
    // is blocked with that reason, the HTTP one is planned, and the exit code says it failed.
    let (code, stdout, _) = run(&["enable", "--all"]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("cloudwatchRoleArn"), "{stdout}");
    assert!(
        stdout.contains("nothing changed; run again with --apply"),
        "{stdout}"
    );

    // The vendor's .env: REST off, auto-discovery on → only the HTTP API, and a clean plan.
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join(".env");
    std::fs::write(
        &env,
        "cequence_rest_api_enabled=false\ncequence_http_api_enabled=true\ncequence_auto_discover_apis=true\n\
         cequence_client_secret=\"do-not-print\"\n",
    )
    .unwrap();
    let (code, stdout, stderr) = run(&["enable", "--json", "--env-file", env.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("enable --json");
    let planned = v["stages"].as_array().unwrap();
    assert_eq!(planned.len(), 1, "{stdout}");
    assert_eq!(planned[0]["api_id"], http.as_str());
    assert_eq!(planned[0]["status"], "planned");
    assert_eq!(
        planned[0]["changes"][0]["action"],
        "put-subscription-filter"
    );
    assert!(!stdout.contains("do-not-print") && !stderr.contains("do-not-print"));

    // A decode function that does not exist blocks every stage, before anything is changed.
    let missing = format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:nope");
    let (code, stdout, _) = run(&["enable", "--all", "--apply", "--function-arn", &missing]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("function:nope does not exist"), "{stdout}");
    assert!(!stdout.contains("done:"), "{stdout}");

    // Bad input names itself.
    let (code, _, stderr) = run(&["enable", "--all", "--retention-days", "2"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("retention"), "{stderr}");
}
