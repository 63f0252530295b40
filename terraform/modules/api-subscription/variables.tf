# Variables mirror the parameters of cloudformation/api-subscription.yaml (snake_case of the same names); one
# module call enables many APIs (for_each over `apis`), where CloudFormation takes one stack per API.

variable "decode_function_arn" {
  description = "Decode function ARN (the pipeline module's decode_function_arn output)."
  type        = string
  validation {
    condition     = can(regex("^(arn:[a-z-]+:lambda:[a-z0-9-]+:[0-9]{12}:function:.+)?$", var.decode_function_arn))
    error_message = "decode_function_arn must be a Lambda function ARN."
  }
}

variable "apis" {
  description = <<-EOT
    APIs to stream, keyed by any stable name. api_kind: rest | http | websocket; log_group_name: the stage's
    access-log group; create_log_group: create the subscribed group here (true) or subscribe an existing group
    (false). execution_mode: access (default, log_group_name) | execution (REST: API-Gateway-Execution-Logs_{id}/{stage},
    bodies cut at 1 KB) | large-bodies (REST: the 1 MB execution-log delivery into
    /aws/vendedlogs/apigw-stream/execution/{id}/{stage}, delivery resources created here). Both execution modes
    need the stage's method settings */* logging_level INFO and data_trace_enabled true, which log bodies: cost
    and personal data. Removing an entry turns that API off.
  EOT
  type = map(object({
    api_kind         = string
    api_id           = string
    stage_name       = string
    log_group_name   = string
    create_log_group = optional(bool, false)
    execution_mode   = optional(string, "access")
  }))
  validation {
    condition     = alltrue([for a in values(var.apis) : contains(["rest", "http", "websocket"], a.api_kind)])
    error_message = "api_kind must be rest, http or websocket."
  }
  validation {
    condition     = alltrue([for a in values(var.apis) : can(regex("^[a-z0-9]{10}$", a.api_id))])
    error_message = "api_id must be the 10-character API Gateway id."
  }
  validation {
    condition     = alltrue([for a in values(var.apis) : can(regex("^[A-Za-z0-9_$-]{1,128}$", a.stage_name))])
    error_message = "stage_name must be 1..128 characters of letters, digits, _ $ and - (API Gateway's stage names)."
  }
  validation {
    condition     = alltrue([for a in values(var.apis) : can(regex("^[.\\-_/#A-Za-z0-9]{1,512}$", a.log_group_name))])
    error_message = "log_group_name must be a CloudWatch Logs group name (1..512 characters)."
  }
  validation {
    condition     = alltrue([for a in values(var.apis) : contains(["access", "execution", "large-bodies"], a.execution_mode)])
    error_message = "execution_mode must be access, execution or large-bodies."
  }
  validation {
    condition     = alltrue([for a in values(var.apis) : a.execution_mode == "access" || a.api_kind == "rest"])
    error_message = "execution_mode execution and large-bodies are for REST APIs (api_kind rest)."
  }
}

variable "log_retention_in_days" {
  description = "Retention of created log groups (API Gateway logs should be kept at least a day)."
  type        = number
  default     = 7
  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days must be a CloudWatch Logs retention value."
  }
}

variable "log_group_kms_key_arn" {
  description = "KMS key encrypting created log groups (for example the pipeline module's key_arn). Execution-log groups hold bodies and need it (\"none\" stores them unencrypted); access-log groups are encrypted only when it is given."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^(none|arn:[a-z-]+:kms:[a-z0-9-]+:[0-9]{12}:key/.+)?$", var.log_group_kms_key_arn))
    error_message = "log_group_kms_key_arn must be a KMS key ARN, \"none\" or empty."
  }
}
