//! A REST stage's `*/*` execution-logging method settings: set (after recording the prior ones
//! in a stage tag) and restored (then the record dropped).

use aws_sdk_apigateway::types::{Op, PatchOperation};

use super::execution::{MethodLogging, PRIOR_TAG};
use super::{OpsError, RegionClients, StageRef};
use crate::transaction::ApiKind;

fn target(stage: &StageRef) -> String {
    format!("{} API {} stage {}", stage.kind, stage.api_id, stage.stage)
}

fn rest_only(stage: &StageRef) -> Result<(), OpsError> {
    if stage.kind == ApiKind::Rest {
        Ok(())
    } else {
        Err(OpsError::Input(format!(
            "{}: execution-logging method settings are REST-only",
            target(stage)
        )))
    }
}

/// Record `prior` (when given) in the stage tag, then set `settings`. The record is written
/// first so a stage is never changed without a way back.
pub async fn set(
    clients: &RegionClients,
    stage: &StageRef,
    stage_arn: &str,
    settings: &MethodLogging,
    prior: Option<&MethodLogging>,
) -> Result<(), OpsError> {
    rest_only(stage)?;
    if let Some(p) = prior {
        clients
            .apigw
            .tag_resource()
            .resource_arn(stage_arn)
            .tags(PRIOR_TAG, p.to_tag())
            .send()
            .await
            .map_err(|e| OpsError::aws("TagResource", stage_arn, e))?;
    }
    update(clients, stage, settings).await
}

/// Put `settings` back and drop the stage tag.
pub async fn restore(
    clients: &RegionClients,
    stage: &StageRef,
    stage_arn: &str,
    settings: &MethodLogging,
) -> Result<(), OpsError> {
    rest_only(stage)?;
    update(clients, stage, settings).await?;
    clients
        .apigw
        .untag_resource()
        .resource_arn(stage_arn)
        .tag_keys(PRIOR_TAG)
        .send()
        .await
        .map_err(|e| OpsError::aws("UntagResource", stage_arn, e))?;
    Ok(())
}

async fn update(
    clients: &RegionClients,
    stage: &StageRef,
    settings: &MethodLogging,
) -> Result<(), OpsError> {
    let replace = |path: &str, value: String| {
        PatchOperation::builder()
            .op(Op::Replace)
            .path(path)
            .value(value)
            .build()
    };
    clients
        .apigw
        .update_stage()
        .rest_api_id(&stage.api_id)
        .stage_name(&stage.stage)
        .patch_operations(replace(
            "/*/*/logging/loglevel",
            settings.logging_level.clone(),
        ))
        .patch_operations(replace(
            "/*/*/logging/dataTrace",
            settings.data_trace.to_string(),
        ))
        .send()
        .await
        .map_err(|e| OpsError::aws("UpdateStage", target(stage), e))?;
    Ok(())
}
