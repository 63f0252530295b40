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
    let group = apigw_stream::control::ops::enable::default_log_group(&orders, "prod");
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
    let internal_group = apigw_stream::control::ops::enable::default_log_group(&internal, "dev");
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
    let clients = apigw_stream::control::ops::RegionClients::new(&conf, REGION);
    let inv = apigw_stream::control::ops::discover::discover_region(
        &clients,
        apigw_stream::control::ops::discover::Kinds::default(),
    )
    .await;
    let stages: Vec<_> = inv.stages.iter().collect();
    let table = apigw_stream::control::cli::apis::table(&stages);
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
    let group = apigw_stream::control::ops::enable::default_log_group(&api, "prod");
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

/// moto's server with CloudWatch Logs destinations as subscription targets
/// (`tests/control_support/moto_server_logs.py`), its own instance, killed when dropped.
struct MotoWithDestinations {
    child: std::process::Child,
    endpoint: String,
}

impl MotoWithDestinations {
    fn start(org_id: &str, org_accounts: &[&str]) -> MotoWithDestinations {
        let python = common::moto_server_path()
            .parent()
            .expect("the venv's bin")
            .join("python");
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/control_support/moto_server_logs.py");
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("free port")
                .port();
            let mut child = std::process::Command::new(&python)
                .arg(&script)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .env("MOTO_ALLOW_NONEXISTENT_REGION", "true")
                .env("APIGW_TEST_ORG_ID", org_id)
                .env("APIGW_TEST_ORG_ACCOUNTS", org_accounts.join(","))
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("spawn the patched moto server");
            let limit = std::time::Instant::now() + Duration::from_secs(30);
            while std::time::Instant::now() < limit {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return MotoWithDestinations {
                        child,
                        endpoint: format!("http://127.0.0.1:{port}"),
                    };
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("the patched moto server did not start");
    }

    /// Credentials in `account`: moto maps the keys of an assumed role to the role's account.
    async fn credentials_in(&self, account: &str) -> (String, String, String) {
        let resp = reqwest::Client::new()
            .post(format!("{}/", self.endpoint))
            .header(
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=testing/20261206/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=x",
            )
            .form(&[
                ("Action", "AssumeRole"),
                ("Version", "2011-06-15"),
                ("RoleArn", &format!("arn:aws:iam::{account}:role/member-admin")),
                ("RoleSessionName", "test"),
            ])
            .send()
            .await
            .expect("AssumeRole")
            .text()
            .await
            .expect("AssumeRole body");
        let tag = |name: &str| -> String {
            let open = format!("<{name}>");
            let close = format!("</{name}>");
            let start = resp.find(&open).expect("tag in the AssumeRole answer") + open.len();
            let end = resp[start..].find(&close).expect("closing tag") + start;
            resp[start..end].to_string()
        };
        (
            tag("AccessKeyId"),
            tag("SecretAccessKey"),
            tag("SessionToken"),
        )
    }

    fn sdk_config(&self, creds: Option<&(String, String, String)>) -> SdkConfig {
        let base = apigw_stream::control::aws::emulator_config(&self.endpoint, REGION);
        match creds {
            None => base,
            Some((id, secret, token)) => base
                .to_builder()
                .credentials_provider(
                    aws_credential_types::provider::SharedCredentialsProvider::new(
                        aws_credential_types::Credentials::new(
                            id.clone(),
                            secret.clone(),
                            Some(token.clone()),
                            None,
                            "assumed",
                        ),
                    ),
                )
                .build(),
        }
    }
}

impl Drop for MotoWithDestinations {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A member account of a central pipeline: its control function subscribes a new stage to the
/// central account's CloudWatch Logs destination (admitted by the organization condition), and
/// logs the stage to a group of its own account. An account outside the organization is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_account_subscribes_its_stage_to_the_central_destination() {
    const ORG: &str = "o-a1b2c3d4e5";
    const MEMBER: &str = "444455556666";
    const OUTSIDER: &str = "999988887777";
    let central_account = ops_support::ACCOUNT;
    let moto = MotoWithDestinations::start(ORG, &[central_account, MEMBER]);
    let central = moto.sdk_config(None);

