//! Finding the pipeline's pieces from its CloudFormation stack: the decode function (export
//! `{stack}-DecodeFunctionArn`) and the queue URLs (outputs `QueueUrl`, `ShipperDlqUrl`, `DecodeDlqUrl`).

use std::collections::BTreeMap;

use super::OpsError;

/// Output keys of `cloudformation/pipeline.yaml` that the operations use.
pub const OUTPUT_QUEUE_URL: &str = "QueueUrl";
pub const OUTPUT_SHIPPER_DLQ_URL: &str = "ShipperDlqUrl";
pub const OUTPUT_DECODE_DLQ_URL: &str = "DecodeDlqUrl";
pub const OUTPUT_DECODE_FUNCTION_ARN: &str = "DecodeFunctionArn";

/// Name of the export holding the decode function's ARN.
pub fn decode_function_export(stack_name: &str) -> String {
    format!("{stack_name}-{OUTPUT_DECODE_FUNCTION_ARN}")
}

/// The decode function ARN: the export first, then the stack's output of the same key.
pub async fn decode_function_arn(
    cfn: &aws_sdk_cloudformation::Client,
    stack_name: &str,
) -> Result<String, OpsError> {
    let export = decode_function_export(stack_name);
    let mut token: Option<String> = None;
    loop {
        let page = cfn
            .list_exports()
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| OpsError::aws("ListExports", export.clone(), e))?;
        for e in page.exports() {
            if e.name() == Some(export.as_str()) {
                if let Some(v) = e.value().filter(|v| !v.is_empty()) {
                    return Ok(v.to_string());
                }
            }
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }
    // Without the export (e.g. a stack deployed by Terraform or renamed), its output will do.
    let outputs = stack_outputs(cfn, stack_name)
        .await
        .map_err(|e| OpsError::Stack {
            stack: stack_name.to_string(),
            message: format!(
                "no export {export} and the stack cannot be read ({e}); pass --function-arn"
            ),
        })?;
    outputs
        .get(OUTPUT_DECODE_FUNCTION_ARN)
        .cloned()
        .ok_or_else(|| OpsError::Stack {
            stack: stack_name.to_string(),
            message: format!(
                "neither the export {export} nor an output {OUTPUT_DECODE_FUNCTION_ARN} exists; pass --function-arn"
            ),
        })
}

/// All outputs of a stack, by key.
pub async fn stack_outputs(
    cfn: &aws_sdk_cloudformation::Client,
    stack_name: &str,
) -> Result<BTreeMap<String, String>, OpsError> {
    let resp = cfn
        .describe_stacks()
        .stack_name(stack_name)
        .send()
        .await
        .map_err(|e| OpsError::aws("DescribeStacks", stack_name, e))?;
    let stack = resp.stacks().first().ok_or_else(|| OpsError::Stack {
        stack: stack_name.to_string(),
        message: "not found".to_string(),
    })?;
    Ok(stack
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
        .collect())
}

/// One output, with an error naming the stack, the key and the flag that replaces it.
pub fn required_output(
    outputs: &BTreeMap<String, String>,
    stack_name: &str,
    key: &str,
    flag: &str,
) -> Result<String, OpsError> {
    outputs.get(key).cloned().ok_or_else(|| OpsError::Stack {
        stack: stack_name.to_string(),
        message: format!("has no output {key}; pass {flag}"),
    })
}
