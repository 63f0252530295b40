"""Deploy cloudformation/pipeline.yaml and api-subscription.yaml into moto's server through its CloudFormation
API, then read every resource back through the service APIs and check its settings."""

import fnmatch
import json
import re
import uuid

import pytest
from conftest import CFN, bootstrap_zip, load_cfn, workspace_version

ARTIFACT_BUCKET = "artifacts"
PACKAGES = ("apigw-stream-decode", "apigw-stream-shipper")


def params(**kv):
    return [{"ParameterKey": k, "ParameterValue": str(v)} for k, v in kv.items()]


def deploy(aws, name, template, parameters):
    cf = aws("cloudformation")
    cf.create_stack(
        StackName=name,
        TemplateBody=(CFN / template).read_text(),
        Parameters=parameters,
        Capabilities=["CAPABILITY_IAM"],
    )
    cf.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    stack = cf.describe_stacks(StackName=name)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    resources = {
        r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
        for r in cf.describe_stack_resources(StackName=name)["StackResources"]
        if r.get("LogicalResourceId")
    }
    return outputs, resources


@pytest.fixture(scope="module")
def artifacts(aws):
    """The zips where the stacks look for them: s3://{ArtifactBucket}-{region}/{prefix}/{arch}/{package}.zip."""
    s3 = aws("s3")
    s3.create_bucket(Bucket=f"{ARTIFACT_BUCKET}-us-east-1")
    for arch in ("arm64", "x86_64"):
        for p in PACKAGES:
            key = f"apigw-stream/{workspace_version()}/{arch}/{p}.zip"
            s3.put_object(Bucket=f"{ARTIFACT_BUCKET}-us-east-1", Key=key, Body=bootstrap_zip())


@pytest.fixture(scope="module")
def pipeline(aws, artifacts):
    """The pipeline with its defaults and a client secret the stack stores."""
    name = "apigw-stream"
    outputs, resources = deploy(
        aws,
        name,
        "pipeline.yaml",
        params(
            ArtifactBucket=ARTIFACT_BUCKET,
            BridgeUrl="https://bridge.example.com",
            AuthUrl="https://auth.example.com/oauth2/token",
            ClientId="client-1",
            ClientSecret="not-a-real-secret",
        ),
    )
    return name, outputs, resources


