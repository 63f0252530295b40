//! The auto-enable control function as Lambda runs it (the built binary under the Runtime API
//! harness), against moto's server: CloudTrail-shaped management events as EventBridge delivers
//! them, and the scheduled reconcile. Truth comes from moto (subscription filters, stage
//! settings and tags read with the SDK), not from the function's report alone.
#![cfg(feature = "cli")]

mod common;
mod lambda_support;
mod ops_support;

use std::time::Duration;

use aws_config::SdkConfig;
use lambda_support::{moto, Function, FunctionSpec, Outcome, CONTROL};
use serde_json::{json, Value};

const REGION: &str = lambda_support::REGION;

fn control_spec(function_arn: &str, scope: &str) -> FunctionSpec {
    FunctionSpec::new(CONTROL, "apigw-stream-control")
        .env("AWS_ENDPOINT_URL", &moto().endpoint)
        .env("DECODE_FUNCTION_ARN", function_arn)
        .env("AUTO_ENABLE_SCOPE", scope)
        .timeout(Duration::from_secs(30))
}

/// An EventBridge event for a CloudTrail-recorded API Gateway call, shaped as AWS delivers it.
fn cloudtrail_event(name: &str, request: Value, response: Value) -> Vec<u8> {
    json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.apigateway",
        "account": ops_support::ACCOUNT,
        "time": "2026-12-06T10:00:00Z",
        "region": REGION,
        "resources": [],
        "detail": {
            "eventVersion": "1.09",
            "userIdentity": {"type": "AssumedRole", "accountId": ops_support::ACCOUNT},
            "eventTime": "2026-12-06T10:00:00Z",
            "eventSource": "apigateway.amazonaws.com",
            "eventName": name,
            "awsRegion": REGION,
            "sourceIPAddress": "203.0.113.7",
            "userAgent": "aws-cli/2.22.0",
            "requestParameters": request,
            "responseElements": response,
            "requestID": uuid::Uuid::new_v4().to_string(),
            "eventID": uuid::Uuid::new_v4().to_string(),
            "readOnly": false,
            "eventType": "AwsApiCall",
            "managementEvent": true,
            "recipientAccountId": ops_support::ACCOUNT,
            "eventCategory": "Management"
        }
    })
    .to_string()
    .into_bytes()
}

fn scheduled_event() -> Vec<u8> {
    json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ops_support::ACCOUNT,
        "time": "2026-12-07T03:00:00Z",
        "region": REGION,
        "resources": [format!("arn:aws:events:{REGION}:{}:rule/apigw-stream-reconcile", ops_support::ACCOUNT)],
        "detail": {}
    })
    .to_string()
    .into_bytes()
}

async fn invoke(f: &mut Function, event: &[u8]) -> Value {
    let inv = f.invoke(event).await;
    match &inv.outcome {
        Outcome::Response(_) => inv.outcome.json().expect("the report is JSON"),
        other => panic!(
            "control function failed: {other:?}\n{}",
            lambda_support::tail(&f.output(), 4000)
        ),
    }
}

/// The report line for one stage.
fn line<'a>(report: &'a Value, api: &str, stage: &str) -> &'a Value {
    report["stages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["api_id"] == api && s["stage"] == stage)
        .unwrap_or_else(|| panic!("no line for {api}/{stage} in {report:#}"))
}

async fn stage_of(
    conf: &SdkConfig,
    api: &str,
    stage: &str,
) -> aws_sdk_apigateway::operation::get_stage::GetStageOutput {
    aws_sdk_apigateway::Client::new(conf)
        .get_stage()
        .rest_api_id(api)
        .stage_name(stage)
        .send()
        .await
        .expect("get stage")
}

