# The apigw-stream pipeline: decode Lambda (CloudWatch Logs subscription target) -> SQS queue -> shipper Lambda
# -> Bridge collector. Same resources and settings as cloudformation/pipeline.yaml.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account = data.aws_caller_identity.current.account_id
  # Provider v6 attribute (`name` is deprecated there); versions.tf pins >= 6.0.
  region    = data.aws_region.current.region
  partition = data.aws_partition.current.partition

  create_secret       = nonsensitive(var.client_secret != "")
  client_secret_arn   = local.create_secret ? aws_secretsmanager_secret.client_secret[0].arn : var.client_secret_arn
  alarm_actions       = var.create_alarm_topic ? [aws_sns_topic.alarms[0].arn] : (var.alarm_topic_arn != "" ? [var.alarm_topic_arn] : [])
  log_group_arn_in_us = "arn:${local.partition}:logs:${local.region}:${local.account}:log-group:*"
  archive             = var.archive_bucket != ""
  archive_stream      = local.archive ? aws_kinesis_firehose_delivery_stream.archive[0].name : ""
  archive_bucket_arn  = "arn:${local.partition}:s3:::${var.archive_bucket}"
  # The archive objects' key: a central archive account's key, or the module's own.
  archive_key_arn = var.archive_kms_key_arn != "" ? var.archive_kms_key_arn : aws_kms_key.this.arn
  # Log groups whose subscription filters may invoke decode (and whose payloads it decodes).
  api_log_group_patterns = ["/aws/apigateway/*", "API-Gateway-Execution-Logs_*", "API-Gateway-Access-Logs_*", "/apigw-stream/*", "/aws/vendedlogs/apigw-stream/*"]
  log_group_patterns     = concat(local.api_log_group_patterns, var.extra_log_group_pattern != "" ? [var.extra_log_group_pattern] : [])
}

# One customer-managed key for the queues, the created secret, the alarm topic, the log groups and the
# functions' environment, so every policy can name the key instead of "*".
data "aws_iam_policy_document" "key" {
  #checkov:skip=CKV_AWS_109:A key policy's Resource "*" means this key; the account root administers it through IAM.
  #checkov:skip=CKV_AWS_111:A key policy's Resource "*" means this key; the account root administers it through IAM.
  #checkov:skip=CKV_AWS_356:A key policy's Resource "*" means this key.
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account}:root"]
    }
  }
  statement {
    sid       = "CloudWatchLogsEncrypts"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = [local.log_group_arn_in_us]
    }
  }
  statement {
    sid       = "AlarmsPublishToTopic"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

# Without archive_kms_key_arn this key also encrypts the archive objects, which outlive the module: `terraform
# destroy` schedules its deletion after the longest window (30 days), and the module's README says how to keep it
# (`terraform state rm` before destroying). CloudFormation retains the key (DeletionPolicy Retain).
resource "aws_kms_key" "this" {
  description             = "apigw-stream ${var.name}: queues, secret, alarm topic, logs"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.key.json
  tags                    = var.tags
}

resource "aws_sqs_queue" "queue" {
  name                              = "${var.name}-queue"
  max_message_size                  = 1048576
  message_retention_seconds         = 1209600
  visibility_timeout_seconds        = 6 * var.shipper_timeout
  kms_master_key_id                 = aws_kms_key.this.id
  kms_data_key_reuse_period_seconds = 3600
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.shipper_dlq.arn
    maxReceiveCount     = var.max_receive_count
  })
  tags = var.tags
}

resource "aws_sqs_queue" "shipper_dlq" {
  name                              = "${var.name}-shipper-dlq"
  max_message_size                  = 1048576
  message_retention_seconds         = 1209600
  kms_master_key_id                 = aws_kms_key.this.id
  kms_data_key_reuse_period_seconds = 3600
  tags                              = var.tags
}

