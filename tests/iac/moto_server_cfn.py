"""moto's server, plus CloudFormation handlers for the resource types our templates use that moto 5.2's
CloudFormation does not implement (it skips them with a warning): AWS::Logs::SubscriptionFilter,
AWS::Lambda::EventInvokeConfig, AWS::CloudWatch::Alarm, AWS::SecretsManager::Secret, AWS::SNS::Subscription and
the 1 MB execution-log delivery's AWS::Logs::DeliverySource, DeliveryDestination and Delivery.

Thin fidelity fixes where moto differs from AWS, so that a deploy that passes here would pass there:
- delivery source and destination names are checked against CloudWatch Logs' rule (1-60 characters of [\w-]);
- StackSet instances are real stacks named as AWS names them, `StackSet-{stack set name}-{uuid}`, in each target
  account and region (moto names them after the stack set alone, or `StackSet:{name}`, and hides some);
- names CloudFormation generates ({stack}-{logical id}-{suffix}) are cut to the service's limit the way AWS does
  (both parts shortened, the random suffix kept), where moto keeps the first 80 characters of SQS names (so two
  queues of a 128-character stack collide) and does not shorten function and role names at all;
- a log group's KmsKeyId is kept (moto's CloudFormation handler drops it).

Each handler calls the same moto backend method the service API uses, so the template's resolved properties
(Ref, Fn::ImportValue, Fn::If ...) are validated by moto exactly as a direct API call would be, and the tests
read the result back through the service APIs (DescribeSubscriptionFilters, DescribeAlarms ...).

    python moto_server_cfn.py -H 127.0.0.1 -p PORT
"""

import json
import re
import sys
import uuid

from moto.awslambda.models import lambda_backends
from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing as cfn_parsing
from moto.cloudformation.exceptions import ValidationError
from moto.cloudwatch.models import cloudwatch_backends
from moto.core.common_models import CloudFormationModel
from moto.logs.models import DeliverySource, LogGroup, logs_backends
from moto.secretsmanager.models import secretsmanager_backends
from moto.server import main
from moto.sns.models import sns_backends


class CfnSubscriptionFilter(CloudFormationModel):
    __module__ = "moto.logs.models"  # moto's model registry keys models by their module

    def __init__(self, account_id, region, log_group_name, filter_name):
        self.account_id, self.region = account_id, region
        self.log_group_name, self.physical_resource_id = log_group_name, filter_name

    @staticmethod
    def cloudformation_type():
        return "AWS::Logs::SubscriptionFilter"

    @staticmethod
    def cloudformation_name_type():
        return "FilterName"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = cloudformation_json["Properties"]
        logs_backends[account_id][region_name].put_subscription_filter(
            props["LogGroupName"],
            resource_name,
            props["FilterPattern"],
            props["DestinationArn"],
            props.get("RoleArn", ""),
        )
        return cls(account_id, region_name, props["LogGroupName"], resource_name)

    def delete(self, account_id, region_name):
        logs_backends[account_id][region_name].delete_subscription_filter(
            self.log_group_name, self.physical_resource_id
        )

    def is_created(self):
        return True


class CfnEventInvokeConfig(CloudFormationModel):
    __module__ = "moto.awslambda.models"  # moto's model registry keys models by their module

    def __init__(self, function_name):
        self.function_name = self.physical_resource_id = function_name

    @staticmethod
    def cloudformation_type():
        return "AWS::Lambda::EventInvokeConfig"

    @staticmethod
    def cloudformation_name_type():
        return ""

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = dict(cloudformation_json["Properties"])
        function_name = props.pop("FunctionName")
        props.pop("Qualifier", None)
        lambda_backends[account_id][region_name].put_function_event_invoke_config(function_name, props)
        return cls(function_name)

    def delete(self, account_id, region_name):
        backend = lambda_backends[account_id][region_name]
        try:
            backend.delete_function_event_invoke_config(self.function_name)
        except Exception:  # the function may already be gone with the stack
            pass

    def is_created(self):
        return True


