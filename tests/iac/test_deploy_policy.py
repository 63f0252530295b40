"""The deployer policies in docs/deploy.md §8 stay in step with the templates: every resource type a template uses
maps (below) to the actions CloudFormation calls to create, update and delete it, and the template's documented
policy allows each of them on a resource pattern that covers the names the template gives. A new resource type
fails here until the table and the documented policy say what it needs."""

import fnmatch
import json
import re

import pytest
from conftest import ROOT, load_cfn

# Resource type -> actions the deployer needs for it (create, read back, update, delete; tags where taggable).
# From each service's "Actions defined by ..." page in the Service Authorization Reference and the CloudFormation
# resource type's handler permissions (the `handlers` section of its schema).
ACTIONS = {
    "AWS::KMS::Key": ["kms:CreateKey", "kms:DescribeKey", "kms:EnableKeyRotation", "kms:GetKeyPolicy",
                      "kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:TagResource"],
    "AWS::SQS::Queue": ["sqs:CreateQueue", "sqs:GetQueueAttributes", "sqs:SetQueueAttributes", "sqs:DeleteQueue"],
    "AWS::SecretsManager::Secret": ["secretsmanager:CreateSecret", "secretsmanager:DescribeSecret",
                                    "secretsmanager:UpdateSecret", "secretsmanager:DeleteSecret"],
    "AWS::Logs::LogGroup": ["logs:CreateLogGroup", "logs:DescribeLogGroups", "logs:PutRetentionPolicy",
                            "logs:AssociateKmsKey", "logs:DeleteLogGroup"],
    "AWS::IAM::Role": ["iam:CreateRole", "iam:GetRole", "iam:PutRolePolicy", "iam:DeleteRolePolicy",
                       "iam:DeleteRole"],
    "AWS::Lambda::Function": ["lambda:CreateFunction", "lambda:GetFunction", "lambda:UpdateFunctionConfiguration",
                              "lambda:UpdateFunctionCode", "lambda:PutFunctionConcurrency", "lambda:DeleteFunction",
                              "iam:PassRole", "s3:GetObject"],
    "AWS::Lambda::EventInvokeConfig": ["lambda:PutFunctionEventInvokeConfig", "lambda:GetFunctionEventInvokeConfig",
                                       "lambda:DeleteFunctionEventInvokeConfig"],
    "AWS::Lambda::Permission": ["lambda:AddPermission", "lambda:RemovePermission", "lambda:GetPolicy"],
    "AWS::Lambda::EventSourceMapping": ["lambda:CreateEventSourceMapping", "lambda:GetEventSourceMapping",
                                        "lambda:UpdateEventSourceMapping", "lambda:DeleteEventSourceMapping"],
    "AWS::SNS::Topic": ["sns:CreateTopic", "sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:DeleteTopic"],
    "AWS::SNS::TopicPolicy": ["sns:SetTopicAttributes"],
    "AWS::SNS::Subscription": ["sns:Subscribe", "sns:Unsubscribe"],
    "AWS::CloudWatch::Alarm": ["cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms"],
    "AWS::CloudWatch::Dashboard": ["cloudwatch:PutDashboard", "cloudwatch:GetDashboard", "cloudwatch:DeleteDashboards"],
    "AWS::KinesisFirehose::DeliveryStream": ["firehose:CreateDeliveryStream", "firehose:DescribeDeliveryStream",
                                             "firehose:UpdateDestination", "firehose:StartDeliveryStreamEncryption",
                                             "firehose:DeleteDeliveryStream", "iam:PassRole"],
    "AWS::ApiGateway::Account": ["apigateway:GET", "apigateway:PATCH", "iam:PassRole"],
    "AWS::Logs::SubscriptionFilter": ["logs:PutSubscriptionFilter", "logs:DescribeSubscriptionFilters",
                                      "logs:DeleteSubscriptionFilter"],
    "AWS::Logs::DeliverySource": ["logs:PutDeliverySource", "logs:GetDeliverySource", "logs:DeleteDeliverySource"],
    "AWS::Logs::DeliveryDestination": ["logs:PutDeliveryDestination", "logs:GetDeliveryDestination",
                                       "logs:DeleteDeliveryDestination"],
    "AWS::Logs::Delivery": ["logs:CreateDelivery", "logs:GetDelivery", "logs:UpdateDeliveryConfiguration",
                            "logs:DeleteDelivery"],
}
# Every stack: its own lifecycle and, for the subscription stacks, the pipeline's exports.
STACK_ACTIONS = ["cloudformation:CreateStack", "cloudformation:UpdateStack", "cloudformation:DeleteStack",
                 "cloudformation:DescribeStacks", "cloudformation:ListExports"]
