variable "region" {
  description = "Region to deploy into."
  type        = string
}

variable "name" {
  description = "Name prefix of the pipeline's resources."
  type        = string
  default     = "apigw-stream"
}

variable "artifact_bucket" {
  description = "Bucket prefix the zips were uploaded to by scripts/package --bucket (the bucket is {prefix}-{region})."
  type        = string
}

variable "architecture" {
  description = "arm64 or x86_64, as packaged."
  type        = string
  default     = "arm64"
}

variable "bridge_url" {
  description = "Collector base URL."
  type        = string
}

variable "auth_url" {
  description = "OAuth2 token endpoint."
  type        = string
}

variable "client_id" {
  description = "OAuth2 client id."
  type        = string
}

variable "client_secret_arn" {
  description = "Existing secret holding the client secret (or leave empty and give client_secret)."
  type        = string
  default     = ""
}

variable "client_secret" {
  description = "Client secret to store in a new secret (or leave empty and give client_secret_arn)."
  type        = string
  default     = ""
  sensitive   = true
}

variable "alarm_email" {
  description = "Email for the alarms; empty creates no topic."
  type        = string
  default     = ""
}

variable "apis" {
  description = "APIs to stream (see modules/api-subscription)."
  type = map(object({
    api_kind         = string
    api_id           = string
    stage_name       = string
    log_group_name   = string
    create_log_group = optional(bool, false)
  }))
  default = {}
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
