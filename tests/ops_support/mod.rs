//! Fixtures for the operations tests: a pipeline stack in moto (decode function, queue, DLQs),
//! APIs with stages, and subscription payloads rendered from the recommended access-log format.
#![allow(dead_code)]

use std::io::Write;

use aws_config::SdkConfig;
use base64::Engine;
use flate2::write::GzEncoder;
use flate2::Compression;

pub const STACK: &str = "apigw-stream";
pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";

/// The pipeline stack's outputs as deployed in moto.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub function_arn: String,
    pub queue_url: String,
    pub shipper_dlq_url: String,
    pub decode_dlq_url: String,
}

/// A small stand-in for `cloudformation/pipeline.yaml`: the same outputs and export, a decode
/// function with a dummy inline zip (moto does not run it here).
const STACK_TEMPLATE: &str = r#"{
  "Resources": {
    "DecodeRole": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {
      "Version": "2012-10-17",
      "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}}},
    "DecodeFunction": {"Type": "AWS::Lambda::Function", "Properties": {
      "Runtime": "provided.al2023", "Handler": "bootstrap",
      "Role": {"Fn::GetAtt": ["DecodeRole", "Arn"]}, "Code": {"ZipFile": "dummy"}}},
    "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"MaximumMessageSize": 1048576}},
    "ShipperDlq": {"Type": "AWS::SQS::Queue"},
    "DecodeDlq": {"Type": "AWS::SQS::Queue"}
  },
  "Outputs": {
    "DecodeFunctionArn": {"Value": {"Fn::GetAtt": ["DecodeFunction", "Arn"]},
                          "Export": {"Name": "apigw-stream-DecodeFunctionArn"}},
    "QueueUrl": {"Value": {"Ref": "Queue"}},
    "ShipperDlqUrl": {"Value": {"Ref": "ShipperDlq"}},
    "DecodeDlqUrl": {"Value": {"Ref": "DecodeDlq"}}
  }
}"#;

pub async fn deploy_pipeline(conf: &SdkConfig) -> Pipeline {
    let cfn = aws_sdk_cloudformation::Client::new(conf);
    cfn.create_stack()
        .stack_name(STACK)
        .template_body(STACK_TEMPLATE)
        .capabilities(aws_sdk_cloudformation::types::Capability::CapabilityIam)
        .send()
        .await
        .expect("create the pipeline stack in moto");
    let outputs = apigw_stream::control::ops::stack::stack_outputs(&cfn, STACK)
        .await
        .expect("stack outputs");
    // The queue URLs moto returns name its default host; point them at the emulator.
    let fix = |u: &String| -> String {
        let name = u.rsplit('/').next().unwrap_or_default();
        format!(
            "{}/{ACCOUNT}/{name}",
            conf.endpoint_url().unwrap_or_default()
        )
    };
    Pipeline {
        function_arn: outputs["DecodeFunctionArn"].clone(),
        queue_url: fix(&outputs["QueueUrl"]),
        shipper_dlq_url: fix(&outputs["ShipperDlqUrl"]),
        decode_dlq_url: fix(&outputs["DecodeDlqUrl"]),
    }
}

/// Give API Gateway its account-level CloudWatch Logs role (REST access logging needs it).
pub async fn set_apigateway_logging_role(conf: &SdkConfig) {
    use aws_sdk_apigateway::types::{Op, PatchOperation};
    aws_sdk_apigateway::Client::new(conf)
        .update_account()
        .patch_operations(
            PatchOperation::builder()
                .op(Op::Replace)
                .path("/cloudwatchRoleArn")
                .value(format!("arn:aws:iam::{ACCOUNT}:role/apigateway-cloudwatch"))
                .build(),
        )
        .send()
        .await
        .expect("update API Gateway account");
}