# The services each template passes roles to (iam:PassedToService).
PASSED_TO = {"pipeline.yaml": {"lambda.amazonaws.com", "firehose.amazonaws.com", "apigateway.amazonaws.com"},
             "api-subscription.yaml": set()}


def documented_policy(template):
    text = (ROOT / "docs/deploy.md").read_text()
    m = re.search(r"<!-- deployer-policy: %s -->\n```json\n(.*?)\n```" % re.escape(template), text, re.S)
    assert m, f"docs/deploy.md has no policy marked <!-- deployer-policy: {template} -->"
    return json.loads(m.group(1))


def allows(policy, action):
    for st in policy["Statement"]:
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        if st["Effect"] == "Allow" and any(fnmatch.fnmatchcase(action, a) for a in actions):
            return st
    return None


@pytest.mark.parametrize("template", ["pipeline.yaml", "api-subscription.yaml"])
def test_every_resource_type_of_the_template_is_covered(template):
    policy = documented_policy(template)
    types = {r["Type"] for r in load_cfn(template)["Resources"].values()}
    for rtype in sorted(types):
        assert rtype in ACTIONS, f"{template} uses {rtype}: add the actions it needs here and to docs/deploy.md §8"
        for action in ACTIONS[rtype]:
            assert allows(policy, action), f"{template}: {rtype} needs {action}, which the documented policy lacks"
    for action in STACK_ACTIONS:
        assert allows(policy, action), f"{template}: {action}"


@pytest.mark.parametrize("template", ["pipeline.yaml", "api-subscription.yaml"])
def test_roles_are_passed_to_exactly_the_services_that_use_them(template):
    policy = documented_policy(template)
    st = allows(policy, "iam:PassRole")
    if not PASSED_TO[template]:
        assert st is None
        return
    services = st["Condition"]["StringEquals"]["iam:PassedToService"]
    assert set(services if isinstance(services, list) else [services]) == PASSED_TO[template]
    # What the template's roles trust is what they are passed to.
    trusted = {
        s["Principal"]["Service"]
        for r in load_cfn(template)["Resources"].values() if r["Type"] == "AWS::IAM::Role"
        for s in r["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    }
    assert trusted == PASSED_TO[template]


def test_named_resources_fall_under_the_policy_patterns():
    """The names the pipeline template sets itself are covered by the documented resource patterns."""
    policy = documented_policy("pipeline.yaml")
    uuid_ = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    queue = f"arn:aws:sqs:us-east-1:123456789012:apigw-stream-{uuid_}-stitch-dlq.fifo"
    secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:apigw-stream/StackSet-apigw-stream-org-x/client-secret-AbC"
    function = "arn:aws:lambda:us-east-1:123456789012:function:StackSet-apigw-stream-org-DecodeFunction-ABC"
    for action, arn in (("sqs:CreateQueue", queue), ("secretsmanager:CreateSecret", secret),
                        ("lambda:CreateFunction", function)):
        st = allows(policy, action)
        resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        assert any(fnmatch.fnmatchcase(arn, r) for r in resources), f"{action} on {arn}"
    delivery = documented_policy("api-subscription.yaml")
    st = allows(delivery, "logs:PutDeliverySource")
    assert any(fnmatch.fnmatchcase(f"arn:aws:logs:us-east-1:123456789012:delivery-source:apigw-stream-a1b2c3d4e5-{uuid_}", r)
               for r in st["Resource"])
