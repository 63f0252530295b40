terraform {
  required_version = ">= 1.5.0"
  required_providers {
    aws = {
      source = "hashicorp/aws"
      # v6: data.aws_region's `region` attribute (added in 6.0.0; `name` is deprecated there) and the
      # aws_api_gateway_account reset on destroy this module guards against. Every resource type used is older
      # (tests/iac/test_terraform.py keeps the table of first releases). Below 7: a major release may change
      # behaviour again (as 6.0 did), so moving to it is a reviewed change.
      version = ">= 6.0.0, < 7.0.0"
    }
  }
}
