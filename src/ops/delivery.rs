//! The CloudWatch Logs delivery of REST execution logs with events up to 1 MB: destination (a
//! log group of ours), source (the stage, log type `EXECUTION_LOGS`), the delivery between them.
//! Deletions treat "already gone" as done.

use aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata;
use aws_sdk_cloudwatchlogs::types::DeliveryDestinationConfiguration;
use aws_sdk_cloudwatchlogs::Client;

use crate::ops::execution::EXECUTION_LOG_TYPE;
use crate::ops::OpsError;

pub async fn put_destination(
    logs: &Client,
    name: &str,
    log_group_arn: &str,
) -> Result<(), OpsError> {
    let config = DeliveryDestinationConfiguration::builder()
        .destination_resource_arn(log_group_arn)
        .build()
        .map_err(|e| OpsError::Input(format!("delivery destination {name}: {e}")))?;
    logs.put_delivery_destination()
        .name(name)
        .delivery_destination_configuration(config)
        .send()
        .await
        .map_err(|e| OpsError::aws("PutDeliveryDestination", name, e))?;
    Ok(())
}

pub async fn put_source(logs: &Client, name: &str, resource_arn: &str) -> Result<(), OpsError> {
    logs.put_delivery_source()
        .name(name)
        .resource_arn(resource_arn)
        .log_type(EXECUTION_LOG_TYPE)
        .send()
        .await
        .map_err(|e| OpsError::aws("PutDeliverySource", name, e))?;
    Ok(())
}

/// Create the delivery from source `source_name` to destination `destination_name` (its ARN is
/// looked up: the destination may have been made by an earlier run).
pub async fn create(
    logs: &Client,
    source_name: &str,
    destination_name: &str,
) -> Result<(), OpsError> {
    let dest = logs
        .get_delivery_destination()
        .name(destination_name)
        .send()
        .await
        .map_err(|e| OpsError::aws("GetDeliveryDestination", destination_name, e))?;
    let Some(arn) = dest.delivery_destination().and_then(|d| d.arn()) else {
        return Err(OpsError::Input(format!(
            "delivery destination {destination_name} has no ARN"
        )));
    };
    logs.create_delivery()
        .delivery_source_name(source_name)
        .delivery_destination_arn(arn)
        .send()
        .await
        .map_err(|e| OpsError::aws("CreateDelivery", source_name, e))?;
    Ok(())
}

/// A deletion's result: "does not exist" is the goal reached.
fn deleted<T, E>(res: Result<T, E>, operation: &'static str, target: &str) -> Result<(), OpsError>
where
    E: std::error::Error + ProvideErrorMetadata,
{
    match res {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(()),
        Err(e) => Err(OpsError::aws(operation, target, e)),
    }
}

pub async fn delete(logs: &Client, id: &str) -> Result<(), OpsError> {
    let res = logs.delete_delivery().id(id).send().await;
    deleted(res, "DeleteDelivery", id)
}

pub async fn delete_source(logs: &Client, name: &str) -> Result<(), OpsError> {
    let res = logs.delete_delivery_source().name(name).send().await;
    deleted(res, "DeleteDeliverySource", name)
}

pub async fn delete_destination(logs: &Client, name: &str) -> Result<(), OpsError> {
    let res = logs.delete_delivery_destination().name(name).send().await;
    deleted(res, "DeleteDeliveryDestination", name)
}