# On-failure destination of the decode function: Lambda writes the original awslogs event here after its
# async retries, so `apigw-stream replay` can feed it back.
resource "aws_sqs_queue" "decode_dlq" {
  name                              = "${var.name}-decode-dlq"
  max_message_size                  = 1048576
  message_retention_seconds         = 1209600
  kms_master_key_id                 = aws_kms_key.this.id
  kms_data_key_reuse_period_seconds = 3600
  tags                              = var.tags
}

# Parts of requests that arrived in different deliveries meet here (docs/stitching.md): FIFO, message group =
# request id; high-throughput mode suits groups that fine. Visibility 6x the decode timeout (Lambda's SQS guidance).
resource "aws_sqs_queue" "stitch" {
  name                              = "${var.name}-stitch.fifo"
  fifo_queue                        = true
  deduplication_scope               = "messageGroup"
  fifo_throughput_limit             = "perMessageGroupId"
  max_message_size                  = 1048576
  message_retention_seconds         = 1209600
  visibility_timeout_seconds        = 6 * var.decode_timeout
  kms_master_key_id                 = aws_kms_key.this.id
  kms_data_key_reuse_period_seconds = 3600
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.stitch_dlq.arn
    # Held parts come back several times within the hold; only unreadable messages reach this.
    maxReceiveCount = 50
  })
  tags = var.tags
}

resource "aws_sqs_queue" "stitch_dlq" {
  name                              = "${var.name}-stitch-dlq.fifo"
  fifo_queue                        = true
  max_message_size                  = 1048576
  message_retention_seconds         = 1209600
  kms_master_key_id                 = aws_kms_key.this.id
  kms_data_key_reuse_period_seconds = 3600
  tags                              = var.tags
}

resource "aws_secretsmanager_secret" "client_secret" {
  #checkov:skip=CKV2_AWS_57:The client secret is issued by the collector's console; rotate it there and update this secret.
  count       = local.create_secret ? 1 : 0
  name_prefix = "apigw-stream/${var.name}/client-secret-"
  description = "apigw-stream ${var.name}: Bridge OAuth2 client secret"
  kms_key_id  = aws_kms_key.this.arn
  tags        = var.tags
}

resource "aws_secretsmanager_secret_version" "client_secret" {
  count         = local.create_secret ? 1 : 0
  secret_id     = aws_secretsmanager_secret.client_secret[0].id
  secret_string = var.client_secret
}

resource "aws_cloudwatch_log_group" "decode" {
  #checkov:skip=CKV_AWS_338:Retention is the log_retention_in_days variable; a year of function logs is the operator's choice.
  name              = "/aws/lambda/${var.name}-decode"
  retention_in_days = var.log_retention_in_days
  kms_key_id        = aws_kms_key.this.arn
  tags              = var.tags
}

resource "aws_cloudwatch_log_group" "shipper" {
  #checkov:skip=CKV_AWS_338:Retention is the log_retention_in_days variable; a year of function logs is the operator's choice.
  name              = "/aws/lambda/${var.name}-shipper"
  retention_in_days = var.log_retention_in_days
  kms_key_id        = aws_kms_key.this.arn
  tags              = var.tags
}

data "aws_iam_policy_document" "assume_lambda" {
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

resource "aws_iam_role" "decode" {
  name_prefix        = "${var.name}-decode-"
  assume_role_policy = data.aws_iam_policy_document.assume_lambda.json
  tags               = var.tags
}

data "aws_iam_policy_document" "decode" {
  statement {
    sid       = "OwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.decode.arn}:*"]
  }
  statement {
    sid       = "SendToQueueAndDlq"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.queue.arn, aws_sqs_queue.decode_dlq.arn]
  }
  statement {
    sid       = "QueueKey"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.this.arn]
  }
  statement {
    sid = "StitchQueue"
    actions = ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes"]
    resources = [aws_sqs_queue.stitch.arn]
  }
  dynamic "statement" {
    for_each = local.archive ? [1] : []
    content {
      sid       = "PutToArchive"
      actions   = ["firehose:PutRecordBatch"]
      resources = [aws_kinesis_firehose_delivery_stream.archive[0].arn]
    }
  }
}