/// A REST API with one GET method and the given stages; returns its id.
pub async fn rest_api(conf: &SdkConfig, name: &str, stages: &[&str]) -> String {
    let c = aws_sdk_apigateway::Client::new(conf);
    let api = c
        .create_rest_api()
        .name(name)
        .send()
        .await
        .expect("create rest api");
    let id = api.id().expect("rest api id").to_string();
    let resources = c
        .get_resources()
        .rest_api_id(&id)
        .send()
        .await
        .expect("resources");
    let root = resources.items()[0].id().expect("root id").to_string();
    c.put_method()
        .rest_api_id(&id)
        .resource_id(&root)
        .http_method("GET")
        .authorization_type("NONE")
        .send()
        .await
        .expect("put method");
    c.put_integration()
        .rest_api_id(&id)
        .resource_id(&root)
        .http_method("GET")
        .r#type(aws_sdk_apigateway::types::IntegrationType::Mock)
        .send()
        .await
        .expect("put integration");
    for st in stages {
        c.create_deployment()
            .rest_api_id(&id)
            .stage_name(*st)
            .send()
            .await
            .expect("create deployment");
    }
    id
}

/// Turn on a REST stage's access logging, as a user would have before us.
pub async fn rest_stage_logging(
    conf: &SdkConfig,
    api_id: &str,
    stage: &str,
    group: &str,
    format: &str,
) {
    use aws_sdk_apigateway::types::{Op, PatchOperation};
    let arn = format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}");
    aws_sdk_apigateway::Client::new(conf)
        .update_stage()
        .rest_api_id(api_id)
        .stage_name(stage)
        .patch_operations(
            PatchOperation::builder()
                .op(Op::Replace)
                .path("/accessLogSettings/destinationArn")
                .value(arn)
                .build(),
        )
        .patch_operations(
            PatchOperation::builder()
                .op(Op::Replace)
                .path("/accessLogSettings/format")
                .value(format)
                .build(),
        )
        .send()
        .await
        .expect("set rest stage logging");
}

/// An HTTP API with one stage logging to `group` (moto has no v2 UpdateStage, so logging is set
/// when the stage is created, as the vendor's `is_existing_http_log_group` case has it).
pub async fn http_api(
    conf: &SdkConfig,
    name: &str,
    stage: &str,
    group: Option<&str>,
    format: &str,
) -> String {
    v2_api(
        conf,
        aws_sdk_apigatewayv2::types::ProtocolType::Http,
        name,
        stage,
        group,
        format,
    )
    .await
}

/// A WebSocket API with one stage, as [`http_api`].
pub async fn websocket_api(
    conf: &SdkConfig,
    name: &str,
    stage: &str,
    group: Option<&str>,
    format: &str,
) -> String {
    v2_api(
        conf,
        aws_sdk_apigatewayv2::types::ProtocolType::Websocket,
        name,
        stage,
        group,
        format,
    )
    .await
}