class CfnAlarm(CloudFormationModel):
    __module__ = "moto.cloudwatch.models"  # moto's model registry keys models by their module

    def __init__(self, name):
        self.physical_resource_id = name

    @staticmethod
    def cloudformation_type():
        return "AWS::CloudWatch::Alarm"

    @staticmethod
    def cloudformation_name_type():
        return "AlarmName"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        p = cloudformation_json["Properties"]
        # A metric-math alarm has no Period of its own: its queries carry one each.
        stats = [m["MetricStat"] for m in p.get("Metrics", []) if "MetricStat" in m]
        period = p.get("Period") or (stats[0]["Period"] if stats else 60)
        cloudwatch_backends[account_id][region_name].put_metric_alarm(
            name=resource_name,
            namespace=p.get("Namespace"),
            metric_name=p.get("MetricName"),
            comparison_operator=p["ComparisonOperator"],
            evaluation_periods=int(p["EvaluationPeriods"]),
            period=int(period),
            threshold=float(p["Threshold"]),
            statistic=p.get("Statistic"),
            description=p.get("AlarmDescription"),
            dimensions=p.get("Dimensions", []),
            alarm_actions=p.get("AlarmActions", []),
            treat_missing_data=p.get("TreatMissingData"),
        )
        return cls(resource_name)

    def delete(self, account_id, region_name):
        cloudwatch_backends[account_id][region_name].delete_alarms([self.physical_resource_id])

    def is_created(self):
        return True


class CfnSecret(CloudFormationModel):
    __module__ = "moto.secretsmanager.models"  # moto's model registry keys models by their module

    def __init__(self, arn):
        self.physical_resource_id = arn

    @staticmethod
    def cloudformation_type():
        return "AWS::SecretsManager::Secret"

    @staticmethod
    def cloudformation_name_type():
        return "Name"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        p = cloudformation_json["Properties"]
        short = secretsmanager_backends[account_id][region_name].create_secret(
            name=resource_name,
            secret_string=p.get("SecretString"),
            secret_binary=None,
            description=p.get("Description"),
            tags=p.get("Tags"),
            kms_key_id=p.get("KmsKeyId"),
            client_request_token=None,
            replica_regions=[],
            force_overwrite=False,
        )
        return cls(json.loads(short)["ARN"])

    def is_created(self):
        return True


class CfnSnsSubscription(CloudFormationModel):
    __module__ = "moto.sns.models"  # moto's model registry keys models by their module

    def __init__(self, arn):
        self.physical_resource_id = arn

    @staticmethod
    def cloudformation_type():
        return "AWS::SNS::Subscription"

    @staticmethod
    def cloudformation_name_type():
        return ""

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        p = cloudformation_json["Properties"]
        sub = sns_backends[account_id][region_name].subscribe(p["TopicArn"], p["Endpoint"], p["Protocol"])
        return cls(sub.arn)

    def is_created(self):
        return True


# CloudWatch Logs PutDeliverySource / PutDeliveryDestination: name, 1-60 characters matching [\w-]+.
DELIVERY_NAME = re.compile(r"[\w-]{1,60}", re.ASCII)


def check_delivery_name(name):
    if not DELIVERY_NAME.fullmatch(name):
        raise ValidationError(message=(
            f"1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: Member must "
            "have length less than or equal to 60 and satisfy regular expression pattern: [\\w-]*"
        ))


class CfnDeliverySource(CloudFormationModel):
    """Stored directly: moto's PutDeliverySource allows only a few services and not API Gateway's EXECUTION_LOGS."""

    __module__ = "moto.logs.models"

    def __init__(self, account_id, region, name):
        self.account_id, self.region, self.physical_resource_id = account_id, region, name

    @staticmethod
    def cloudformation_type():
        return "AWS::Logs::DeliverySource"

    @staticmethod
    def cloudformation_name_type():
        return "Name"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        p = cloudformation_json["Properties"]
        check_delivery_name(p["Name"])
        backend = logs_backends[account_id][region_name]
        backend.delivery_sources[p["Name"]] = DeliverySource(
            account_id, region_name, p["Name"], p["ResourceArn"], p["LogType"], None
        )
        return cls(account_id, region_name, p["Name"])

    def delete(self, account_id, region_name):
        logs_backends[account_id][region_name].delivery_sources.pop(self.physical_resource_id, None)

    def is_created(self):
        return True


class CfnDeliveryDestination(CloudFormationModel):
    __module__ = "moto.logs.models"

    def __init__(self, destination):
        self.destination = destination
        self.physical_resource_id = destination.name

    @staticmethod
    def cloudformation_type():
        return "AWS::Logs::DeliveryDestination"

    @staticmethod
    def cloudformation_name_type():
        return "Name"

    @classmethod
    def has_cfn_attr(cls, attr):
        return attr == "Arn"

    def get_cfn_attribute(self, attribute_name):
        if attribute_name == "Arn":
            return self.destination.arn
        raise NotImplementedError(attribute_name)

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        p = cloudformation_json["Properties"]
        check_delivery_name(p["Name"])
        destination = logs_backends[account_id][region_name].put_delivery_destination(
            p["Name"], p.get("OutputFormat"), {"destinationResourceArn": p["DestinationResourceArn"]}, None
        )
        return cls(destination)

    def delete(self, account_id, region_name):
        logs_backends[account_id][region_name].delivery_destinations.pop(self.physical_resource_id, None)

    def is_created(self):
        return True


