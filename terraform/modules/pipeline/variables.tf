# Variables mirror the parameters of cloudformation/pipeline.yaml (snake_case of the same names, same defaults);
# tests/iac/test_parity.py holds them together.

variable "name" {
  description = "Name prefix of the functions and log groups (the CloudFormation stack name plays this role)."
  type        = string
  default     = "apigw-stream"
  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9-]{0,26}$", var.name))
    error_message = "name must be 1..27 letters, digits and hyphens starting with a letter: every name derived from it then fits AWS's limits (IAM role name_prefix 38, function 64, queue 80)."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "artifact_bucket" {
  description = "Bucket name prefix holding the function zips; the module reads from \"{artifact_bucket}-{region}\" (scripts/package --bucket uploads there)."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,40}[a-z0-9]$", var.artifact_bucket))
    error_message = "artifact_bucket must be a bucket name prefix of 3..42 characters."
  }
}

variable "artifact_prefix" {
  description = "Key prefix of the zips: the functions load {artifact_prefix}/{architecture}/apigw-stream-decode.zip and .../apigw-stream-shipper.zip. Change it (a new version) to update the code."
  type        = string
  default     = "apigw-stream/0.1.0"
  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()/-]+[^/]$", var.artifact_prefix))
    error_message = "artifact_prefix must be an S3 key prefix not ending in /."
  }
}

variable "architecture" {
  description = "Instruction set the zips were built for (scripts/package --arch)."
  type        = string
  default     = "arm64"
  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "bridge_url" {
  description = "Collector base URL (the shipper POSTs to {bridge_url}/api-transactions for the uap format)."
  type        = string
  validation {
    condition     = can(regex("^https?://.+", var.bridge_url))
    error_message = "bridge_url must be an http(s) URL."
  }
}

variable "auth_url" {
  description = "OAuth2 token endpoint (client credentials). Empty sends without a token."
  type        = string
  default     = ""
}

variable "client_id" {
  description = "OAuth2 client id."
  type        = string
  default     = ""
}

variable "client_secret_arn" {
  description = "ARN of an existing Secrets Manager secret holding the OAuth2 client secret. Leave empty when giving client_secret instead."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^(arn:[a-z-]+:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+)?$", var.client_secret_arn))
    error_message = "client_secret_arn must be a Secrets Manager secret ARN or empty."
  }
}

variable "client_secret_kms_key_arn" {
  description = "Customer-managed KMS key ARN encrypting the existing secret; empty when it uses the AWS-managed key."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^(arn:[a-z-]+:kms:[a-z0-9-]+:[0-9]{12}:key/.+)?$", var.client_secret_kms_key_arn))
    error_message = "client_secret_kms_key_arn must be a KMS key ARN or empty."
  }
}

variable "client_secret" {
  description = "OAuth2 client secret; when given the module stores it in a new secret (leave client_secret_arn empty)."
  type        = string
  default     = ""
  sensitive   = true
}

variable "bridge_format" {
  description = "Collector wire format: uap or ndjson."
  type        = string
  default     = "uap"
  validation {
    condition     = contains(["uap", "ndjson"], var.bridge_format)
    error_message = "bridge_format must be uap or ndjson."
  }
}

variable "window_bytes" {
  description = "Largest request body the shipper sends to the collector."
  type        = number
  default     = 1000000
  validation {
    condition     = var.window_bytes >= 4096 && var.window_bytes <= 10000000
    error_message = "window_bytes must be 4096..10000000."
  }
}

variable "request_timeout_ms" {
  description = "Timeout of one collector request, in milliseconds."
  type        = number
  default     = 10000
  validation {
    condition     = var.request_timeout_ms >= 100 && var.request_timeout_ms <= 600000
    error_message = "request_timeout_ms must be 100..600000."
  }
}

variable "allow_insecure_http" {
  description = "Allow http:// collector and token URLs (testing only)."
  type        = bool
  default     = false
}

variable "decode_memory_size" {
  description = "Decode function memory (MB). Peak RSS measured 21 MiB on the largest delivery and 78 MiB refusing a gzip bomb at the 64 MiB max_payload_bytes cap; raise it with max_payload_bytes."
  type        = number
  default     = 128
  validation {
    condition     = var.decode_memory_size >= 128 && var.decode_memory_size <= 10240
    error_message = "decode_memory_size must be 128..10240."
  }
}

variable "decode_timeout" {
  description = "Decode function timeout in seconds; the stitch queue's visibility timeout is 6x this."
  type        = number
  default     = 60
  validation {
    condition     = contains([3, 5, 10, 15, 30, 60, 120, 180, 300, 600, 900], var.decode_timeout)
    error_message = "decode_timeout must be one of 3, 5, 10, 15, 30, 60, 120, 180, 300, 600, 900 (as CloudFormation's DecodeTimeout)."
  }
}

variable "decode_reserved_concurrency" {
  description = "Reserved concurrency of the decode function; -1 leaves it unreserved. When reserved it must exceed the stitch queue mapping's maximum concurrency (10)."
  type        = number
  default     = -1
  validation {
    condition     = var.decode_reserved_concurrency >= -1
    error_message = "decode_reserved_concurrency must be -1 (unreserved) or a count."
  }
}

