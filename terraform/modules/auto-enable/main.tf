# apigw-stream auto-enable: CloudTrail's API Gateway management events and a daily schedule invoke the control
# function, which runs `apigw-stream enable` for the stage named in the event (or every stage) under the policy.
# The same resources as cloudformation/auto-enable.yaml.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account   = data.aws_caller_identity.current.account_id
  region    = data.aws_region.current.region
  partition = data.aws_partition.current.partition
  apigw     = "arn:${local.partition}:apigateway:${local.region}:"
}

resource "aws_cloudwatch_log_group" "control" {
  #checkov:skip=CKV_AWS_158:It holds the control function's own log lines (stage names, changes made), no API traffic; a KMS key per member account would cost more than it protects.
  #checkov:skip=CKV_AWS_338:Retention is the log_retention_in_days variable; a year of function logs is the operator's choice.
  name              = "/aws/lambda/${var.name}-control"
  retention_in_days = var.log_retention_in_days
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_iam_role" "control" {
  name_prefix        = "${var.name}-"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

data "aws_iam_policy_document" "control" {
  #checkov:skip=CKV_AWS_111:The vended-delivery actions HTTP access logging and the 1 MB delivery use (CreateLogDelivery, PutResourcePolicy...) take no resource ARN; the rest name this region's APIs and this account's log groups.
  #checkov:skip=CKV_AWS_356:The vended-delivery actions take no resource ARN (the VendedDeliveries statement); the rest name their resources.
  statement {
    sid       = "OwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.control.arn}:*"]
  }
  statement {
    sid     = "Discover"
    actions = ["apigateway:GET"]
    resources = [
      "${local.apigw}:/restapis", "${local.apigw}:/restapis/*", "${local.apigw}:/apis", "${local.apigw}:/apis/*",
      "${local.apigw}:/account",
    ]
  }
  statement {
    sid       = "StageLogging"
    actions   = ["apigateway:PATCH"]
    resources = ["${local.apigw}:/restapis/*/stages/*", "${local.apigw}:/apis/*/stages/*"]
  }
  statement {
    sid       = "StageTags"
    actions   = ["apigateway:PUT", "apigateway:POST", "apigateway:DELETE"]
    resources = ["${local.apigw}:/tags/*"]
  }
  statement {
    sid = "LogGroupsAndFilters"
    actions = [
      "logs:CreateLogGroup", "logs:PutRetentionPolicy", "logs:DescribeLogGroups", "logs:DescribeSubscriptionFilters",
      "logs:PutSubscriptionFilter",
    ]
    resources = ["arn:${local.partition}:logs:${local.region}:${local.account}:log-group:*"]
  }
  statement {
    sid = "VendedDeliveries"
    actions = [
      "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:PutDeliverySource",
      "logs:PutDeliveryDestination", "logs:CreateDelivery", "logs:GetDeliveryDestination",
      "logs:DescribeDeliverySources", "logs:DescribeDeliveryDestinations", "logs:DescribeDeliveries",
    ]
    resources = ["*"]
  }
  statement {
    sid       = "FindDecodeFunction"
    actions   = ["lambda:GetFunction"]
    resources = ["arn:${local.partition}:lambda:${local.region}:${local.account}:function:*"]
  }
  dynamic "statement" {
    for_each = var.create_account_role ? [1] : []
    content {
      sid       = "AccountRole"
      actions   = ["iam:CreateRole", "iam:GetRole", "iam:AttachRolePolicy", "iam:PassRole"]
      resources = ["arn:${local.partition}:iam::${local.account}:role/apigw-stream-apigateway-cloudwatch"]
    }
  }
}

resource "aws_iam_role_policy" "control" {
  name   = "control"
  role   = aws_iam_role.control.id
  policy = data.aws_iam_policy_document.control.json
}

resource "aws_lambda_function" "control" {
  #checkov:skip=CKV_AWS_116:EventBridge invokes asynchronously; a failed event is retried twice and the next reconcile catches the rest.
  #checkov:skip=CKV_AWS_117:The function calls only AWS APIs and needs no VPC resources.
  #checkov:skip=CKV_AWS_173:The environment holds no secrets (policy and ARNs).
  #checkov:skip=CKV_AWS_50:X-Ray tracing adds cost per invocation; the function logs each action and emits EMF metrics.
  #checkov:skip=CKV_AWS_272:Artifacts are built by scripts/package and printed with their SHA-256; Lambda code signing is left to the operator.
  function_name                  = "${var.name}-control"
  description                    = "apigw-stream control (auto-enable new API Gateway stages, reconcile daily)"
  role                           = aws_iam_role.control.arn
  runtime                        = "provided.al2023"
  handler                        = "bootstrap"
  architectures                  = [var.architecture]
  s3_bucket                      = "${var.artifact_bucket}-${local.region}"
  s3_key                         = "${var.artifact_prefix}/${var.architecture}/apigw-stream-control.zip"
  memory_size                    = 256
  timeout                        = 900
  reserved_concurrent_executions = 1
  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.control.name
  }
  environment {
    variables = {
      DECODE_FUNCTION_ARN = var.destination_arn
      AUTO_ENABLE_SCOPE   = var.scope
      AUTO_ENABLE_MODE    = var.mode
      AUTO_ENABLE_DRY_RUN = tostring(var.dry_run)
      RETENTION_DAYS      = tostring(var.log_group_retention_in_days)
      CREATE_ACCOUNT_ROLE = tostring(var.create_account_role)
      LOG_LEVEL           = var.log_level
    }
  }
  depends_on = [aws_iam_role_policy.control]
}

resource "aws_lambda_function_event_invoke_config" "control" {
  function_name                = aws_lambda_function.control.function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 3600
}

resource "aws_cloudwatch_event_rule" "stage_events" {
  name        = "${var.name}-stage-events"
  description = "apigw-stream auto-enable: API Gateway stages created, updated, deployed or tagged"
  event_pattern = jsonencode({
    source        = ["aws.apigateway"]
    "detail-type" = ["AWS API Call via CloudTrail"]
    detail = {
      eventSource = ["apigateway.amazonaws.com"]
      eventName   = ["CreateStage", "UpdateStage", "CreateDeployment", "CreateApi", "TagResource"]
    }
  })
}

resource "aws_cloudwatch_event_target" "stage_events" {
  rule = aws_cloudwatch_event_rule.stage_events.name
  arn  = aws_lambda_function.control.arn
  retry_policy {
    maximum_retry_attempts       = 8
    maximum_event_age_in_seconds = 3600
  }
}

resource "aws_cloudwatch_event_rule" "reconcile" {
  name                = "${var.name}-reconcile"
  description         = "apigw-stream auto-enable: daily reconcile of every stage (repairs drift)"
  schedule_expression = var.reconcile_schedule
}

resource "aws_cloudwatch_event_target" "reconcile" {
  rule = aws_cloudwatch_event_rule.reconcile.name
  arn  = aws_lambda_function.control.arn
}

resource "aws_lambda_permission" "stage_events" {
  statement_id  = "stage-events"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.control.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.stage_events.arn
}

resource "aws_lambda_permission" "reconcile" {
  statement_id  = "reconcile"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.control.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.reconcile.arn
}

resource "aws_cloudwatch_metric_alarm" "stages_blocked" {
  alarm_name          = "${var.name}-stages-blocked"
  alarm_description   = "apigw-stream control: stages the policy admits could not be enabled; see the function's \"stage\" log lines."
  namespace           = "apigw-stream"
  metric_name         = "StagesBlocked"
  dimensions          = { Function = "control" }
  statistic           = "Sum"
  period              = 3600
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
}