/// The EMF lines the function printed (`Function=control`).
fn emf_lines(f: &Function) -> Vec<Value> {
    f.output()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["Function"] == "control" && v.get("_aws").is_some())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_stages_are_subscribed_opt_outs_respected_and_drift_repaired() {
    let conf = moto().sdk_config();
    let pipeline = ops_support::deploy_pipeline(&conf).await;
    ops_support::set_apigateway_logging_role(&conf).await;
    let mut control = Function::new(control_spec(&pipeline.function_arn, "opt-out")).await;

    // 1. A REST stage is created (by hand, by CloudFormation...): CloudTrail records CreateStage.
    let orders = ops_support::rest_api(&conf, "orders", &["prod"]).await;
    let group = apigw_stream::ops::enable::default_log_group(&orders, "prod");
    let report = invoke(
        &mut control,
        &cloudtrail_event(
            "CreateStage",
            json!({"restApiId": orders, "createStageInput": {"stageName": "prod", "deploymentId": "d1"}, "template": false}),
            json!({"self": {"restApiId": orders, "stageName": "prod"}}),
        ),
    )
    .await;
    assert_eq!(
        line(&report, &orders, "prod")["action"],
        "enabled",
        "{report:#}"
    );
    // Truth from moto: our filter on the stage's new group, to the decode function...
    assert_eq!(
        ops_support::filters(&conf, &group).await,
        vec![(
            format!("apigw-stream/rest/{orders}/prod"),
            pipeline.function_arn.clone()
        )]
    );
    // ...access logging on, to that group, and the stage marked as enabled by policy.
    let st = stage_of(&conf, &orders, "prod").await;
    let dest = st
        .access_log_settings()
        .and_then(|a| a.destination_arn())
        .unwrap_or_default();
    assert!(dest.ends_with(&format!(":log-group:{group}")), "{dest}");
    assert_eq!(
        st.tags()
            .and_then(|t| t.get("apigw-stream:enabled-by"))
            .map(String::as_str),
        Some("policy")
    );

    // 2. A stage tagged apigw-stream=off is deployed: the policy leaves it alone.
    let internal = ops_support::rest_api(&conf, "internal", &["dev"]).await;
    aws_sdk_apigateway::Client::new(&conf)
        .tag_resource()
        .resource_arn(format!(
            "arn:aws:apigateway:{REGION}::/restapis/{internal}/stages/dev"
        ))
        .tags("apigw-stream", "off")
        .send()
        .await
        .expect("tag the stage off");
    let report = invoke(
        &mut control,
        &cloudtrail_event(
            "CreateDeployment",
            json!({"restApiId": internal, "createDeploymentInput": {"stageName": "dev"}}),
            json!({"id": "dep2"}),
        ),
    )
    .await;
    let l = line(&report, &internal, "dev");
    assert_eq!(l["action"], "skipped", "{report:#}");
    assert!(l["detail"]
        .as_str()
        .unwrap_or_default()
        .contains("apigw-stream=off"));
    let st = stage_of(&conf, &internal, "dev").await;
    assert!(
        st.access_log_settings().is_none(),
        "opted-out stage got logging: {st:?}"
    );
    let internal_group = apigw_stream::ops::enable::default_log_group(&internal, "dev");
    let groups = aws_sdk_cloudwatchlogs::Client::new(&conf)
        .describe_log_groups()
        .log_group_name_prefix(&internal_group)
        .send()
        .await
        .expect("describe log groups");
    assert!(groups.log_groups().is_empty(), "{groups:?}");

    // 3. Someone deletes our filter; the daily reconcile puts it back and says so.
    aws_sdk_cloudwatchlogs::Client::new(&conf)
        .delete_subscription_filter()
        .log_group_name(&group)
        .filter_name(format!("apigw-stream/rest/{orders}/prod"))
        .send()
        .await
        .expect("delete the filter");
    assert!(ops_support::filters(&conf, &group).await.is_empty());
    let report = invoke(&mut control, &scheduled_event()).await;
    assert_eq!(report["trigger"], "reconcile");
    let l = line(&report, &orders, "prod");
    assert_eq!(l["action"], "repaired", "{report:#}");
    assert!(
        l["changes"][0]
            .as_str()
            .unwrap_or_default()
            .contains("subscription filter"),
        "{l}"
    );
    assert_eq!(line(&report, &internal, "dev")["action"], "skipped");
    assert_eq!(
        ops_support::filters(&conf, &group).await,
        vec![(
            format!("apigw-stream/rest/{orders}/prod"),
            pipeline.function_arn.clone()
        )]
    );
    // Counted: the reconcile's EMF line has the repair.
    let emf = emf_lines(&control);
    assert_eq!(emf.len(), 3, "one EMF line per invocation");
    assert_eq!(emf[0]["StagesEnabled"], 1.0);
    assert_eq!(emf[1]["StagesSkipped"], 1.0);
    assert_eq!(emf[2]["DriftRepaired"], 1.0);
    // Logged: one line per stage acted on.
    let repaired = control
        .log_lines("stage")
        .into_iter()
        .filter(|l| l.pointer("/fields/action").and_then(Value::as_str) == Some("repaired"))
        .count();
    assert_eq!(repaired, 1);

    // The function's own UpdateStage comes back through the rule: ignored.
    let mut own: Value = serde_json::from_slice(&cloudtrail_event(
        "UpdateStage",
        json!({"restApiId": orders, "stageName": "prod", "updateStageInput": {"patchOperations": []}}),
        Value::Null,
    ))
    .expect("json");
    own["detail"]["userIdentity"] = json!({
        "type": "AssumedRole",
        "arn": format!("arn:aws:sts::{}:assumed-role/apigw-stream-ControlRole-1AB2/apigw-stream-control", ops_support::ACCOUNT),
    });
    let report = invoke(&mut control, own.to_string().as_bytes()).await;
    assert_eq!(report["trigger"], "ignored", "{report:#}");

    // 4. A second reconcile finds nothing to do.
    let report = invoke(&mut control, &scheduled_event()).await;
    assert_eq!(
        line(&report, &orders, "prod")["action"],
        "unchanged",
        "{report:#}"
    );

    // 5. `apis` shows who enabled what.
    let clients = apigw_stream::ops::RegionClients::new(&conf, REGION);
    let inv = apigw_stream::ops::discover::discover_region(
        &clients,
        apigw_stream::ops::discover::Kinds::default(),
    )
    .await;
    let stages: Vec<_> = inv.stages.iter().collect();
    let table = apigw_stream::cli::apis::table(&stages);
    let row = table
        .lines()
        .find(|l| l.contains(&orders))
        .expect("orders row");
    assert!(row.contains(" policy "), "{table}");
    let row = table
        .lines()
        .find(|l| l.contains(&internal))
        .expect("internal row");
    assert!(!row.contains("policy"), "{table}");
    control.assert_no_panic();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opt_in_policy_waits_for_the_tag() {
    let conf = moto().sdk_config();
    // Its own region: the other test's stages stay out of this one's reconcile.
    let region = "eu-west-3";
    let conf = conf
        .to_builder()
        .region(aws_config::Region::new(region))
        .build();
    let pipeline = ops_support::deploy_pipeline(&conf).await;
    ops_support::set_apigateway_logging_role(&conf).await;
    let mut control =
        Function::new(control_spec(&pipeline.function_arn, "opt-in").env("AWS_REGION", region))
            .await;
    let api = ops_support::rest_api(&conf, "billing", &["prod"]).await;
    let event = |name: &str| {
        let mut e: Value = serde_json::from_slice(&cloudtrail_event(
            name,
            json!({"restApiId": api, "createStageInput": {"stageName": "prod"}}),
            Value::Null,
        ))
        .expect("json");
        e["region"] = json!(region);
        e["detail"]["awsRegion"] = json!(region);
        e.to_string().into_bytes()
    };
    let report = invoke(&mut control, &event("CreateStage")).await;
    assert_eq!(
        line(&report, &api, "prod")["action"],
        "skipped",
        "{report:#}"
    );
    let group = apigw_stream::ops::enable::default_log_group(&api, "prod");
    let logs = aws_sdk_cloudwatchlogs::Client::new(&conf);
    let found = logs
        .describe_log_groups()
        .log_group_name_prefix(&group)
        .send()
        .await
        .expect("describe");
    assert!(found.log_groups().is_empty());
    // The owner opts in: TagResource on the stage is itself an event the rule forwards.
    let arn = format!("arn:aws:apigateway:{region}::/restapis/{api}/stages/prod");
    aws_sdk_apigateway::Client::new(&conf)
        .tag_resource()
        .resource_arn(&arn)
        .tags("apigw-stream", "on")
        .send()
        .await
        .expect("tag on");
    let mut tag_event: Value = serde_json::from_slice(&cloudtrail_event(
        "TagResource",
        json!({"resourceArn": arn, "tags": {"apigw-stream": "on"}}),
        Value::Null,
    ))
    .expect("json");
    tag_event["detail"]["awsRegion"] = json!(region);
    let report = invoke(&mut control, tag_event.to_string().as_bytes()).await;
    assert_eq!(
        line(&report, &api, "prod")["action"],
        "enabled",
        "{report:#}"
    );
    assert_eq!(ops_support::filters(&conf, &group).await.len(), 1);
    control.assert_no_panic();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unrelated_events_change_nothing_and_bad_settings_fail_init() {
    let mut control = Function::new(control_spec(
        "arn:aws:lambda:us-east-1:123456789012:function:nowhere",
        "all",
    ))
    .await;
    let report = invoke(
        &mut control,
        &cloudtrail_event(
            "DeleteStage",
            json!({"restApiId": "x", "stageName": "p"}),
            Value::Null,
        ),
    )
    .await;
    assert_eq!(report["trigger"], "ignored");
    assert_eq!(report["stages"], json!([]));
    let mut bad = Function::new(control_spec(
        "arn:aws:lambda:us-east-1:123456789012:function:d",
        "everything",
    ))
    .await;
    let inv = bad.invoke(b"{}").await;
    let msg = inv.outcome.error_message().unwrap_or_default();
    assert!(msg.contains("AUTO_ENABLE_SCOPE"), "{:?}", inv.outcome);
}