variable "decode_maximum_event_age_seconds" {
  description = "How long Lambda keeps retrying an undelivered log payload before it goes to the decode DLQ."
  type        = number
  default     = 21600
  validation {
    condition     = var.decode_maximum_event_age_seconds >= 60 && var.decode_maximum_event_age_seconds <= 21600
    error_message = "decode_maximum_event_age_seconds must be 60..21600."
  }
}

variable "max_payload_bytes" {
  description = "Cap on one decompressed CloudWatch Logs payload (gzip-bomb guard)."
  type        = number
  default     = 67108864
  validation {
    condition     = var.max_payload_bytes >= 1048576
    error_message = "max_payload_bytes must be at least 1048576."
  }
}

variable "stitch_hold_seconds" {
  description = "Seconds a part of a request (cut across two log deliveries, or one source of a joined stage) waits in the stitch queue for the rest before it is delivered alone, flagged partial (docs/stitching.md)."
  type        = number
  default     = 60
  validation {
    condition     = var.stitch_hold_seconds >= 0 && var.stitch_hold_seconds <= 600
    error_message = "stitch_hold_seconds must be between 0 and 600."
  }
}

variable "join_stages" {
  description = "REST stages ({api-id}/{stage}, comma-separated; * for all) whose access-log records and execution logs become one transaction. Empty: none."
  type        = string
  default     = ""
}

variable "rest_api_enabled" {
  description = "Ship REST API records."
  type        = bool
  default     = true
}

variable "http_api_enabled" {
  description = "Ship HTTP API records."
  type        = bool
  default     = true
}

variable "static_file_extensions" {
  description = "Comma-separated path extensions dropped as static files (counted, not shipped); empty means this list."
  type        = string
  default     = "html,htm,css,js,mjs,map,js.map,png,jpg,jpeg,gif,svg,webp,ico,bmp,avif,woff,woff2,ttf,otf,eot,mp4,webm,ogg,ogv,avi,mov,wmv,flv,mpeg,mp3,wav,oga,pdf,zip,tar,gz,7z,rar,bz2,apk,exe,dmg,iso,img,swf,pptx"
}

variable "response_content_types" {
  description = "Comma-separated response content types to keep, where a record knows its type (access logs never do); empty means this list."
  type        = string
  default     = "application/json,application/*+json,application/xml,text/xml,application/*+xml,text/plain,application/x-www-form-urlencoded,application/graphql,multipart/form-data"
}

variable "redact_headers" {
  description = "Comma-separated header names whose values are redacted before shipping; empty means this list."
  type        = string
  default     = "authorization,cookie,set-cookie,x-api-key,proxy-authorization"
}

variable "shipper_memory_size" {
  description = "Shipper function memory (MB)."
  type        = number
  default     = 256
  validation {
    condition     = var.shipper_memory_size >= 128 && var.shipper_memory_size <= 10240
    error_message = "shipper_memory_size must be 128..10240."
  }
}

variable "shipper_timeout" {
  description = "Shipper function timeout in seconds; the queue's visibility timeout is 6x this."
  type        = number
  default     = 60
  validation {
    condition     = contains([30, 60, 120, 180, 300, 600, 900], var.shipper_timeout)
    error_message = "shipper_timeout must be one of 30, 60, 120, 180, 300, 600, 900 (as CloudFormation's ShipperTimeout)."
  }
}

variable "shipper_reserved_concurrency" {
  description = "Reserved concurrency of the shipper function; -1 leaves it unreserved. When reserved it must be at least shipper_maximum_concurrency, or Lambda throttles the event source mapping."
  type        = number
  default     = -1
  validation {
    condition     = var.shipper_reserved_concurrency >= -1
    error_message = "shipper_reserved_concurrency must be -1 (unreserved) or a count."
  }
}

variable "shipper_maximum_concurrency" {
  description = "Most concurrent shipper invocations the event source mapping starts (bounds Bridge load)."
  type        = number
  default     = 10
  validation {
    condition     = var.shipper_maximum_concurrency >= 2 && var.shipper_maximum_concurrency <= 1000
    error_message = "shipper_maximum_concurrency must be 2..1000."
  }
}

variable "batch_size" {
  description = "Most queue messages per shipper invocation."
  type        = number
  default     = 50
  validation {
    condition     = var.batch_size >= 1 && var.batch_size <= 10000
    error_message = "batch_size must be 1..10000."
  }
}

variable "maximum_batching_window_in_seconds" {
  description = "How long the event source mapping gathers messages before invoking the shipper."
  type        = number
  default     = 5
  validation {
    condition     = var.maximum_batching_window_in_seconds >= 1 && var.maximum_batching_window_in_seconds <= 300
    error_message = "maximum_batching_window_in_seconds must be 1..300."
  }
}

variable "max_receive_count" {
  description = "Receives before a queue message moves to the shipper DLQ. With the shipper's growing visibility (retry_max_visibility_seconds) the default 15 outlasts a 33-hour collector outage at shipper_timeout 60 (README \"Outages\")."
  type        = number
  default     = 15
  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000
    error_message = "max_receive_count must be 1..1000."
  }
}

