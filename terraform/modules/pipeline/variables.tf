# Variables mirror the parameters of cloudformation/pipeline.yaml (snake_case of the same names, same defaults);
# tests/iac/test_parity.py holds them together.

variable "name" {
  description = "Name prefix of the functions and log groups (the CloudFormation stack name plays this role)."
  type        = string
  default     = "apigw-stream"
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "artifact_bucket" {
  description = "Bucket name prefix holding the function zips; the module reads from \"{artifact_bucket}-{region}\" (scripts/package --bucket uploads there)."
  type        = string
}

variable "artifact_prefix" {
  description = "Key prefix of the zips: the functions load {artifact_prefix}/{architecture}/apigw-stream-decode.zip and .../apigw-stream-shipper.zip. Change it (a new version) to update the code."
  type        = string
  default     = "apigw-stream/0.1.0"
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
}

variable "client_secret_kms_key_arn" {
  description = "Customer-managed KMS key ARN encrypting the existing secret; empty when it uses the AWS-managed key."
  type        = string
  default     = ""
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
}

variable "decode_timeout" {
  description = "Decode function timeout in seconds."
  type        = number
  default     = 60
}

variable "decode_reserved_concurrency" {
  description = "Reserved concurrency of the decode function; -1 leaves it unreserved."
  type        = number
  default     = -1
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
}

variable "shipper_timeout" {
  description = "Shipper function timeout in seconds; the queue's visibility timeout is 6x this."
  type        = number
  default     = 60
  validation {
    condition     = var.shipper_timeout >= 3 && var.shipper_timeout <= 900
    error_message = "shipper_timeout must be 3..900."
  }
}

variable "shipper_reserved_concurrency" {
  description = "Reserved concurrency of the shipper function; -1 leaves it unreserved."
  type        = number
  default     = -1
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
}

variable "queue_age_alarm_seconds" {
  description = "Alarm when the oldest queue message is older than this."
  type        = number
  default     = 900
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

variable "dlq_age_alarm_seconds" {
  description = "Alarm when the oldest shipper-DLQ message is older than this (automatic redrive did not clear it)."
  type        = number
  default     = 3600
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
  description = "Create an IAM role with the AWS managed policy AmazonAPIGatewayPushToCloudWatchLogs and set it as API Gateway's account-level CloudWatch Logs role in this region (REST access and execution logging need one). Leave it off where the account already has a role: API Gateway has one per region, and this replaces it."
  type        = bool
  default     = false
}

variable "extra_log_group_pattern" {
  description = "One more log group name pattern (a name, or a prefix ending in *) whose subscription filters may invoke the decode function, besides /aws/apigateway/*, API-Gateway-Execution-Logs_*, API-Gateway-Access-Logs_*, /apigw-stream/* and /aws/vendedlogs/apigw-stream/*. \"*\" allows every group of the account."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^[A-Za-z0-9_/.#*-]*$", var.extra_log_group_pattern))
    error_message = "extra_log_group_pattern may hold letters, digits and _ / . # * - only."
  }
}