def queue_attrs(aws, url):
    return aws("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]


def test_every_template_resource_is_deployed(aws, pipeline):
    name, _, resources = pipeline
    template = load_cfn("pipeline.yaml")
    conditional_off = {"AlarmTopic", "AlarmTopicPolicy", "AlarmEmailSubscription"}  # CreateAlarmTopic=false
    conditional_off |= {"DecodeInvokeByExtraLogs"}  # no ExtraLogGroupPattern
    conditional_off |= {"ArchiveRole", "ArchiveStream", "ArchiveDeliveryAlarm", "ArchiveFailedRecordsAlarm"}  # no ArchiveBucket
    conditional_off |= {"ApiGatewayCloudWatchRole", "ApiGatewayAccount"}  # CreateApiGatewayAccountRole=false
    expected = set(template["Resources"]) - conditional_off
    assert expected <= set(resources), f"not created: {sorted(expected - set(resources))}"


def test_queues(aws, pipeline):
    _, out, _ = pipeline
    q = queue_attrs(aws, out["QueueUrl"])
    shipper_dlq = queue_attrs(aws, out["ShipperDlqUrl"])
    decode_dlq = queue_attrs(aws, out["DecodeDlqUrl"])
    for attrs in (q, shipper_dlq, decode_dlq):
        assert attrs["MaximumMessageSize"] == "1048576"
        assert attrs["MessageRetentionPeriod"] == str(14 * 24 * 3600)
        assert attrs["KmsMasterKeyId"], "queues are encrypted with the stack's key"
    assert q["VisibilityTimeout"] == str(6 * 60), "6x the default 60 s shipper timeout"
    redrive = json.loads(q["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == shipper_dlq["QueueArn"]
    # Receives outlast a long collector outage (the shipper hides failed messages longer each time).
    assert int(redrive["maxReceiveCount"]) == 15
    assert "RedrivePolicy" not in decode_dlq and "RedrivePolicy" not in shipper_dlq
    # The stitch queue (docs/stitching.md): FIFO, its own FIFO DLQ, the decode function consumes it.
    stitch = queue_attrs(aws, out["StitchQueueUrl"])
    stitch_dlq = queue_attrs(aws, out["StitchDlqUrl"])
    assert stitch["FifoQueue"] == "true" and stitch_dlq["FifoQueue"] == "true"
    assert stitch["KmsMasterKeyId"] and stitch["VisibilityTimeout"] == str(6 * 60), "6x the default 60 s decode timeout"
    # Named from the stack id's uuid: 61 and 65 characters for any stack name (SQS allows 80).
    stack_uuid = aws("cloudformation").describe_stacks(StackName="apigw-stream")["Stacks"][0]["StackId"].rsplit("/", 1)[1]
    assert out["StitchQueueUrl"].rsplit("/", 1)[1] == f"apigw-stream-{stack_uuid}-stitch.fifo"
    assert out["StitchDlqUrl"].rsplit("/", 1)[1] == f"apigw-stream-{stack_uuid}-stitch-dlq.fifo"
    stitch_redrive = json.loads(stitch["RedrivePolicy"])
    assert stitch_redrive["deadLetterTargetArn"] == stitch_dlq["QueueArn"]
    assert int(stitch_redrive["maxReceiveCount"]) == 50


def function(aws, arn_or_name):
    return aws("lambda").get_function_configuration(FunctionName=arn_or_name)


def test_decode_function(aws, pipeline):
    name, out, res = pipeline
    fn = function(aws, out["DecodeFunctionArn"])
    assert fn["Runtime"] == "provided.al2023"
    assert fn["Handler"] == "bootstrap"
    env = fn["Environment"]["Variables"]
    assert set(env) == {
        "QUEUE_URL", "MESSAGE_BYTES", "MAX_PAYLOAD_BYTES", "REST_API_ENABLED", "HTTP_API_ENABLED",
        "STATIC_FILE_EXTENSIONS", "RESPONSE_CONTENT_TYPES", "REDACT_HEADERS", "ARCHIVE_STREAM", "LOG_LEVEL",
        "ALLOWED_LOG_GROUPS", "STITCH_QUEUE_URL", "STITCH_HOLD_SECS", "JOIN_STAGES",
    }  # fmt: skip
    assert env["STITCH_QUEUE_URL"] == out["StitchQueueUrl"] and env["STITCH_QUEUE_URL"].endswith(".fifo")
    assert str(env["STITCH_HOLD_SECS"]) == "60" and env["JOIN_STAGES"] == ""
    assert env["ALLOWED_LOG_GROUPS"] == "/aws/apigateway/*,API-Gateway-Execution-Logs_*,API-Gateway-Access-Logs_*,/apigw-stream/*,/aws/vendedlogs/apigw-stream/*"
    assert env["ARCHIVE_STREAM"] == ""  # no ArchiveBucket: the archive is off
    assert env["QUEUE_URL"] == out["QueueUrl"]
    assert str(env["MESSAGE_BYTES"]) == "1048576"
    assert env["LOG_LEVEL"] == "info"
    assert "ReservedConcurrentExecutions" not in aws("lambda").get_function_concurrency(FunctionName=fn["FunctionArn"])

    exports = {e["Name"]: e["Value"] for e in aws("cloudformation").list_exports()["Exports"]}
    assert exports[f"{name}-DecodeFunctionArn"] == out["DecodeFunctionArn"]


def test_decode_failures_go_to_the_decode_dlq(aws, pipeline):
    _, out, _ = pipeline
    config = aws("lambda").get_function_event_invoke_config(FunctionName=out["DecodeFunctionArn"])
    assert config["MaximumRetryAttempts"] == 2
    assert config["MaximumEventAgeInSeconds"] == 21600
    dlq_arn = queue_attrs(aws, out["DecodeDlqUrl"])["QueueArn"]
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == dlq_arn


def test_only_this_accounts_log_groups_may_invoke_decode(aws, pipeline):
    """Only API Gateway's log groups (and ours) of this account may invoke decode, not every group."""
    _, out, _ = pipeline
    policy = json.loads(aws("lambda").get_policy(FunctionName=out["DecodeFunctionArn"])["Policy"])
    sources = set()
    for statement in policy["Statement"]:
        assert statement["Principal"] == {"Service": "logs.amazonaws.com"}
        assert statement["Action"] == "lambda:InvokeFunction"
        assert statement["Condition"]["StringEquals"]["AWS:SourceAccount"] == "123456789012"
        sources.add(statement["Condition"]["ArnLike"]["AWS:SourceArn"])
    prefix = "arn:aws:logs:us-east-1:123456789012:log-group:"
    # CloudWatch Logs invokes as ...:log-group:NAME:* , hence the :* suffix (it makes exact names match too).
    assert sources == {
        prefix + p + ":*" for p in ("/aws/apigateway/*", "API-Gateway-Execution-Logs_*", "API-Gateway-Access-Logs_*",
                                    "/apigw-stream/*", "/aws/vendedlogs/apigw-stream/*")
    }


@pytest.mark.parametrize(
    "pattern,group,ok",
    [("/custom/exact", "/custom/exact", True), ("/custom/exact", "/custom/exact-other", False),
     ("/custom/prefix*", "/custom/prefix/api-1", True), ("/custom/prefix*", "/other/api", False),
     ("*", "/anything/at/all", True)],
)  # fmt: skip
def test_extra_log_group_pattern_matches_what_cloudwatch_logs_sends(pattern, group, ok):
    """CloudWatch Logs invokes with SourceArn ...:log-group:NAME:* ; the permission's ArnLike must match it for an
    exact name and for a prefix (moto does not evaluate the condition, so it is evaluated here as IAM does)."""
    sub = load_cfn("pipeline.yaml")["Resources"]["DecodeInvokeByExtraLogs"]["Properties"]["SourceArn"]["Fn::Sub"]
    allowed = sub.replace("${AWS::Partition}", "aws").replace("${AWS::Region}", "us-east-1").replace(
        "${AWS::AccountId}", "123456789012").replace("${ExtraLogGroupPattern}", pattern)
    invoked_as = f"arn:aws:logs:us-east-1:123456789012:log-group:{group}:*"
    assert fnmatch.fnmatchcase(invoked_as, allowed) is ok


def test_shipper_function_and_event_source(aws, pipeline):
    _, out, _ = pipeline
    fn = function(aws, out["ShipperFunctionArn"])
    assert fn["Runtime"] == "provided.al2023" and fn["Handler"] == "bootstrap"
    assert fn["Timeout"] == 60
    env = fn["Environment"]["Variables"]
    assert set(env) == {
        "BRIDGE_URL", "AUTH_URL", "CLIENT_ID", "CLIENT_SECRET_ARN", "BRIDGE_FORMAT", "WINDOW_BYTES",
        "REQUEST_TIMEOUT_MS", "ALLOW_INSECURE_HTTP", "LOG_LEVEL", "RETRY_MAX_VISIBILITY_SECS", "REDRIVE_DLQ_ARN",
        "REDRIVE_COOLDOWN_SECS",
    }  # fmt: skip
    assert env["REDRIVE_DLQ_ARN"] == queue_attrs(aws, out["ShipperDlqUrl"])["QueueArn"], "automatic redrive is on"
    assert env["BRIDGE_FORMAT"] == "uap"
    assert str(env["WINDOW_BYTES"]) == "1000000"
    assert env["ALLOW_INSECURE_HTTP"] == "false"
    assert "not-a-real-secret" not in json.dumps(env), "the secret stays in Secrets Manager"
    secret = aws("secretsmanager").get_secret_value(SecretId=env["CLIENT_SECRET_ARN"])
    assert secret["SecretString"] == "not-a-real-secret"
    assert env["CLIENT_SECRET_ARN"] == out["ClientSecretArn"]

    mappings = aws("lambda").list_event_source_mappings()["EventSourceMappings"]
    (esm,) = [m for m in mappings if m["FunctionArn"] == out["ShipperFunctionArn"]]
    assert esm["EventSourceArn"] == queue_attrs(aws, out["QueueUrl"])["QueueArn"]
    assert esm["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert esm["BatchSize"] == 50
    assert esm["MaximumBatchingWindowInSeconds"] == 5
    assert esm["ScalingConfig"] == {"MaximumConcurrency": 10}


def test_function_log_groups_have_retention(aws, pipeline):
    _, _, res = pipeline
    logs = aws("logs")
    for logical in ("DecodeLogGroup", "ShipperLogGroup"):
        (group,) = logs.describe_log_groups(logGroupNamePrefix=res[logical])["logGroups"]
        assert group["retentionInDays"] == 30


def test_alarms(aws, pipeline):
    name, out, _ = pipeline
    alarms = {
        a["AlarmName"]: a
        for a in aws("cloudwatch").describe_alarms()["MetricAlarms"]
        if a["AlarmName"].startswith(f"{name}-")
    }
    # Metric-math alarms (the unparsed-line rate) have no single metric.
    by_metric = {
        (a["Namespace"], a["MetricName"], a["Dimensions"][0]["Value"]): a for a in alarms.values() if a.get("MetricName")
    }
    queue = out["QueueUrl"].rsplit("/", 1)[1]
    shipper_dlq = out["ShipperDlqUrl"].rsplit("/", 1)[1]
    decode_dlq = out["DecodeDlqUrl"].rsplit("/", 1)[1]
    shipper = out["ShipperFunctionArn"].rsplit(":", 1)[1]
    assert by_metric[("AWS/SQS", "ApproximateNumberOfMessagesVisible", shipper_dlq)]["Threshold"] == 0
    assert by_metric[("AWS/SQS", "ApproximateNumberOfMessagesVisible", decode_dlq)]["Threshold"] == 0
    assert by_metric[("AWS/SQS", "ApproximateAgeOfOldestMessage", queue)]["Threshold"] == 900
    assert by_metric[("AWS/Lambda", "Errors", shipper)]["ComparisonOperator"] == "GreaterThanThreshold"
    decode = out["DecodeFunctionArn"].rsplit(":", 1)[1]
    stitch = out["StitchQueueUrl"].rsplit("/", 1)[1]
    assert by_metric[("AWS/Lambda", "Errors", decode)]["Threshold"] == 0
    assert by_metric[("AWS/Lambda", "Throttles", decode)]["Threshold"] == 0
    assert by_metric[("AWS/SQS", "ApproximateAgeOfOldestMessage", stitch)]["Threshold"] == 1800
    assert all(not a.get("AlarmActions") for a in alarms.values()), "no topic by default"


def test_options_x86_existing_secret_and_alarm_topic(aws, artifacts):
    """The other side of each condition: an existing secret, a created alarm topic, x86_64, a longer timeout."""
    sm = aws("secretsmanager")
    existing = sm.create_secret(Name=f"bridge-{uuid.uuid4().hex[:8]}", SecretString="x")["ARN"]
    name = "apigw-stream-options"
    out, res = deploy(
        aws,
        name,
        "pipeline.yaml",
        params(
            ArtifactBucket=ARTIFACT_BUCKET,
            Architecture="x86_64",
            BridgeUrl="https://bridge.example.com",
            ClientSecretArn=existing,
            ShipperTimeout=300,
            MaxReceiveCount=3,
            CreateAlarmTopic="true",
            AlarmEmail="ops@example.com",
            DecodeReservedConcurrency=20,
        ),
    )
    lam = aws("lambda")
    assert lam.get_function_concurrency(FunctionName=out["DecodeFunctionArn"])["ReservedConcurrentExecutions"] == 20
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=out["ShipperFunctionArn"])
    assert "ClientSecretValue" not in res, "no secret is created when one is given"
    assert {"AlarmTopic", "AlarmEmailSubscription"} <= set(res)
    env = function(aws, out["ShipperFunctionArn"])["Environment"]["Variables"]
    assert env["CLIENT_SECRET_ARN"] == existing
    q = queue_attrs(aws, out["QueueUrl"])
    assert q["VisibilityTimeout"] == str(6 * 300)
    assert int(json.loads(q["RedrivePolicy"])["maxReceiveCount"]) == 3

    topic = out["AlarmTopicArn"]
    subs = aws("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subs] == [("email", "ops@example.com")]
    ours = [a for a in aws("cloudwatch").describe_alarms()["MetricAlarms"] if a["AlarmName"].startswith(f"{name}-")]
    assert len(ours) == 11 and all(a["AlarmActions"] == [topic] for a in ours)


def evaluate(expr, values):
    """Evaluate a CloudFormation rule expression (Fn::Or/And/Not/Equals over Refs) for parameter values."""
    if isinstance(expr, dict):
        ((fn, arg),) = expr.items()
        if fn == "Ref":
            return values[arg]
        if fn == "Fn::Equals":
            return evaluate(arg[0], values) == evaluate(arg[1], values)
        if fn == "Fn::Not":
            return not evaluate(arg[0], values)
        if fn == "Fn::And":
            return all(evaluate(a, values) for a in arg)
        if fn == "Fn::Or":
            return any(evaluate(a, values) for a in arg)
        if fn == "Fn::Contains":
            return evaluate(arg[1], values) in [evaluate(v, values) for v in arg[0]]
        raise AssertionError(f"unexpected {fn} in a rule")
    return expr


@pytest.mark.parametrize(
    "secret,arn,ok",
    [("s", "", True), ("", "arn:aws:secretsmanager:us-east-1:123456789012:secret:x", True), ("", "", False),
     ("s", "arn:aws:secretsmanager:us-east-1:123456789012:secret:x", False)],
)  # fmt: skip
def test_exactly_one_secret_source(secret, arn, ok):
    """moto does not evaluate Rules, so the rule's logic is evaluated here for each combination."""
    (assertion,) = load_cfn("pipeline.yaml")["Rules"]["OneSecretSource"]["Assertions"]
    assert evaluate(assertion["Assert"], {"ClientSecret": secret, "ClientSecretArn": arn}) is ok


def rule_passes(template, rule, values):
    """A rule as CloudFormation applies it: parameters are strings; no RuleCondition or a true one, then every
    assertion must hold."""
    r = load_cfn(template)["Rules"][rule]
    values = {k: str(v) for k, v in values.items()}
    if "RuleCondition" in r and not evaluate(r["RuleCondition"], values):
        return True
    return all(evaluate(a["Assert"], values) for a in r["Assertions"])


@pytest.mark.parametrize("reserved,ok", [(-1, True), (0, False), (5, False), (10, False), (11, True), (200, True)])
def test_decode_reserved_concurrency_covers_the_stitch_mapping(reserved, ok):
    assert rule_passes("pipeline.yaml", "DecodeReservedCoversStitch", {"DecodeReservedConcurrency": reserved}) is ok


@pytest.mark.parametrize("reserved,maximum,ok", [(-1, 10, True), (10, 10, True), (5, 10, False), (2, 2, True), (50, 10, False)])
def test_shipper_reserved_concurrency_matches_the_mapping(reserved, maximum, ok):
    values = {"ShipperReservedConcurrency": reserved, "ShipperMaximumConcurrency": maximum}
    assert rule_passes("pipeline.yaml", "ShipperReservedCoversMaximum", values) is ok


def test_stitch_visibility_is_six_times_every_decode_timeout():
    t = load_cfn("pipeline.yaml")
    allowed = t["Parameters"]["DecodeTimeout"]["AllowedValues"]
    mapping = t["Mappings"]["DecodeTimeouts"]
    assert set(mapping) == set(allowed)
    assert all(mapping[v]["VisibilityTimeout"] >= 6 * int(v) for v in allowed)
    vis = t["Resources"]["StitchQueue"]["Properties"]["VisibilityTimeout"]
    assert vis == {"Fn::FindInMap": ["DecodeTimeouts", {"Ref": "DecodeTimeout"}, "VisibilityTimeout"]}


@pytest.mark.parametrize(
    "mode,function_arn,key,ok",
    [("access", "arn:aws:lambda:us-east-1:123456789012:function:f", "", True),
     ("large-bodies", "", "", True),  # the pipeline stack's key is imported
     ("large-bodies", "arn:aws:lambda:us-east-1:123456789012:function:f", "", False),
     ("execution", "arn:aws:lambda:us-east-1:123456789012:function:f", "none", True),
     ("execution", "arn:aws:lambda:us-east-1:123456789012:function:f", "arn:aws:kms:us-east-1:123456789012:key/k", True)],
)  # fmt: skip
def test_execution_log_groups_are_encrypted_unless_opted_out(mode, function_arn, key, ok):
    values = {"ExecutionMode": mode, "DecodeFunctionArn": function_arn, "LogGroupKmsKeyArn": key}
    assert rule_passes("api-subscription.yaml", "ExecutionLogsAreEncrypted", values) is ok


@pytest.fixture(scope="module")
def access_log_group(aws):
    name = "/aws/apigateway/petstore-prod"
    aws("logs").create_log_group(logGroupName=name)
    return name


def filters(aws, group):
    return aws("logs").describe_subscription_filters(logGroupName=group)["subscriptionFilters"]


def test_api_subscription_on_existing_group_uses_the_export(aws, pipeline, access_log_group):
    _, out, _ = pipeline
    stack = "apigw-stream-api-asad15n3p0-prod"
    outputs, _ = deploy(
        aws,
        stack,
        "api-subscription.yaml",
        params(ApiKind="rest", ApiId="asad15n3p0", StageName="prod", LogGroupName=access_log_group),
    )
    (f,) = filters(aws, access_log_group)
    assert f["filterName"] == "apigw-stream/rest/asad15n3p0/prod"
    assert f["destinationArn"] == out["DecodeFunctionArn"]
    assert f["filterPattern"] == ""
    assert outputs["SubscriptionFilterName"] == "apigw-stream/rest/asad15n3p0/prod"
    fmt = json.loads(outputs["AccessLogFormat"])
    assert fmt["resourcePath"] == "$context.resourcePath" and fmt["requestId"] == "$context.requestId"

    # Turning the API off is deleting its stack: the filter goes, the log group stays.
    cf = aws("cloudformation")
    cf.delete_stack(StackName=stack)
    cf.get_waiter("stack_delete_complete").wait(StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    assert filters(aws, access_log_group) == []
    assert aws("logs").describe_log_groups(logGroupNamePrefix=access_log_group)["logGroups"]


def test_api_subscription_creating_its_group_with_explicit_function(aws, pipeline):
    _, out, _ = pipeline
    group = "/aws/apigateway/orders-default"
    deploy(
        aws,
        "apigw-stream-api-k2o1n3x4z5",
        "api-subscription.yaml",
        params(
            ApiKind="http",
            ApiId="k2o1n3x4z5",
            StageName="$default",
            LogGroupName=group,
            CreateLogGroup="true",
            LogRetentionInDays=3,
            DecodeFunctionArn=out["DecodeFunctionArn"],
        ),
    )
    (g,) = aws("logs").describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert g["retentionInDays"] == 3
    (f,) = filters(aws, group)
    assert f["filterName"] == "apigw-stream/http/k2o1n3x4z5/$default"
    assert f["destinationArn"] == out["DecodeFunctionArn"]


def test_api_subscription_execution_mode_subscribes_the_execution_log_group(aws, pipeline):
    """ExecutionMode=execution: API Gateway's execution-log group is created and subscribed, LogGroupName is not."""
    _, out, _ = pipeline
    outputs, _ = deploy(
        aws,
        "apigw-stream-api-x9e8c7u6t5-prod",
        "api-subscription.yaml",
        params(
            ApiKind="rest",
            ApiId="x9e8c7u6t5",
            StageName="prod",
            LogGroupName="/aws/apigateway/unused",
            CreateLogGroup="true",
            ExecutionMode="execution",
        ),
    )
    group = "API-Gateway-Execution-Logs_x9e8c7u6t5/prod"
    (g,) = aws("logs").describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert g["retentionInDays"] == 7
    (f,) = filters(aws, group)
    assert f["filterName"] == "apigw-stream/rest/x9e8c7u6t5/prod"
    assert f["destinationArn"] == out["DecodeFunctionArn"]
    assert not aws("logs").describe_log_groups(logGroupNamePrefix="/aws/apigateway/unused")["logGroups"]
    assert outputs["SubscribedLogGroupName"] == group
    assert "DataTraceEnabled true" in outputs["ExecutionMethodSettings"]


@pytest.mark.parametrize(
    "template,parameter,good,bad",
    [
        ("api-subscription.yaml", "ApiId", ["asad15n3p0"], ["NOT-AN-ID", "abc", ""]),
        ("api-subscription.yaml", "StageName", ["prod", "$default"], ["a b", ""]),
        ("api-subscription.yaml", "DecodeFunctionArn", ["", "arn:aws:lambda:eu-west-1:123456789012:function:f"],
         ["arn:aws:sqs:eu-west-1:123456789012:q"]),
        ("pipeline.yaml", "ClientSecretArn", ["", "arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:b-x"],
         ["my-secret"]),
        ("pipeline.yaml", "ArtifactBucket", ["artifacts", "my.org-artifacts"], ["Artifacts", "a"]),
        ("pipeline.yaml", "BridgeUrl", ["https://bridge.example.com"], ["bridge.example.com"]),
    ],
)  # fmt: skip
def test_parameter_patterns(template, parameter, good, bad):
    """moto does not check AllowedPattern; CloudFormation does, so the patterns are checked here."""
    pattern = load_cfn(template)["Parameters"][parameter]["AllowedPattern"]
    for value in good:
        assert re.fullmatch(pattern, value), f"{parameter} should accept {value!r}"
    for value in bad:
        assert not re.fullmatch(pattern, value), f"{parameter} should reject {value!r}"

