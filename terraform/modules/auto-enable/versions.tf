terraform {
  required_version = ">= 1.5.0"
  required_providers {
    aws = {
      source = "hashicorp/aws"
      # logging_config on aws_lambda_function needs 5.27; scaling_config on event source mappings 5.x.
      version = ">= 5.40"
    }
  }
}