    // Central account: the stream and the destination, admitting the organization.
    let kinesis = aws_sdk_kinesis::Client::new(&central);
    kinesis
        .create_stream()
        .stream_name("apigw-stream-central")
        .shard_count(1)
        .send()
        .await
        .expect("create stream");
    let stream_arn =
        format!("arn:aws:kinesis:{REGION}:{central_account}:stream/apigw-stream-central");
    let logs = aws_sdk_cloudwatchlogs::Client::new(&central);
    let destination = logs
        .put_destination()
        .destination_name("apigw-stream")
        .target_arn(&stream_arn)
        .role_arn(format!(
            "arn:aws:iam::{central_account}:role/logs-to-stream"
        ))
        .send()
        .await
        .expect("put destination");
    let destination_arn = destination
        .destination()
        .and_then(|d| d.arn())
        .expect("destination arn")
        .to_string();
    let policy = json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "OrganizationAccounts", "Effect": "Allow", "Principal": {"AWS": "*"},
        "Action": "logs:PutSubscriptionFilter", "Resource": destination_arn,
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": ORG}}}]});
    logs.put_destination_policy()
        .destination_name("apigw-stream")
        .access_policy(policy.to_string())
        .send()
        .await
        .expect("put destination policy");

    for (account, admitted) in [(MEMBER, true), (OUTSIDER, false)] {
        let creds = moto.credentials_in(account).await;
        let member = moto.sdk_config(Some(&creds));
        ops_support::set_apigateway_logging_role(&member).await;
        let api = ops_support::rest_api(&member, "pets", &["prod"]).await;
        let mut control = Function::new(FunctionSpec {
            account: account.to_string(),
            ..control_spec(&destination_arn, "all")
                .env("AWS_ENDPOINT_URL", &moto.endpoint)
                .env("AWS_ACCESS_KEY_ID", &creds.0)
                .env("AWS_SECRET_ACCESS_KEY", &creds.1)
                .env("AWS_SESSION_TOKEN", &creds.2)
        })
        .await;
        let event = cloudtrail_event(
            "CreateStage",
            json!({"restApiId": api, "createStageInput": {"stageName": "prod"}}),
            json!({"self": {"restApiId": api, "stageName": "prod"}}),
        );
        let inv = control.invoke(&event).await;
        let group = apigw_stream::control::ops::enable::default_log_group(&api, "prod");
        if admitted {
            let report = inv.outcome.json().unwrap_or_else(|e| {
                panic!("{e}\n{}", lambda_support::tail(&control.output(), 3000))
            });
            assert_eq!(
                line(&report, &api, "prod")["action"],
                "enabled",
                "{report:#}"
            );
            // Truth from the member account: the filter names the central destination, the
            // access log goes to the member's own group.
            assert_eq!(
                ops_support::filters(&member, &group).await,
                vec![(
                    format!("apigw-stream/rest/{api}/prod"),
                    destination_arn.clone()
                )]
            );
            let stage = stage_of(&member, &api, "prod").await;
            let dest = stage
                .access_log_settings()
                .and_then(|a| a.destination_arn())
                .unwrap_or_default();
            assert_eq!(
                dest,
                format!("arn:aws:logs:{REGION}:{MEMBER}:log-group:{group}")
            );
        } else {
            // Outside the organization: refused by the destination policy; Lambda retries.
            let msg = inv.outcome.error_message().unwrap_or_default();
            assert!(msg.contains("not authorized"), "{:?}", inv.outcome);
            assert!(ops_support::filters(&member, &group).await.is_empty());
        }
        control.assert_no_panic();
    }
}