class CfnDelivery(CloudFormationModel):
    __module__ = "moto.logs.models"

    def __init__(self, delivery):
        self.delivery = delivery
        self.physical_resource_id = delivery.id

    @staticmethod
    def cloudformation_type():
        return "AWS::Logs::Delivery"

    @staticmethod
    def cloudformation_name_type():
        return ""

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        p = cloudformation_json["Properties"]
        delivery = logs_backends[account_id][region_name].create_delivery(
            p["DeliverySourceName"], p["DeliveryDestinationArn"], p.get("RecordFields"), p.get("FieldDelimiter"),
            None, None,
        )
        return cls(delivery)

    def delete(self, account_id, region_name):
        logs_backends[account_id][region_name].deliveries.pop(self.physical_resource_id, None)

    def is_created(self):
        return True


def _stack_instance_init(self, account_id, region_name, stackset_id, stack_name, name, template, parameters,
                         permission_model):
    """A StackSet instance as AWS makes it: a stack named StackSet-{name}-{uuid} in the target account and region."""
    self.account_id, self.region_name, self.stackset_id = account_id, region_name, stackset_id
    self.name, self.template, self.permission_model = name, template, permission_model
    self.parameters = parameters or []
    params = parameters if isinstance(parameters, dict) else {p["ParameterKey"]: p["ParameterValue"] for p in self.parameters}
    self.stack_name = f"StackSet-{name}-{uuid.uuid4()}"
    self.stack = cfn_models.cloudformation_backends[account_id][region_name].create_stack(
        name=self.stack_name, template=template, parameters=params
    )


def _stack_instance_delete(self):
    cfn_models.cloudformation_backends[self.account_id][self.region_name].delete_stack(self.stack.name)


# Limits of the names CloudFormation generates for the types our templates leave unnamed.
GENERATED_NAME_LIMITS = {
    "AWS::SQS::Queue": 80, "AWS::Lambda::Function": 64, "AWS::IAM::Role": 64,
    "AWS::KinesisFirehose::DeliveryStream": 64, "AWS::SNS::Topic": 256, "AWS::CloudWatch::Alarm": 255,
    "AWS::Logs::LogGroup": 512, "AWS::SecretsManager::Secret": 512,
}
_moto_generate_resource_name = cfn_parsing.generate_resource_name


def _generate_resource_name(resource_type, stack_name, logical_id):
    limit = GENERATED_NAME_LIMITS.get(resource_type)
    if limit is None:
        return _moto_generate_resource_name(resource_type, stack_name, logical_id)
    suffix = cfn_parsing.random_suffix()
    budget = limit - len(suffix) - 2
    logical = logical_id[: max(budget // 3, budget - len(stack_name))]
    stack = stack_name[: budget - len(logical)]
    return f"{stack}-{logical}-{suffix}"


cfn_parsing.generate_resource_name = _generate_resource_name

_moto_log_group_from_cfn = LogGroup.create_from_cloudformation_json.__func__


def _log_group_from_cfn(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    props = dict(cloudformation_json["Properties"])
    if "KmsKeyId" in props:
        props["kmsKeyId"] = props.pop("KmsKeyId")
    return _moto_log_group_from_cfn(cls, resource_name, {**cloudformation_json, "Properties": props}, account_id,
                                    region_name, **kwargs)


LogGroup.create_from_cloudformation_json = classmethod(_log_group_from_cfn)


def _stack_instance_to_dict(self):
    d = _moto_stack_instance_to_dict(self)
    d["StackId"] = self.stack.stack_id
    d["StackInstanceStatus"] = {"DetailedStatus": "SUCCEEDED" if self.stack.status == "CREATE_COMPLETE" else "FAILED"}
    return d


_moto_stack_instance_to_dict = cfn_models.StackInstance.to_dict
cfn_models.StackInstance.__init__ = _stack_instance_init
cfn_models.StackInstance.delete = _stack_instance_delete
cfn_models.StackInstance.to_dict = _stack_instance_to_dict


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