async fn v2_api(
    conf: &SdkConfig,
    protocol: aws_sdk_apigatewayv2::types::ProtocolType,
    name: &str,
    stage: &str,
    group: Option<&str>,
    format: &str,
) -> String {
    let c = aws_sdk_apigatewayv2::Client::new(conf);
    let mut req = c.create_api().name(name).protocol_type(protocol.clone());
    if protocol == aws_sdk_apigatewayv2::types::ProtocolType::Websocket {
        req = req.route_selection_expression("$request.body.action");
    }
    let api = req.send().await.expect("create v2 api");
    let id = api.api_id().expect("api id").to_string();
    let mut req = c.create_stage().api_id(&id).stage_name(stage);
    if let Some(g) = group {
        req = req.access_log_settings(
            aws_sdk_apigatewayv2::types::AccessLogSettings::builder()
                .destination_arn(format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{g}"))
                .format(format)
                .build(),
        );
    }
    req.send().await.expect("create v2 stage");
    id
}

pub async fn log_group(conf: &SdkConfig, name: &str, foreign_filters: &[&str], destination: &str) {
    let logs = aws_sdk_cloudwatchlogs::Client::new(conf);
    logs.create_log_group()
        .log_group_name(name)
        .send()
        .await
        .expect("create log group");
    for f in foreign_filters {
        logs.put_subscription_filter()
            .log_group_name(name)
            .filter_name(*f)
            .filter_pattern("")
            .destination_arn(destination)
            .send()
            .await
            .expect("put foreign filter");
    }
}

/// Subscription filters of a log group: (name, destination).
pub async fn filters(conf: &SdkConfig, group: &str) -> Vec<(String, String)> {
    let logs = aws_sdk_cloudwatchlogs::Client::new(conf);
    let resp = logs
        .describe_subscription_filters()
        .log_group_name(group)
        .send()
        .await
        .expect("describe filters");
    let mut v: Vec<(String, String)> = resp
        .subscription_filters()
        .iter()
        .map(|f| {
            (
                f.filter_name().unwrap_or_default().to_string(),
                f.destination_arn().unwrap_or_default().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

/// Render an access-log format the way API Gateway does: each `$context` variable replaced by its
/// value, `-` when it has none.
pub fn render(format: &str, vars: &[(&str, &str)]) -> String {
    let mut out = format.to_string();
    // Longest names first, so `$context.identity.user` does not eat `$context.identity.userAgent`.
    let mut names: Vec<&str> = apigw_stream::control::ops::access_log::context_variables(format);
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    for name in names {
        let value = vars
            .iter()
            .find(|(k, _)| *k == name)
            .map_or("-", |(_, v)| *v);
        out = out.replace(&format!("$context.{name}"), value);
    }
    out
}

/// A REST access-log line in the recommended format.
pub fn rest_line(api_id: &str, request_id: &str, epoch_ms: i64) -> String {
    let epoch = epoch_ms.to_string();
    let domain = format!("{api_id}.execute-api.{REGION}.amazonaws.com");
    render(
        apigw_stream::control::ops::access_log::REST_FORMAT,
        &[
            ("requestId", request_id),
            ("extendedRequestId", "ZJ8kKF3ZIAMEVHg="),
            ("requestTimeEpoch", &epoch),
            ("httpMethod", "GET"),
            ("path", "/prod/pets/42"),
            ("resourcePath", "/pets/{petId}"),
            ("protocol", "HTTP/1.1"),
            ("status", "200"),
            ("responseLength", "48"),
            ("responseLatency", "31"),
            ("integrationLatency", "27"),
            ("identity.sourceIp", "1.128.0.0"),
            ("identity.userAgent", "curl/8.4.0"),
            ("domainName", &domain),
            ("apiId", api_id),
            ("stage", "prod"),
            ("accountId", ACCOUNT),
        ],
    )
}

/// A CloudWatch Logs subscription event (`{"awslogs":{"data": base64(gzip(LogData))}}`).
pub fn awslogs_event(
    log_group: &str,
    filter: &str,
    lines: &[String],
    first_ms: i64,
) -> serde_json::Value {
    let events: Vec<serde_json::Value> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            serde_json::json!({
                "id": format!("3719{:052}", first_ms as usize + i),
                "timestamp": first_ms + i as i64,
                "message": l,
            })
        })
        .collect();
    let data = serde_json::json!({
        "messageType": "DATA_MESSAGE",
        "owner": ACCOUNT,
        "logGroup": log_group,
        "logStream": "7c5e0b5a1f3c4f0a9e8f6d3a2b1c0d9e",
        "subscriptionFilters": [filter],
        "logEvents": events,
    });
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(data.to_string().as_bytes()).expect("gzip");
    let b64 = base64::engine::general_purpose::STANDARD.encode(gz.finish().expect("gzip"));
    serde_json::json!({"awslogs": {"data": b64}})
}

/// A Lambda on-failure destination record holding `event` (what the decode DLQ receives).
pub fn destination_record(function_arn: &str, event: &serde_json::Value) -> String {
    serde_json::json!({
        "version": "1.0",
        "timestamp": "2026-11-26T04:00:00.000Z",
        "requestContext": {
            "requestId": "6e3b4f1c-9a7d-4c55-b0f2-2d1e8c7a9b10",
            "functionArn": format!("{function_arn}:$LATEST"),
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorType": "Runtime.ExitError", "errorMessage": "send to queue failed"}
    })
    .to_string()
}
