# Per-API enable: one subscription filter, named apigw-stream/{kind}/{api-id}/{stage}, from each API's
# access-log group (or, for REST, its execution-log group, or the 1 MB execution-log delivery's group created
# here) to the decode function. Same resources as cloudformation/api-subscription.yaml.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account = data.aws_caller_identity.current.account_id
  # Provider v6 attribute (`name` is deprecated there); versions.tf pins >= 6.0.
  region    = data.aws_region.current.region
  partition = data.aws_partition.current.partition

  # The group each API's filter is on: its access-log group, API Gateway's execution-log group, or ours for the
  # 1 MB delivery.
  subscribed_group = { for k, a in var.apis : k => (
    a.execution_mode == "large-bodies" ? "/aws/vendedlogs/apigw-stream/execution/${a.api_id}/${a.stage_name}" :
    a.execution_mode == "execution" ? "API-Gateway-Execution-Logs_${a.api_id}/${a.stage_name}" : a.log_group_name
  ) }
  large_bodies = { for k, a in var.apis : k => a if a.execution_mode == "large-bodies" }

  # Delivery source and destination names: 1-60 characters of [\w-], and a stage name may have 128. The rule the
  # CLI (src/control/ops/execution.rs, delivery_name) and CloudFormation share: apigw-stream-{api id}-{36-character id},
  # always 60 characters. Here and in the CLI the id is SHA-256 of "{api id}/{stage}", its first 32 hex digits
  # laid out 8-4-4-4-12; CloudFormation uses its stack id's uuid.
  delivery_hash  = { for k, a in local.large_bodies : k => sha256("${a.api_id}/${a.stage_name}") }
  delivery_names = { for k, h in local.delivery_hash : k => "apigw-stream-${local.large_bodies[k].api_id}-${substr(h, 0, 8)}-${substr(h, 8, 4)}-${substr(h, 12, 4)}-${substr(h, 16, 4)}-${substr(h, 20, 12)}" }

  # The 1 MB delivery's shape, written once: JSON records with API Gateway's EXECUTION_LOGS fields.
  delivery_output_format = "json"
  delivery_record_fields = ["resource_arn", "event_timestamp", "api_id", "stage", "resource_path", "http_method", "payload"]

  # Execution-log groups hold bodies: encrypted unless log_group_kms_key_arn is "none".
  log_group_key = contains(["", "none"], var.log_group_kms_key_arn) ? null : var.log_group_kms_key_arn

  # The recommended access-log formats (docs/architecture.md), for stages this configuration owns.
  access_log_formats = {
    rest      = jsonencode({ requestId = "$context.requestId", extendedRequestId = "$context.extendedRequestId", requestTimeEpoch = "$context.requestTimeEpoch", httpMethod = "$context.httpMethod", path = "$context.path", resourcePath = "$context.resourcePath", protocol = "$context.protocol", status = "$context.status", responseLength = "$context.responseLength", responseLatency = "$context.responseLatency", integrationLatency = "$context.integrationLatency", ip = "$context.identity.sourceIp", userAgent = "$context.identity.userAgent", domainName = "$context.domainName", apiId = "$context.apiId", stage = "$context.stage", accountId = "$context.accountId", caller = "$context.identity.caller", user = "$context.identity.user", apiKeyId = "$context.identity.apiKeyId", principalId = "$context.authorizer.principalId", errorMessage = "$context.error.message", wafResponseCode = "$context.wafResponseCode" })
    http      = jsonencode({ requestId = "$context.requestId", extendedRequestId = "$context.extendedRequestId", requestTimeEpoch = "$context.requestTimeEpoch", httpMethod = "$context.httpMethod", path = "$context.path", routeKey = "$context.routeKey", protocol = "$context.protocol", status = "$context.status", responseLength = "$context.responseLength", responseLatency = "$context.responseLatency", integrationLatency = "$context.integrationLatency", ip = "$context.identity.sourceIp", userAgent = "$context.identity.userAgent", domainName = "$context.domainName", apiId = "$context.apiId", stage = "$context.stage", accountId = "$context.accountId", caller = "$context.identity.caller", user = "$context.identity.user", principalId = "$context.authorizer.principalId", errorMessage = "$context.error.message" })
    websocket = jsonencode({ requestId = "$context.requestId", extendedRequestId = "$context.extendedRequestId", requestTimeEpoch = "$context.requestTimeEpoch", eventType = "$context.eventType", routeKey = "$context.routeKey", connectionId = "$context.connectionId", messageId = "$context.messageId", status = "$context.status", integrationLatency = "$context.integrationLatency", ip = "$context.identity.sourceIp", userAgent = "$context.identity.userAgent", domainName = "$context.domainName", apiId = "$context.apiId", stage = "$context.stage", caller = "$context.identity.caller", user = "$context.identity.user", apiKeyId = "$context.identity.apiKeyId", principalId = "$context.authorizer.principalId", errorMessage = "$context.error.message" })
  }
}

