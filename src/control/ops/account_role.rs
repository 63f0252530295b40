//! API Gateway's account-level CloudWatch Logs role (`cloudwatchRoleArn`, one per region), which
//! REST access and execution logging need: `enable --create-account-role` creates an IAM role
//! trusted by API Gateway with the AWS managed policy and sets it, only where none is set.

use std::time::Duration;

use aws_sdk_apigateway::types::{Op, PatchOperation};

use super::{OpsError, RegionClients};
use crate::transport::backoff::{Backoff, Jitter};

/// Name of the role `enable --create-account-role` creates (IAM is global: one for all regions).
pub const ROLE_NAME: &str = "apigw-stream-apigateway-cloudwatch";

/// `arn:{partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs`.
pub fn managed_policy_arn(partition: &str) -> String {
    format!("arn:{partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs")
}

const TRUST_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"apigateway.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// A new role can take a few seconds to be usable by API Gateway (IAM is eventually
/// consistent): UpdateAccount is retried this many times on a refusal.
const SET_ATTEMPTS: u32 = 6;
const SET_BACKOFF: Backoff = Backoff::new(
    Duration::from_secs(2),
    Duration::from_secs(10),
    Jitter::Equal,
);

/// Does API Gateway's account in this region have a CloudWatch Logs role?
pub async fn is_set(clients: &RegionClients) -> Result<bool, OpsError> {
    let acct = clients
        .apigw
        .get_account()
        .send()
        .await
        .map_err(|e| OpsError::aws("GetAccount", &clients.region, e))?;
    Ok(acct.cloudwatch_role_arn().is_some_and(|r| !r.is_empty()))
}

/// Create (or reuse) the role, attach the policy, and set it as the account's role.
pub async fn create(
    clients: &RegionClients,
    role_name: &str,
    policy_arn: &str,
) -> Result<(), OpsError> {
    let created = clients
        .iam
        .create_role()
        .role_name(role_name)
        .assume_role_policy_document(TRUST_POLICY)
        .description(
            "API Gateway pushes REST access and execution logs to CloudWatch Logs (apigw-stream)",
        )
        .send()
        .await;
    let role_arn = match created {
        Ok(out) => out.role().map(|r| r.arn().to_string()),
        // Made by an earlier run or in another region: IAM is global.
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_entity_already_exists_exception()) =>
        {
            let got = clients
                .iam
                .get_role()
                .role_name(role_name)
                .send()
                .await
                .map_err(|e| OpsError::aws("GetRole", role_name, e))?;
            got.role().map(|r| r.arn().to_string())
        }
        Err(e) => return Err(OpsError::aws("CreateRole", role_name, e)),
    };
    let Some(role_arn) = role_arn else {
        return Err(OpsError::Input(format!(
            "IAM role {role_name}: no ARN returned"
        )));
    };
    clients
        .iam
        .attach_role_policy()
        .role_name(role_name)
        .policy_arn(policy_arn)
        .send()
        .await
        .map_err(|e| OpsError::aws("AttachRolePolicy", role_name, e))?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let res = clients
            .apigw
            .update_account()
            .patch_operations(
                PatchOperation::builder()
                    .op(Op::Replace)
                    .path("/cloudwatchRoleArn")
                    .value(&role_arn)
                    .build(),
            )
            .send()
            .await;
        match res {
            Ok(_) => return Ok(()),
            Err(e)
                if attempt < SET_ATTEMPTS
                    && e.as_service_error()
                        .is_some_and(|s| s.is_bad_request_exception()) =>
            {
                tracing::info!(
                    region = %clients.region,
                    "UpdateAccount refused the new role (IAM still propagating?), retrying: {}",
                    super::sdk_message(&e)
                );
                tokio::time::sleep(SET_BACKOFF.delay(attempt)).await;
            }
            Err(e) => return Err(OpsError::aws("UpdateAccount", &clients.region, e)),
        }
    }
}
