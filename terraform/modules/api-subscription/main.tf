# Per-API enable: one subscription filter, named apigw-stream/{kind}/{api-id}/{stage}, from each API's
# access-log group to the decode function. Same resources as cloudformation/api-subscription.yaml.

locals {
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
  for_each          = { for k, a in var.apis : k => a if a.create_log_group }
  name              = each.value.log_group_name
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.log_group_kms_key_arn != "" ? var.log_group_kms_key_arn : null
}

resource "aws_cloudwatch_log_subscription_filter" "api" {
  for_each = var.apis
  name     = "apigw-stream/${each.value.api_kind}/${each.value.api_id}/${each.value.stage_name}"
  # Every line: the decoder parses and filters; a pattern here would drop lines without counting them.
  filter_pattern  = ""
  log_group_name  = each.value.create_log_group ? aws_cloudwatch_log_group.access[each.key].name : each.value.log_group_name
  destination_arn = var.decode_function_arn
}
