variable "name" {
  description = "Name prefix of the resources (e.g. apigw-stream-auto-enable)."
  type        = string
  default     = "apigw-stream-auto-enable"
}

variable "artifact_bucket" {
  description = "Bucket name prefix holding the function zips; the module reads \"{artifact_bucket}-{region}\"."
  type        = string
}

variable "artifact_prefix" {
  description = "Key prefix of the zips: {artifact_prefix}/{architecture}/apigw-stream-control.zip."
  type        = string
  default     = "apigw-stream/0.1.0"
}

variable "architecture" {
  description = "Instruction set the zips were built for (arm64 or x86_64)."
  type        = string
  default     = "arm64"
  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "destination_arn" {
  description = "Where the filters point: the pipeline module's decode_function_arn, or a central account's CloudWatch Logs destination."
  type        = string
}

variable "scope" {
  description = "all, opt-in (stages tagged apigw-stream=on) or opt-out (all but stages tagged apigw-stream=off)."
  type        = string
  default     = "opt-out"
  validation {
    condition     = contains(["all", "opt-in", "opt-out"], var.scope)
    error_message = "scope must be all, opt-in or opt-out."
  }
}

variable "mode" {
  description = "What REST stages stream: access, execution, execution-1mb or joined."
  type        = string
  default     = "access"
  validation {
    condition     = contains(["access", "execution", "execution-1mb", "joined"], var.mode)
    error_message = "mode must be access, execution, execution-1mb or joined."
  }
}

variable "reconcile_schedule" {
  description = "EventBridge schedule of the reconcile."
  type        = string
  default     = "rate(1 day)"
}

variable "dry_run" {
  description = "Plan and report only."
  type        = bool
  default     = false
}

variable "log_group_retention_in_days" {
  description = "Retention of the access-log groups the function creates."
  type        = number
  default     = 7
}

variable "create_account_role" {
  description = "Create API Gateway's account CloudWatch Logs role where none is set."
  type        = bool
  default     = false
}

variable "log_level" {
  description = "error, warn, info, debug or trace."
  type        = string
  default     = "info"
}

variable "log_retention_in_days" {
  description = "Retention of the control function's own log group."
  type        = number
  default     = 30
}