resource "aws_cloudwatch_log_group" "access" {
  #checkov:skip=CKV_AWS_158:Access-log groups are encrypted with log_group_kms_key_arn when given (metadata, no bodies); execution-log groups must have a key or an explicit "none".
  #checkov:skip=CKV_AWS_338:API Gateway access logs only need to live until the subscription delivers them; retention is log_retention_in_days.
  for_each          = { for k, a in var.apis : k => a if a.create_log_group && a.execution_mode != "large-bodies" }
  name              = local.subscribed_group[each.key]
  retention_in_days = var.log_retention_in_days
  kms_key_id        = local.log_group_key
  lifecycle {
    precondition {
      condition     = each.value.execution_mode == "access" || var.log_group_kms_key_arn != ""
      error_message = "Execution-log groups hold bodies: set log_group_kms_key_arn (for example the pipeline module's key_arn), or \"none\" to store them unencrypted."
    }
  }
}

resource "aws_cloudwatch_log_subscription_filter" "api" {
  for_each = var.apis
  name     = "apigw-stream/${each.value.api_kind}/${each.value.api_id}/${each.value.stage_name}"
  # Every line: the decoder parses and filters; a pattern here would drop lines without counting them.
  filter_pattern = ""
  log_group_name = (
    each.value.execution_mode == "large-bodies" ? aws_cloudwatch_log_group.delivery[each.key].name :
    each.value.create_log_group ? aws_cloudwatch_log_group.access[each.key].name : local.subscribed_group[each.key]
  )
  destination_arn = var.decode_function_arn
}

# The 1 MB execution-log delivery: API Gateway writes the stage's execution logs, uncut, into this group.
resource "aws_cloudwatch_log_group" "delivery" {
  #checkov:skip=CKV_AWS_158:Encrypted with log_group_kms_key_arn, which the precondition requires (or an explicit "none").
  #checkov:skip=CKV_AWS_338:Execution logs only need to live until the subscription delivers them; retention is log_retention_in_days.
  for_each          = local.large_bodies
  name              = local.subscribed_group[each.key]
  retention_in_days = var.log_retention_in_days
  kms_key_id        = local.log_group_key
  lifecycle {
    precondition {
      condition     = var.log_group_kms_key_arn != ""
      error_message = "Execution-log groups hold bodies: set log_group_kms_key_arn (for example the pipeline module's key_arn), or \"none\" to store them unencrypted."
    }
  }
}

resource "aws_cloudwatch_log_delivery_destination" "execution" {
  for_each      = local.large_bodies
  name          = local.delivery_names[each.key]
  output_format = local.delivery_output_format
  delivery_destination_configuration {
    destination_resource_arn = "arn:${local.partition}:logs:${local.region}:${local.account}:log-group:${aws_cloudwatch_log_group.delivery[each.key].name}"
  }
}

# The stage needs logging_level ERROR or INFO before this can be created.
resource "aws_cloudwatch_log_delivery_source" "execution" {
  for_each     = local.large_bodies
  name         = local.delivery_names[each.key]
  log_type     = "EXECUTION_LOGS"
  resource_arn = "arn:${local.partition}:apigateway:${local.region}:${local.account}:/restapis/${each.value.api_id}/stages/${each.value.stage_name}"
}

resource "aws_cloudwatch_log_delivery" "execution" {
  for_each                 = local.large_bodies
  delivery_source_name     = aws_cloudwatch_log_delivery_source.execution[each.key].name
  delivery_destination_arn = aws_cloudwatch_log_delivery_destination.execution[each.key].arn
  record_fields            = local.delivery_record_fields
}
