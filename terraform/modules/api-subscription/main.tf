# Per-API enable: one subscription filter, named apigw-stream/{kind}/{api-id}/{stage}, from each API's
# access-log group (or, for REST, its execution-log group, or the 1 MB execution-log delivery's group created
# here) to the decode function. Same resources as cloudformation/api-subscription.yaml.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account   = data.aws_caller_identity.current.account_id
  region    = data.aws_region.current.name
  partition = data.aws_partition.current.partition

  # The group each API's filter is on: its access-log group, API Gateway's execution-log group, or ours for the
  # 1 MB delivery.
  subscribed_group = { for k, a in var.apis : k => (
    a.execution_mode == "large-bodies" ? "/aws/vendedlogs/apigw-stream/execution/${a.api_id}/${a.stage_name}" :
    a.execution_mode == "execution" ? "API-Gateway-Execution-Logs_${a.api_id}/${a.stage_name}" : a.log_group_name
  ) }
  large_bodies = { for k, a in var.apis : k => a if a.execution_mode == "large-bodies" }

  # The recommended access-log formats (docs/architecture.md), for stages this configuration owns.
  access_log_formats = {
    rest      = jsonencode({ requestId = "$context.requestId", extendedRequestId = "$context.extendedRequestId", requestTimeEpoch = "$context.requestTimeEpoch", httpMethod = "$context.httpMethod", path = "$context.path", resourcePath = "$context.resourcePath", protocol = "$context.protocol", status = "$context.status", responseLength = "$context.responseLength", responseLatency = "$context.responseLatency", integrationLatency = "$context.integrationLatency", ip = "$context.identity.sourceIp", userAgent = "$context.identity.userAgent", domainName = "$context.domainName", apiId = "$context.apiId", stage = "$context.stage", accountId = "$context.accountId", caller = "$context.identity.caller", user = "$context.identity.user", apiKeyId = "$context.identity.apiKeyId", principalId = "$context.authorizer.principalId", errorMessage = "$context.error.message", wafResponseCode = "$context.wafResponseCode" })
    http      = jsonencode({ requestId = "$context.requestId", extendedRequestId = "$context.extendedRequestId", requestTimeEpoch = "$context.requestTimeEpoch", httpMethod = "$context.httpMethod", path = "$context.path", routeKey = "$context.routeKey", protocol = "$context.protocol", status = "$context.status", responseLength = "$context.responseLength", responseLatency = "$context.responseLatency", integrationLatency = "$context.integrationLatency", ip = "$context.identity.sourceIp", userAgent = "$context.identity.userAgent", domainName = "$context.domainName", apiId = "$context.apiId", stage = "$context.stage", accountId = "$context.accountId", caller = "$context.identity.caller", user = "$context.identity.user", principalId = "$context.authorizer.principalId", errorMessage = "$context.error.message" })
    websocket = jsonencode({ requestId = "$context.requestId", extendedRequestId = "$context.extendedRequestId", requestTimeEpoch = "$context.requestTimeEpoch", eventType = "$context.eventType", routeKey = "$context.routeKey", connectionId = "$context.connectionId", messageId = "$context.messageId", status = "$context.status", integrationLatency = "$context.integrationLatency", ip = "$context.identity.sourceIp", userAgent = "$context.identity.userAgent", domainName = "$context.domainName", apiId = "$context.apiId", stage = "$context.stage", caller = "$context.identity.caller", user = "$context.identity.user", apiKeyId = "$context.identity.apiKeyId", principalId = "$context.authorizer.principalId", errorMessage = "$context.error.message" })
  }
}

resource "aws_cloudwatch_log_group" "access" {
  #checkov:skip=CKV_AWS_158:Encryption is optional (log_group_kms_key_arn); access logs hold request metadata only, no bodies.
  #checkov:skip=CKV_AWS_338:API Gateway access logs only need to live until the subscription delivers them; retention is log_retention_in_days.
  for_each          = { for k, a in var.apis : k => a if a.create_log_group && a.execution_mode != "large-bodies" }
  name              = local.subscribed_group[each.key]
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.log_group_kms_key_arn != "" ? var.log_group_kms_key_arn : null
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
  #checkov:skip=CKV_AWS_158:Encryption is optional (log_group_kms_key_arn); the delivery needs the key to allow delivery.logs.amazonaws.com.
  #checkov:skip=CKV_AWS_338:Execution logs only need to live until the subscription delivers them; retention is log_retention_in_days.
  for_each          = local.large_bodies
  name              = local.subscribed_group[each.key]
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.log_group_kms_key_arn != "" ? var.log_group_kms_key_arn : null
}

resource "aws_cloudwatch_log_delivery_destination" "execution" {
  for_each = local.large_bodies
  name     = "apigw-stream-${each.value.api_id}-${each.value.stage_name}"
  delivery_destination_configuration {
    destination_resource_arn = "arn:${local.partition}:logs:${local.region}:${local.account}:log-group:${aws_cloudwatch_log_group.delivery[each.key].name}"
  }
}

# The stage needs logging_level ERROR or INFO before this can be created.
resource "aws_cloudwatch_log_delivery_source" "execution" {
  for_each     = local.large_bodies
  name         = "apigw-stream-${each.value.api_id}-${each.value.stage_name}"
  log_type     = "EXECUTION_LOGS"
  resource_arn = "arn:${local.partition}:apigateway:${local.region}:${local.account}:/restapis/${each.value.api_id}/stages/${each.value.stage_name}"
}

resource "aws_cloudwatch_log_delivery" "execution" {
  for_each                 = local.large_bodies
  delivery_source_name     = aws_cloudwatch_log_delivery_source.execution[each.key].name
  delivery_destination_arn = aws_cloudwatch_log_delivery_destination.execution[each.key].arn
}
