terraform {
  required_version = ">= 1.5.0"
  required_providers {
    aws = {
      source = "hashicorp/aws"
      # As the pipeline module: v6 for data.aws_region's `region` attribute; every resource type used is
      # older (tests/iac/test_terraform.py). Below 7: a major release is a reviewed change.
      version = ">= 6.0.0, < 7.0.0"
    }
  }
}