variable "retry_max_visibility_seconds" {
  description = "A message that failed for a transient reason is hidden for the queue's visibility timeout doubled per receive, up to this (0 turns the growth off)."
  type        = number
  default     = 10800
  validation {
    condition     = var.retry_max_visibility_seconds >= 0 && var.retry_max_visibility_seconds <= 43200
    error_message = "retry_max_visibility_seconds must be 0..43200 (SQS's 12-hour maximum)."
  }
}

variable "auto_redrive" {
  description = "When deliveries succeed again after messages were dead-lettered, the shipper moves the shipper DLQ back to the queue (an SQS message-move task, at most once per redrive_cooldown_seconds)."
  type        = bool
  default     = true
}

variable "redrive_cooldown_seconds" {
  description = "Least time between two automatic redrive starts."
  type        = number
  default     = 900
  validation {
    condition     = var.redrive_cooldown_seconds >= 60 && var.redrive_cooldown_seconds <= 86400
    error_message = "redrive_cooldown_seconds must be 60..86400."
  }
}

variable "log_level" {
  description = "error, warn, info, debug or trace."
  type        = string
  default     = "info"
  validation {
    condition     = contains(["error", "warn", "info", "debug", "trace"], var.log_level)
    error_message = "log_level must be error, warn, info, debug or trace."
  }
}

variable "log_retention_in_days" {
  description = "Retention of the functions' log groups."
  type        = number
  default     = 30
  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days must be a CloudWatch Logs retention value."
  }
}

variable "create_alarm_topic" {
  description = "Create an SNS topic (KMS-encrypted) for the alarms."
  type        = bool
  default     = false
}

variable "alarm_email" {
  description = "Email subscribed to the created alarm topic (optional)."
  type        = string
  default     = ""
}

variable "alarm_topic_arn" {
  description = "Existing SNS topic ARN the alarms notify (used when create_alarm_topic is false; optional)."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^(arn:[a-z-]+:sns:[a-z0-9-]+:[0-9]{12}:.+)?$", var.alarm_topic_arn))
    error_message = "alarm_topic_arn must be an SNS topic ARN or empty."
  }
}

variable "queue_age_alarm_seconds" {
  description = "Alarm when the oldest queue message is older than this."
  type        = number
  default     = 900
  validation {
    condition     = var.queue_age_alarm_seconds >= 60
    error_message = "queue_age_alarm_seconds must be at least 60."
  }
}

variable "archive_bucket" {
  description = "Existing S3 bucket that keeps every record sent to the queue, through an Amazon Data Firehose stream (gzip NDJSON under apigw-stream/v1/year=/month=/day=/hour=/, for `apigw-stream replay --from-archive` and Athena). Empty: no archive."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])?$", var.archive_bucket))
    error_message = "archive_bucket must be an S3 bucket name or empty."
  }
}

variable "archive_kms_key_arn" {
  description = "KMS key the archive objects are encrypted with (a central archive account's key for an organization); empty: the module's own key."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^(arn:[a-z-]+:kms:[a-z0-9-]+:[0-9]{12}:key/.+)?$", var.archive_kms_key_arn))
    error_message = "archive_kms_key_arn must be a KMS key ARN or empty."
  }
}

variable "dlq_age_alarm_seconds" {
  description = "Alarm when the oldest shipper-DLQ message is older than this (automatic redrive did not clear it)."
  type        = number
  default     = 3600
  validation {
    condition     = var.dlq_age_alarm_seconds >= 300
    error_message = "dlq_age_alarm_seconds must be at least 300."
  }
}

variable "unparsed_alarm_percent" {
  description = "Alarm when more than this share of log events (percent, over 15 minutes) is not an access-log line."
  type        = number
  default     = 5
  validation {
    condition     = var.unparsed_alarm_percent >= 0 && var.unparsed_alarm_percent <= 100
    error_message = "unparsed_alarm_percent must be 0..100."
  }
}

variable "create_api_gateway_account_role" {
  description = "Account-wide side effect, off by default: create an IAM role with the AWS managed policy AmazonAPIGatewayPushToCloudWatchLogs and set it as API Gateway's account-level CloudWatch Logs role in this region (REST access and execution logging need one). API Gateway has one role per region and this REPLACES it for every API of the account and region. Both are protected with prevent_destroy: provider v6 resets the setting on destroy, which would stop REST logging (README of this module)."
  type        = bool
  default     = false
}

variable "extra_log_group_pattern" {
  description = "One more log group name pattern (an exact name, or a prefix ending in *) whose subscription filters may invoke the decode function, besides /aws/apigateway/*, API-Gateway-Execution-Logs_*, API-Gateway-Access-Logs_*, /apigw-stream/* and /aws/vendedlogs/apigw-stream/*. \"*\" allows every group of the account."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^[A-Za-z0-9_/.#*-]*$", var.extra_log_group_pattern))
    error_message = "extra_log_group_pattern may hold letters, digits and _ / . # * - only."
  }
}
