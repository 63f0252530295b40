# The pipeline in one region plus per-API enable for the APIs in var.apis.
#   terraform init && terraform apply -var-file=complete.tfvars

terraform {
  required_version = ">= 1.5.0"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.0.0, < 7.0.0" # as the modules (their versions.tf says why)
    }
  }
}

provider "aws" {
  region = var.region
}

module "pipeline" {
  source = "../../modules/pipeline"

  name            = var.name
  artifact_bucket = var.artifact_bucket
  architecture    = var.architecture
  bridge_url      = var.bridge_url
  auth_url        = var.auth_url
  client_id       = var.client_id
  # Give client_secret_arn for an existing secret, or client_secret to have the module store it.
  client_secret_arn  = var.client_secret_arn
  client_secret      = var.client_secret
  create_alarm_topic = var.alarm_email != ""
  alarm_email        = var.alarm_email
  tags               = var.tags
}

module "apis" {
  source = "../../modules/api-subscription"

  decode_function_arn   = module.pipeline.decode_function_arn
  apis                  = var.apis
  log_group_kms_key_arn = module.pipeline.key_arn
}