# The archive (archive_bucket set): Firehose batches the decode function's NDJSON chunks into gzip objects
# partitioned by arrival hour; the role may write only under apigw-stream/ in that bucket.
data "aws_iam_policy_document" "assume_firehose" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["firehose.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_iam_role" "archive" {
  count              = local.archive ? 1 : 0
  name_prefix        = "${var.name}-archive-"
  assume_role_policy = data.aws_iam_policy_document.assume_firehose.json
  tags               = var.tags
}

data "aws_iam_policy_document" "archive" {
  statement {
    sid       = "ArchiveBucket"
    actions   = ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"]
    resources = [local.archive_bucket_arn]
  }
  statement {
    sid       = "ArchiveObjects"
    actions   = ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"]
    resources = ["${local.archive_bucket_arn}/apigw-stream/*"]
  }
  statement {
    sid       = "ArchiveKey"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [local.archive_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "archive" {
  count  = local.archive ? 1 : 0
  name   = "archive"
  role   = aws_iam_role.archive[0].id
  policy = data.aws_iam_policy_document.archive.json
}

resource "aws_kinesis_firehose_delivery_stream" "archive" {
  count       = local.archive ? 1 : 0
  name        = "${var.name}-archive"
  destination = "extended_s3"
  server_side_encryption {
    enabled  = true
    key_type = "CUSTOMER_MANAGED_CMK"
    key_arn  = aws_kms_key.this.arn
  }
  extended_s3_configuration {
    bucket_arn          = local.archive_bucket_arn
    role_arn            = aws_iam_role.archive[0].arn
    prefix              = "apigw-stream/v1/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/"
    error_output_prefix = "apigw-stream/errors/!{firehose:error-output-type}/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/"
    compression_format  = "GZIP"
    buffering_interval  = 300
    buffering_size      = 64
    kms_key_arn         = local.archive_key_arn
  }
  tags       = var.tags
  depends_on = [aws_iam_role_policy.archive]
}

resource "aws_cloudwatch_metric_alarm" "archive_delivery" {
  count             = local.archive ? 1 : 0
  alarm_name        = "${var.name}-archive-delivery"
  alarm_description = "Firehose is failing to deliver the archive to S3 (see the errors/ prefix and the stream's metrics)."
  namespace         = "AWS/Firehose"
  metric_name       = "DeliveryToS3.Success"
  dimensions        = { DeliveryStreamName = local.archive_stream }
  # Sustained failure: no successful put in three 5-minute periods in a row (Firehose retries single failures).
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "archive_failed_records" {
  count               = local.archive ? 1 : 0
  alarm_name          = "${var.name}-archive-failed-records"
  alarm_description   = "Records delivered to the queue were not archived (decode metric ArchiveFailedRecords)."
  namespace           = "apigw-stream"
  metric_name         = "ArchiveFailedRecords"
  dimensions          = { Function = "decode" }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  tags                = var.tags
}

resource "aws_iam_role_policy" "decode" {
  name   = "decode"
  role   = aws_iam_role.decode.id
  policy = data.aws_iam_policy_document.decode.json
}

resource "aws_iam_role" "shipper" {
  name_prefix        = "${var.name}-shipper-"
  assume_role_policy = data.aws_iam_policy_document.assume_lambda.json
  tags               = var.tags
}

data "aws_iam_policy_document" "shipper" {
  statement {
    sid       = "OwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.shipper.arn}:*"]
  }
  statement {
    sid       = "ConsumeQueue"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"]
    resources = [aws_sqs_queue.queue.arn]
  }
  # Records the collector rejected are sent again on their own; the queue's URL and visibility timeout are read
  # once per instance.
  statement {
    sid       = "RequeueRejected"
    actions   = ["sqs:SendMessage", "sqs:GetQueueUrl"]
    resources = [aws_sqs_queue.queue.arn]
  }
  statement {
    sid       = "QueueKeyForSend"
    actions   = ["kms:GenerateDataKey"]
    resources = [aws_kms_key.this.arn]
  }
  # A message-move task acts with the caller's permissions on both queues.
  dynamic "statement" {
    for_each = var.auto_redrive ? [aws_sqs_queue.shipper_dlq.arn] : []
    content {
      sid = "RedriveShipperDlq"
      actions = ["sqs:StartMessageMoveTask", "sqs:ListMessageMoveTasks", "sqs:GetQueueUrl", "sqs:GetQueueAttributes",
      "sqs:ReceiveMessage", "sqs:DeleteMessage"]
      resources = [statement.value]
    }
  }
  statement {
    sid       = "ReadClientSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [local.client_secret_arn]
  }
  statement {
    sid       = "StackKey"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.this.arn]
  }
  dynamic "statement" {
    for_each = var.client_secret_kms_key_arn != "" ? [var.client_secret_kms_key_arn] : []
    content {
      sid       = "SecretKey"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["secretsmanager.${local.region}.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role_policy" "shipper" {
  name   = "shipper"
  role   = aws_iam_role.shipper.id
  policy = data.aws_iam_policy_document.shipper.json
}

resource "aws_lambda_function" "decode" {
  #checkov:skip=CKV_AWS_116:CloudWatch Logs invokes asynchronously; failures go to the decode DLQ through the event invoke config's on-failure destination.
  #checkov:skip=CKV_AWS_117:The function calls only SQS and needs no VPC resources; a VPC would add NAT or endpoints for no isolation gain.
  #checkov:skip=CKV_AWS_115:Reserved concurrency is the decode_reserved_concurrency variable (unreserved by default so throttling never delays logs).
  #checkov:skip=CKV_AWS_50:X-Ray tracing adds cost per invocation; the functions emit EMF metrics and structured logs instead.
  #checkov:skip=CKV_AWS_272:Artifacts are built by scripts/package and printed with their SHA-256; Lambda code signing is left to the operator.
  function_name                  = "${var.name}-decode"
  description                    = "apigw-stream decode (CloudWatch Logs subscription -> SQS)"
  runtime                        = "provided.al2023"
  handler                        = "bootstrap"
  architectures                  = [var.architecture]
  s3_bucket                      = "${var.artifact_bucket}-${local.region}"
  s3_key                         = "${var.artifact_prefix}/${var.architecture}/apigw-stream-decode.zip"
  memory_size                    = var.decode_memory_size
  timeout                        = var.decode_timeout
  reserved_concurrent_executions = var.decode_reserved_concurrency
  role                           = aws_iam_role.decode.arn
  kms_key_arn                    = aws_kms_key.this.arn
  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.decode.name
  }
  environment {
    variables = {
      QUEUE_URL              = aws_sqs_queue.queue.url
      MESSAGE_BYTES          = "1048576"
      MAX_PAYLOAD_BYTES      = tostring(var.max_payload_bytes)
      REST_API_ENABLED       = tostring(var.rest_api_enabled)
      HTTP_API_ENABLED       = tostring(var.http_api_enabled)
      STATIC_FILE_EXTENSIONS = var.static_file_extensions
      RESPONSE_CONTENT_TYPES = var.response_content_types
      REDACT_HEADERS         = var.redact_headers
      STITCH_QUEUE_URL       = aws_sqs_queue.stitch.url
      STITCH_HOLD_SECS       = tostring(var.stitch_hold_seconds)
      JOIN_STAGES            = var.join_stages
      ARCHIVE_STREAM         = local.archive_stream
      ALLOWED_LOG_GROUPS     = join(",", local.log_group_patterns)
      LOG_LEVEL              = var.log_level
    }
  }
  lifecycle {
    precondition {
      condition     = var.decode_reserved_concurrency == -1 || var.decode_reserved_concurrency > 10
      error_message = "decode_reserved_concurrency must be -1 (unreserved) or more than 10, the stitch queue mapping's maximum concurrency."
    }
  }
  tags = var.tags
}

resource "aws_lambda_function_event_invoke_config" "decode" {
  function_name                = aws_lambda_function.decode.function_name
  qualifier                    = "$LATEST"
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = var.decode_maximum_event_age_seconds
  destination_config {
    on_failure {
      destination = aws_sqs_queue.decode_dlq.arn
    }
  }
}

# Only subscription filters on API Gateway's log groups (and ours) in this account and region may invoke the
# decode function: whoever may subscribe some other group must not inject traffic attributed to an API.
# Widen with extra_log_group_pattern; decode also ignores other groups (ALLOWED_LOG_GROUPS).
resource "aws_lambda_permission" "logs" {
  for_each       = toset(local.log_group_patterns)
  function_name  = aws_lambda_function.decode.function_name
  action         = "lambda:InvokeFunction"
  principal      = "logs.amazonaws.com"
  source_account = local.account
  # CloudWatch Logs invokes as ...:log-group:NAME:* ; the :* suffix makes an exact name match too.
  source_arn = "arn:${local.partition}:logs:${local.region}:${local.account}:log-group:${each.value}:*"
}

resource "aws_lambda_function" "shipper" {
  #checkov:skip=CKV_AWS_116:Invoked by an SQS event source mapping; failed messages reach the shipper DLQ through the queue's redrive policy.
  #checkov:skip=CKV_AWS_117:The collector is reached over the internet by HTTPS; set up a VPC outside this module if the Bridge is private.
  #checkov:skip=CKV_AWS_115:Concurrency is bounded by the event source mapping's scaling_config (shipper_maximum_concurrency); reserving is the shipper_reserved_concurrency variable.
  #checkov:skip=CKV_AWS_50:X-Ray tracing adds cost per invocation; the functions emit EMF metrics and structured logs instead.
  #checkov:skip=CKV_AWS_272:Artifacts are built by scripts/package and printed with their SHA-256; Lambda code signing is left to the operator.
  function_name                  = "${var.name}-shipper"
  description                    = "apigw-stream shipper (SQS -> Bridge collector)"
  runtime                        = "provided.al2023"
  handler                        = "bootstrap"
  architectures                  = [var.architecture]
  s3_bucket                      = "${var.artifact_bucket}-${local.region}"
  s3_key                         = "${var.artifact_prefix}/${var.architecture}/apigw-stream-shipper.zip"
  memory_size                    = var.shipper_memory_size
  timeout                        = var.shipper_timeout
  reserved_concurrent_executions = var.shipper_reserved_concurrency
  role                           = aws_iam_role.shipper.arn
  kms_key_arn                    = aws_kms_key.this.arn
  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.shipper.name
  }
  environment {
    variables = {
      BRIDGE_URL                = var.bridge_url
      AUTH_URL                  = var.auth_url
      CLIENT_ID                 = var.client_id
      CLIENT_SECRET_ARN         = local.client_secret_arn
      BRIDGE_FORMAT             = var.bridge_format
      WINDOW_BYTES              = tostring(var.window_bytes)
      REQUEST_TIMEOUT_MS        = tostring(var.request_timeout_ms)
      ALLOW_INSECURE_HTTP       = tostring(var.allow_insecure_http)
      RETRY_MAX_VISIBILITY_SECS = tostring(var.retry_max_visibility_seconds)
      REDRIVE_DLQ_ARN           = var.auto_redrive ? aws_sqs_queue.shipper_dlq.arn : ""
      REDRIVE_COOLDOWN_SECS     = tostring(var.redrive_cooldown_seconds)
      LOG_LEVEL                 = var.log_level
    }
  }
  lifecycle {
    precondition {
      condition     = local.create_secret != (var.client_secret_arn != "")
      error_message = "Give exactly one of client_secret_arn (an existing secret) and client_secret (the module stores it)."
    }
    precondition {
      condition     = var.shipper_reserved_concurrency == -1 || var.shipper_reserved_concurrency >= var.shipper_maximum_concurrency
      error_message = "shipper_reserved_concurrency must be -1 (unreserved) or at least shipper_maximum_concurrency: less throttles the event source mapping and messages reach the DLQ."
    }
  }
  tags = var.tags
}

resource "aws_lambda_event_source_mapping" "shipper" {
  event_source_arn                   = aws_sqs_queue.queue.arn
  function_name                      = aws_lambda_function.shipper.arn
  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.maximum_batching_window_in_seconds
  function_response_types            = ["ReportBatchItemFailures"]
  scaling_config {
    maximum_concurrency = var.shipper_maximum_concurrency
  }
  # The role's queue permissions must exist before Lambda starts polling.
  depends_on = [aws_iam_role_policy.shipper]
}

# The decode function also consumes the stitch queue. FIFO: batches of at most 10, no batching window;
# Lambda scales with active message groups (one per request), so the concurrency is capped.
resource "aws_lambda_event_source_mapping" "stitch" {
  event_source_arn        = aws_sqs_queue.stitch.arn
  function_name           = aws_lambda_function.decode.arn
  batch_size              = 10
  function_response_types = ["ReportBatchItemFailures"]
  scaling_config {
    maximum_concurrency = 10
  }
  # The role's queue permissions must exist before Lambda starts polling.
  depends_on = [aws_iam_role_policy.decode]
}

resource "aws_sns_topic" "alarms" {
  count             = var.create_alarm_topic ? 1 : 0
  name_prefix       = "${var.name}-alarms-"
  display_name      = "apigw-stream ${var.name} alarms"
  kms_master_key_id = aws_kms_key.this.id
  tags              = var.tags
}

data "aws_iam_policy_document" "alarm_topic" {
  count = var.create_alarm_topic ? 1 : 0
  statement {
    sid       = "AlarmsPublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms[0].arn]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_sns_topic_policy" "alarms" {
  count  = var.create_alarm_topic ? 1 : 0
  arn    = aws_sns_topic.alarms[0].arn
  policy = data.aws_iam_policy_document.alarm_topic[0].json
}

resource "aws_sns_topic_subscription" "alarm_email" {
  count     = var.create_alarm_topic && var.alarm_email != "" ? 1 : 0
  topic_arn = aws_sns_topic.alarms[0].arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

resource "aws_cloudwatch_metric_alarm" "shipper_dlq" {
  alarm_name          = "${var.name}-shipper-dlq-not-empty"
  alarm_description   = "Messages the shipper could not deliver are waiting in the shipper DLQ (apigw-stream replay)."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.shipper_dlq.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "decode_dlq" {
  alarm_name          = "${var.name}-decode-dlq-not-empty"
  alarm_description   = "Log payloads the decode function failed on are waiting in the decode DLQ (apigw-stream replay)."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.decode_dlq.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "stitch_dlq" {
  alarm_name          = "${var.name}-stitch-dlq-not-empty"
  alarm_description   = "Messages of the stitch queue that are not request parts (unreadable) are in the stitch DLQ."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.stitch_dlq.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "queue_age" {
  alarm_name          = "${var.name}-queue-oldest-message-age"
  alarm_description   = "The oldest queued frame is getting old; the shipper is falling behind or failing."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.queue.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.queue_age_alarm_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "shipper_dlq_age" {
  alarm_name          = "${var.name}-shipper-dlq-oldest-message-age"
  alarm_description   = "A message has waited in the shipper DLQ too long (automatic redrive did not clear it; see its cause in the shipper log)."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.shipper_dlq.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.dlq_age_alarm_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  tags                = var.tags
}

# The shipper answers with a partial batch response, so its Errors metric misses failed deliveries; its EMF
# metric RecordsFailed counts them.
resource "aws_cloudwatch_metric_alarm" "records_failed" {
  alarm_name          = "${var.name}-records-failed"
  alarm_description   = "Records were not delivered to the collector (they are retried; see the shipper log for why)."
  namespace           = "apigw-stream"
  metric_name         = "RecordsFailed"
  dimensions          = { Function = "shipper" }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "lines_unparsed" {
  alarm_name          = "${var.name}-lines-unparsed"
  alarm_description   = "Too many log events are not access-log lines (a changed access-log format, or execution logs subscribed)."
  evaluation_periods  = 1
  threshold           = var.unparsed_alarm_percent
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  metric_query {
    id = "unparsed"
    metric {
      namespace   = "apigw-stream"
      metric_name = "LinesUnparsed"
      dimensions  = { Function = "decode" }
      period      = 900
      stat        = "Sum"
    }
  }
  metric_query {
    id = "events"
    metric {
      namespace   = "apigw-stream"
      metric_name = "LogEvents"
      dimensions  = { Function = "decode" }
      period      = 900
      stat        = "Sum"
    }
  }
  metric_query {
    id          = "rate"
    label       = "Percent of log events unparsed"
    expression  = "IF(events > 0, 100 * unparsed / events, 0)"
    return_data = true
  }
  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "shipper_errors" {
  alarm_name          = "${var.name}-shipper-errors"
  alarm_description   = "The shipper function failed invocations."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.shipper.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  tags                = var.tags
}

# A failed decode invocation is retried by Lambda and then lands in the decode DLQ; errors say so first.
resource "aws_cloudwatch_metric_alarm" "decode_errors" {
  alarm_name          = "${var.name}-decode-errors"
  alarm_description   = "The decode function failed invocations (Lambda retries them, then the payload goes to the decode DLQ)."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.decode.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  tags                = var.tags
}

# Throttled log deliveries wait in Lambda's async queue (up to decode_maximum_event_age_seconds), then the DLQ.
resource "aws_cloudwatch_metric_alarm" "decode_throttles" {
  alarm_name          = "${var.name}-decode-throttles"
  alarm_description   = "The decode function is throttled (reserved or account concurrency); log payloads are delayed."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = aws_lambda_function.decode.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  tags                = var.tags
}

# Parts are held at most stitch_hold_seconds (600 at most) before they go on alone: an older message is stuck.
resource "aws_cloudwatch_metric_alarm" "stitch_queue_age" {
  alarm_name          = "${var.name}-stitch-queue-oldest-message-age"
  alarm_description   = "A request part has waited in the stitch queue far longer than the stitch hold (decode is failing on it)."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.stitch.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1800
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  tags                = var.tags
}

# API Gateway's account-level CloudWatch Logs role (one per region; off by default). Provider v6 resets the account
# setting when aws_api_gateway_account is destroyed, which stops REST logging for every API of the region: the role
# and the setting carry prevent_destroy, and the module's README says how to remove them on purpose.
data "aws_iam_policy_document" "assume_apigateway" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_iam_role" "apigateway_cloudwatch" {
  count              = var.create_api_gateway_account_role ? 1 : 0
  name_prefix        = "${var.name}-apigw-cwl-"
  assume_role_policy = data.aws_iam_policy_document.assume_apigateway.json
  tags               = var.tags
  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_iam_role_policy_attachment" "apigateway_cloudwatch" {
  count      = var.create_api_gateway_account_role ? 1 : 0
  role       = aws_iam_role.apigateway_cloudwatch[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}

resource "aws_api_gateway_account" "this" {
  count               = var.create_api_gateway_account_role ? 1 : 0
  cloudwatch_role_arn = aws_iam_role.apigateway_cloudwatch[0].arn
  depends_on          = [aws_iam_role_policy_attachment.apigateway_cloudwatch]
  lifecycle {
    prevent_destroy = true
  }
}
