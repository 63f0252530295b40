terraform {
  required_version = ">= 1.5.0"
  required_providers {
    aws = {
      source = "hashicorp/aws"
      # aws_cloudwatch_log_delivery, _delivery_source and _delivery_destination first shipped in 5.83.0
      # (hashicorp/terraform-provider-aws PR #40731; the maintainer's note in issue #40925). The floor is 6.0.0 for
      # data.aws_region's `region` attribute (new in 6.0.0; `name` is deprecated there). Below 7: a major release
      # may change behaviour again. tests/iac/test_terraform.py keeps the table of first releases.
      version = ">= 6.0.0, < 7.0.0"
    }
  }
}
