//! The CloudWatch Logs delivery of REST execution logs with events up to 1 MB: destination (a
//! log group of ours), source (the stage, log type `EXECUTION_LOGS`), the delivery between them.
//! Deletions treat "already gone" as done.

use aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata;
use aws_sdk_cloudwatchlogs::types::{
    DeliveryDestinationConfiguration, DeliveryDestinationType, OutputFormat,
};
use aws_sdk_cloudwatchlogs::Client;
use serde::Serialize;

use super::OpsError;
use crate::decode::execution::delivery::{OUTPUT_FORMAT, RECORD_FIELDS, REQUIRED_FIELDS};

/// The log type of REST execution logs in a delivery source.
pub const EXECUTION_LOG_TYPE: &str = "EXECUTION_LOGS";

/// What AWS allows for an `EXECUTION_LOGS` delivery to CloudWatch Logs
/// (`DescribeConfigurationTemplates`, service `apigateway`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Template {
    pub fields: Vec<String>,
    pub output_formats: Vec<String>,
}

/// Read the template of an `EXECUTION_LOGS` delivery to a log group.
pub async fn read_template(logs: &Client) -> Result<Template, OpsError> {
    let out = logs
        .describe_configuration_templates()
        .service("apigateway")
        .log_types(EXECUTION_LOG_TYPE)
        .delivery_destination_types(DeliveryDestinationType::Cwl)
        .send()
        .await
        .map_err(|e| OpsError::aws("DescribeConfigurationTemplates", "apigateway", e))?;
    let mut t = Template::default();
    for c in out.configuration_templates() {
        if c.log_type().is_some_and(|l| l != EXECUTION_LOG_TYPE) {
            continue;
        }
        t.fields.extend(
            c.allowed_fields()
                .iter()
                .filter_map(|f| f.name())
                .map(str::to_string),
        );
        t.output_formats.extend(
            c.allowed_output_formats()
                .iter()
                .map(|f| f.as_str().to_string()),
        );
    }
    t.fields.dedup();
    t.output_formats.dedup();
    Ok(t)
}

/// Why a 1 MB delivery cannot be created as the decoder needs it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    #[error(
        "AWS no longer offers the record field(s) {} for EXECUTION_LOGS deliveries (it offers: {}); \
         the decoder needs them to read the 1 MB delivery, so nothing was created",
        missing.join(", "),
        offered.join(", ")
    )]
    MissingFields {
        missing: Vec<String>,
        offered: Vec<String>,
    },
    #[error(
        "AWS does not offer the {OUTPUT_FORMAT} output format for EXECUTION_LOGS deliveries to a \
         log group (it offers: {}), so nothing was created",
        offered.join(", ")
    )]
    NoJsonFormat { offered: Vec<String> },
}

/// The record fields to create the delivery with, given what AWS says it allows (`None`: the
/// template could not be read), and the plan's notes. `Err` when AWS does not offer a field the
/// decoder relies on, or not the `json` output format.
pub fn record_fields(
    template: Option<&Template>,
) -> Result<(Vec<String>, Vec<String>), DeliveryError> {
    let documented = || RECORD_FIELDS.iter().map(|f| f.to_string()).collect();
    let Some(t) = template.filter(|t| !t.fields.is_empty()) else {
        return Ok((
            documented(),
            vec![format!(
                "the delivery is created with output format {OUTPUT_FORMAT} and the record fields {}",
                RECORD_FIELDS.join(", ")
            )],
        ));
    };
    let missing: Vec<&str> = REQUIRED_FIELDS
        .iter()
        .copied()
        .filter(|f| !t.fields.iter().any(|a| a == f))
        .collect();
    if !missing.is_empty() {
        return Err(DeliveryError::MissingFields {
            missing: missing.iter().map(|f| f.to_string()).collect(),
            offered: t.fields.clone(),
        });
    }
    if !t.output_formats.is_empty() && !t.output_formats.iter().any(|f| f == OUTPUT_FORMAT) {
        return Err(DeliveryError::NoJsonFormat {
            offered: t.output_formats.clone(),
        });
    }
    let mut notes = vec![format!(
        "AWS offers these record fields for EXECUTION_LOGS: {}; the delivery is created with all of \
         them and output format {OUTPUT_FORMAT}",
        t.fields.join(", ")
    )];
    let unknown: Vec<&str> = t
        .fields
        .iter()
        .map(String::as_str)
        .filter(|f| !RECORD_FIELDS.contains(f))
        .collect();
    if !unknown.is_empty() {
        notes.push(format!(
            "warning: AWS offers record field(s) the decoder does not read: {} (they are delivered \
             and ignored; tell the apigw-stream maintainers)",
            unknown.join(", ")
        ));
    }
    Ok((t.fields.clone(), notes))
}

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
        .output_format(OutputFormat::from(OUTPUT_FORMAT))
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
/// looked up: the destination may have been made by an earlier run), writing `record_fields`.
pub async fn create(
    logs: &Client,
    source_name: &str,
    destination_name: &str,
    record_fields: &[String],
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
        .set_record_fields(Some(record_fields.to_vec()))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_follow_the_template() {
        // Unreadable: the documented fields.
        let (fields, notes) = record_fields(None).unwrap();
        assert_eq!(fields, RECORD_FIELDS);
        assert!(notes[0].contains("payload"));
        // AWS offers one more: all of them, and a warning.
        let mut t = Template {
            fields: RECORD_FIELDS.iter().map(|f| f.to_string()).collect(),
            output_formats: vec!["json".into(), "plain".into()],
        };
        t.fields.push("request_id".into());
        let (fields, notes) = record_fields(Some(&t)).unwrap();
        assert_eq!(fields.len(), RECORD_FIELDS.len() + 1);
        assert!(notes
            .iter()
            .any(|n| n.starts_with("warning") && n.contains("request_id")));
        // The line itself is gone: stop.
        t.fields.retain(|f| f != "payload");
        let e = record_fields(Some(&t)).unwrap_err().to_string();
        assert!(e.contains("payload"), "{e}");
        // No json output.
        let t = Template {
            fields: RECORD_FIELDS.iter().map(|f| f.to_string()).collect(),
            output_formats: vec!["plain".into()],
        };
        assert!(record_fields(Some(&t))
            .unwrap_err()
            .to_string()
            .contains("json"));
    }
}
