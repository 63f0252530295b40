//! Operations against a deployed account: API discovery (`apis`), per-API enable/disable of the
//! subscription filter and access logging, and replay from the dead-letter queues.
//!
//! Each command is a plan/apply pair over [`discover::StageInfo`] values, so the decisions are
//! tested without AWS and the calls are tested against moto's server.

use aws_config::{Region, SdkConfig};
use aws_sdk_sqs::error::ProvideErrorMetadata;
use serde::Serialize;

use crate::transaction::ApiKind;

pub mod access_log;
pub mod account_role;
pub mod autoenable;
pub mod delivery;
pub mod disable;
pub mod discover;
pub mod enable;
pub mod enable_execution;
pub mod enable_steps;
pub mod execution;
pub mod loggroup;
pub mod method_settings;
pub mod plan;
pub mod regions;
pub mod replay;
pub mod select;
pub mod stack;
#[cfg(feature = "cli")]
pub mod status;
pub mod view;

/// Every subscription filter this project creates starts with this.
pub const FILTER_PREFIX: &str = "apigw-stream/";

/// Default CloudFormation stack name of the pipeline.
pub const DEFAULT_STACK_NAME: &str = "apigw-stream";

/// `apigw-stream/{kind}/{api-id}/{stage}`: the filter for a log group written by one stage.
pub fn filter_name(kind: ApiKind, api_id: &str, stage: &str) -> String {
    crate::decode::normalize::FilterName::format(kind, api_id, stage)
}

/// `apigw-stream/{kind}/-/-`: the filter for a log group several stages write to. `-` is API
/// Gateway's "absent", so the decoder takes the API id and stage from each line instead.
pub fn shared_filter_name(kind: ApiKind) -> String {
    crate::decode::normalize::FilterName::format(kind, "-", "-")
}

/// Is this one of our filters?
pub fn is_ours(filter_name: &str) -> bool {
    filter_name.starts_with(FILTER_PREFIX)
}

#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// An AWS call failed; `message` carries the service's code and text.
    #[error("{operation} on {target}: {message}")]
    Aws {
        operation: &'static str,
        target: String,
        message: String,
    },
    /// Bad user input (flags, config files), naming the input.
    #[error("{0}")]
    Input(String),
    /// The pipeline stack does not provide what was asked for.
    #[error("stack {stack}: {message}")]
    Stack { stack: String, message: String },
    #[error(transparent)]
    Queue(#[from] crate::transport::queue::QueueError),
}

impl OpsError {
    /// Wrap an SDK error with the operation and resource it was about.
    pub fn aws<E>(operation: &'static str, target: impl Into<String>, err: E) -> OpsError
    where
        E: std::error::Error + ProvideErrorMetadata,
    {
        OpsError::Aws {
            operation,
            target: target.into(),
            message: sdk_message(&err),
        }
    }
}

/// A one-line description of an SDK error: the service's code and message when it answered,
/// else the error with its sources (connection, timeout...).
pub fn sdk_message<E>(err: &E) -> String
where
    E: std::error::Error + ProvideErrorMetadata,
{
    match (err.code(), err.message()) {
        (Some(code), Some(msg)) => return format!("{code}: {msg}"),
        (Some(code), None) => return code.to_string(),
        _ => {}
    }
    let mut msg = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        source = s.source();
    }
    msg
}

/// The SDK clients for one region.
#[derive(Debug, Clone)]
pub struct RegionClients {
    pub region: String,
    pub apigw: aws_sdk_apigateway::Client,
    pub apigw2: aws_sdk_apigatewayv2::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub cfn: aws_sdk_cloudformation::Client,
    pub iam: aws_sdk_iam::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub sqs: aws_sdk_sqs::Client,
}

impl RegionClients {
    /// Clients for `region`, otherwise configured as `base` (credentials, endpoint).
    pub fn new(base: &SdkConfig, region: &str) -> RegionClients {
        let conf = base
            .to_builder()
            .region(Region::new(region.to_string()))
            .build();
        RegionClients {
            region: region.to_string(),
            apigw: aws_sdk_apigateway::Client::new(&conf),
            apigw2: aws_sdk_apigatewayv2::Client::new(&conf),
            logs: aws_sdk_cloudwatchlogs::Client::new(&conf),
            cfn: aws_sdk_cloudformation::Client::new(&conf),
            iam: aws_sdk_iam::Client::new(&conf),
            lambda: aws_sdk_lambda::Client::new(&conf),
            sqs: aws_sdk_sqs::Client::new(&conf),
        }
    }
}

/// One stage of one API in one region: what every plan and result is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct StageRef {
    pub region: String,
    pub kind: ApiKind,
    pub api_id: String,
    pub stage: String,
}

impl StageRef {
    pub fn filter_name(&self) -> String {
        filter_name(self.kind, &self.api_id, &self.stage)
    }
}

impl std::fmt::Display for StageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {}/{}",
            self.region, self.kind, self.api_id, self.stage
        )
    }
}

/// `arn:{partition}:logs:{region}:{account}:log-group:{name}` (no `:*`: API Gateway wants it bare).
pub fn log_group_arn(partition: &str, region: &str, account: &str, name: &str) -> String {
    format!("arn:{partition}:logs:{region}:{account}:log-group:{name}")
}

/// The log group name of an access-log destination ARN (`...:log-group:NAME` or `...:NAME:*`).
pub fn log_group_from_arn(arn: &str) -> Option<String> {
    let (_, rest) = arn.split_once(":log-group:")?;
    let name = rest.strip_suffix(":*").unwrap_or(rest);
    (!name.is_empty()).then(|| name.to_string())
}

/// The parts of an ARN: partition, service, region, account, resource.
pub fn arn_parts(arn: &str) -> Option<(&str, &str, &str, &str, &str)> {
    let mut it = arn.splitn(6, ':');
    if it.next()? != "arn" {
        return None;
    }
    Some((it.next()?, it.next()?, it.next()?, it.next()?, it.next()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_names() {
        assert_eq!(
            filter_name(ApiKind::Rest, "a1b2", "prod"),
            "apigw-stream/rest/a1b2/prod"
        );
        assert_eq!(shared_filter_name(ApiKind::Http), "apigw-stream/http/-/-");
        assert!(is_ours("apigw-stream/http/-/-"));
        assert!(!is_ours("datadog-forwarder"));
    }

    #[test]
    fn arns() {
        assert_eq!(
            log_group_from_arn("arn:aws:logs:us-east-1:123456789012:log-group:/aws/apigw/x:*")
                .as_deref(),
            Some("/aws/apigw/x")
        );
        assert_eq!(
            log_group_from_arn("arn:aws:logs:us-east-1:123456789012:log-group:plain").as_deref(),
            Some("plain")
        );
        assert_eq!(
            log_group_from_arn("arn:aws:firehose:us-east-1:1:deliverystream/x"),
            None
        );
        assert_eq!(
            arn_parts("arn:aws:lambda:eu-west-1:123456789012:function:decode"),
            Some((
                "aws",
                "lambda",
                "eu-west-1",
                "123456789012",
                "function:decode"
            ))
        );
        assert_eq!(arn_parts("nope"), None);
    }
}
