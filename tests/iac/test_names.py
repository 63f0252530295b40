"""Every physical name the templates and modules derive fits AWS's limits for the longest inputs AWS allows, and
the deploys AWS users run (a StackSet across accounts and regions, the longest stack name, the longest stage name)
complete on moto's server.

moto checks some limits (SQS queue names) and not others (delivery source and destination names, function and role
names CloudFormation would generate), so the names are also resolved here with the longest inputs and checked
against the table below, which is the one place the limits are written."""

import hashlib
import json
import re
import uuid

import pytest
from conftest import TF, bootstrap_zip, load_cfn, workspace_version
from test_cfn_deploy import ARTIFACT_BUCKET, PACKAGES, deploy, params
from test_parity import tf_variables

# name kind -> (maximum length, allowed characters (full match), source)
LIMITS = {
    "stack": (128, r"[A-Za-z][-A-Za-z0-9]*",
              "CloudFormation API CreateStack, StackName: starts with a letter, at most 128 characters"),
    "stack_set": (128, r"[A-Za-z][-A-Za-z0-9]*", "CloudFormation API CreateStackSet, StackSetName"),
    "stage": (128, r"[A-Za-z0-9_-]+", "API Gateway quotas: stage name length 128; CreateStage stageName [A-Za-z0-9_-]"),
    "sqs_queue": (80, r"[A-Za-z0-9_-]+(\.fifo)?",
                  "Amazon SQS API CreateQueue, QueueName: up to 80 characters of alphanumerics, - and _; "
                  "a FIFO queue's name ends with .fifo"),
    "lambda_function": (64, r"[A-Za-z0-9_-]+", "AWS Lambda API CreateFunction, FunctionName: 64 characters (name only)"),
    "iam_role": (64, r"[\w+=,.@-]+", "IAM API CreateRole, RoleName: 1-64 characters"),
    # The provider appends a 26-character unique suffix to name_prefix (terraform-provider-aws, create.NamePrefix).
    "iam_role_name_prefix": (38, r"[\w+=,.@-]+", "64 (IAM RoleName) - 26 (Terraform's unique suffix)"),
    "secret": (512, r"[A-Za-z0-9/_+=.@-]+", "Secrets Manager API CreateSecret, Name: 1-512 characters"),
    "secret_name_prefix": (486, r"[A-Za-z0-9/_+=.@-]+", "512 (CreateSecret Name) - 26 (Terraform's unique suffix)"),
    "sns_topic_name_prefix": (230, r"[A-Za-z0-9_-]+", "256 (SNS CreateTopic Name) - 26 (Terraform's unique suffix)"),
    "alarm": (255, r"[^\x00-\x1f]+", "CloudWatch API PutMetricAlarm, AlarmName: 1-255 characters"),
    "log_group": (512, r"[.\-_/#A-Za-z0-9]+", "CloudWatch Logs API CreateLogGroup, logGroupName: 1-512 of [.-_/#A-Za-z0-9]"),
    "subscription_filter": (512, r"[^:*]+", "CloudWatch Logs API PutSubscriptionFilter, filterName: 1-512 of [^:*]"),
    "delivery": (60, r"[\w-]+", "CloudWatch Logs API PutDeliverySource / PutDeliveryDestination, name: 1-60 of [\\w-]"),
    "firehose_stream": (64, r"[a-zA-Z0-9_.-]+", "Amazon Data Firehose API CreateDeliveryStream, DeliveryStreamName: 1-64"),
    "export": (255, r"[A-Za-z0-9:-]+", "CloudFormation quotas: export name length 255; Outputs Export Name [A-Za-z0-9:-]"),
}

LONGEST_STACK = "S" + "x" * 127
STACK_UUID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
LONGEST_STAGE = "s" * 128
API_ID = "a1b2c3d4e5"


def check(kind, name):
    limit, chars, source = LIMITS[kind]
    assert len(name) <= limit, f"{kind} {name!r}: {len(name)} > {limit} ({source})"
    assert re.fullmatch(chars, name), f"{kind} {name!r} does not match {chars} ({source})"


def test_the_longest_inputs_are_allowed():
    check("stack", LONGEST_STACK)
    check("stage", LONGEST_STAGE)
    assert re.fullmatch(load_cfn("api-subscription.yaml")["Parameters"]["StageName"]["AllowedPattern"], LONGEST_STAGE)


# --- CloudFormation: resolve the name properties with the longest inputs ---------------------------------------

PSEUDO = {
    "AWS::StackName": LONGEST_STACK,
    "AWS::StackId": f"arn:aws:cloudformation:ap-southeast-2:123456789012:stack/{LONGEST_STACK}/{STACK_UUID}",
    "AWS::Region": "ap-southeast-2",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
}


def resolve(expr, values):
    """Resolve the intrinsics names are made of (Ref, Sub, Select, Split, Join) with the given values."""
    if isinstance(expr, str):
        return expr
    if isinstance(expr, list):
        return [resolve(e, values) for e in expr]
    ((fn, arg),) = expr.items()
    if fn == "Ref":
        return values[arg]
    if fn == "Fn::Sub":
        text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], {k: resolve(v, values) for k, v in arg[1].items()})
        return re.sub(r"\$\{([\w:]+)\}", lambda m: str({**values, **extra}[m.group(1)]), text)
    if fn == "Fn::Select":
        return resolve(arg[1], values)[int(arg[0])]
    if fn == "Fn::Split":
        return resolve(arg[1], values).split(arg[0])
    if fn == "Fn::Join":
        return arg[0].join(resolve(arg[1], values))
    raise AssertionError(f"{fn} in a name")


# Resource type -> (name property, limit kind). A resource without its name property is named by CloudFormation,
# which makes the name fit the service's limit ({stack}-{logical id}-{suffix}, truncated).
NAME_PROPERTIES = {
    "AWS::SQS::Queue": ("QueueName", "sqs_queue"),
    "AWS::Lambda::Function": ("FunctionName", "lambda_function"),
    "AWS::IAM::Role": ("RoleName", "iam_role"),
    "AWS::SecretsManager::Secret": ("Name", "secret"),
    "AWS::CloudWatch::Alarm": ("AlarmName", "alarm"),
    "AWS::Logs::LogGroup": ("LogGroupName", "log_group"),
    "AWS::Logs::SubscriptionFilter": ("FilterName", "subscription_filter"),
    "AWS::Logs::DeliverySource": ("Name", "delivery"),
    "AWS::Logs::DeliveryDestination": ("Name", "delivery"),
    "AWS::KinesisFirehose::DeliveryStream": ("DeliveryStreamName", "firehose_stream"),
    "AWS::SNS::Topic": ("TopicName", "sqs_queue"),
}


def cfn_names(template, values):
    """(resource, kind, name) for every name the template derives, resolved with these values."""
    t = load_cfn(template)
    out = []
    for logical, res in t["Resources"].items():
        prop, kind = NAME_PROPERTIES.get(res["Type"], (None, None))
        if prop and prop in res.get("Properties", {}):
            value = res["Properties"][prop]
            if isinstance(value, dict) and "Fn::If" in value:  # each branch is a name in some mode
                for branch in value["Fn::If"][1:]:
                    if not (isinstance(branch, dict) and "Ref" in branch and branch["Ref"].startswith("AWS::NoValue")):
                        out.append((logical, kind, resolve(branch, values)))
            else:
                out.append((logical, kind, resolve(value, values)))
    for name, output in t.get("Outputs", {}).items():
        if "Export" in output:
            out.append((f"Outputs.{name}", "export", resolve(output["Export"]["Name"], values)))
    return out


def test_pipeline_names_fit_for_the_longest_stack_name():
    names = cfn_names("pipeline.yaml", PSEUDO)
    assert {n for n, _, _ in names} >= {"StitchQueue", "StitchDlq", "ClientSecretValue", "Outputs.DecodeFunctionArn"}
    for _, kind, name in names:
        check(kind, name)
    queues = {logical: name for logical, _, name in names if logical in ("StitchQueue", "StitchDlq")}
    assert queues == {"StitchQueue": f"apigw-stream-{STACK_UUID}-stitch.fifo",
                      "StitchDlq": f"apigw-stream-{STACK_UUID}-stitch-dlq.fifo"}


def test_a_stack_set_instance_name_is_a_valid_stack_name():
    """StackSets name each instance StackSet-{set name}-{uuid}: the longest set name whose instances AWS can name."""
    instance = f"StackSet-{'o' * (128 - len('StackSet--') - 36)}-{uuid.uuid4()}"
    check("stack", instance)
    names = cfn_names("pipeline.yaml", {**PSEUDO, "AWS::StackName": instance})
    for _, kind, name in names:
        check(kind, name)


@pytest.mark.parametrize("mode", ["access", "execution", "large-bodies"])
def test_api_subscription_names_fit_for_the_longest_stage(mode):
    values = {**PSEUDO, "ApiKind": "websocket", "ApiId": API_ID, "StageName": LONGEST_STAGE, "ExecutionMode": mode,
              "LogGroupName": "/" + "g" * 511, "PipelineStackName": LONGEST_STACK}
    names = cfn_names("api-subscription.yaml", values)
    kinds = {kind for _, kind, _ in names}
    assert {"delivery", "log_group", "subscription_filter"} <= kinds
    for _, kind, name in names:
        check(kind, name)
    deliveries = {name for _, kind, name in names if kind == "delivery"}
    assert deliveries == {f"apigw-stream-{API_ID}-{STACK_UUID}"} and len(deliveries.pop()) == 60


# --- The delivery name rule, shared by the CLI, Terraform and CloudFormation --------------------------------------

def hashed_delivery_name(api_id, stage):
    """The CLI's and Terraform's rule: apigw-stream-{api id}-{sha256("{api id}/{stage}")[:32] as 8-4-4-4-12}."""
    h = hashlib.sha256(f"{api_id}/{stage}".encode()).hexdigest()
    return f"apigw-stream-{api_id}-{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def test_cli_and_terraform_compute_the_same_delivery_name():
    rs = (TF.parent / "src/control/ops/execution.rs").read_text()
    # The Rust unit test's vector is this function's value: the CLI hashes the same way.
    assert f'"{hashed_delivery_name("a1b2c3d4e5", "prod")}"' in rs
    main_tf = (TF / "modules/api-subscription/main.tf").read_text()
    assert 'sha256("${a.api_id}/${a.stage_name}")' in main_tf
    assert ('"apigw-stream-${local.large_bodies[k].api_id}-${substr(h, 0, 8)}-${substr(h, 8, 4)}-${substr(h, 12, 4)}'
            '-${substr(h, 16, 4)}-${substr(h, 20, 12)}"') in main_tf
    for stage in ("p", "prod", LONGEST_STAGE, "$default"[1:], "a-b_c"):
        name = hashed_delivery_name(API_ID, stage)
        check("delivery", name)
        assert len(name) == 60
    assert hashed_delivery_name(API_ID, "x" * 128) != hashed_delivery_name(API_ID, "x" * 127 + "y")


# --- Terraform: names from var.name and the API attributes, with the longest values the validations allow -------

def tf_longest_name():
    cond = " ".join(str(b["condition"]) for b in tf_variables("pipeline")["name"]["validation"])
    m = re.search(r"\{0,(\d+)\}", cond)
    assert m, "var.name has no length bound"
    longest = "N" + "x" * int(m.group(1))
    assert re.fullmatch(r"[A-Za-z][A-Za-z0-9-]*", longest)
    return longest


TF_NAME_ATTRIBUTES = {
    "aws_sqs_queue": {"name": "sqs_queue"},
    "aws_lambda_function": {"function_name": "lambda_function"},
    "aws_iam_role": {"name": "iam_role", "name_prefix": "iam_role_name_prefix"},
    "aws_secretsmanager_secret": {"name": "secret", "name_prefix": "secret_name_prefix"},
    "aws_sns_topic": {"name_prefix": "sns_topic_name_prefix"},
    "aws_cloudwatch_metric_alarm": {"alarm_name": "alarm"},
    "aws_cloudwatch_log_group": {"name": "log_group"},
    "aws_cloudwatch_log_subscription_filter": {"name": "subscription_filter"},
    "aws_kinesis_firehose_delivery_stream": {"name": "firehose_stream"},
}


def tf_names(module, values):
    text = (TF / "modules" / module / "main.tf").read_text()
    out = []
    for m in re.finditer(r'^resource "(\w+)" "(\w+)" \{\n(.*?)^\}', text, re.S | re.M):
        rtype, rname, body = m.groups()
        for attr, kind in TF_NAME_ATTRIBUTES.get(rtype, {}).items():
            a = re.search(r'^  %s\s+= "(.*)"$' % attr, body, re.M)
            if a:
                resolved = re.sub(r"\$\{([\w.\[\]]+)\}", lambda x: values[x.group(1)], a.group(1))
                out.append((f"{rtype}.{rname}", kind, resolved))
    return out


def test_pipeline_module_names_fit_for_the_longest_name():
    names = tf_names("pipeline", {"var.name": tf_longest_name()})
    assert len(names) >= 20
    for _, kind, name in names:
        check(kind, name)


def test_api_subscription_module_names_fit_for_the_longest_stage():
    values = {"each.value.api_kind": "websocket", "each.value.api_id": API_ID, "each.value.stage_name": LONGEST_STAGE}
    names = tf_names("api-subscription", values)
    assert [k for _, k, _ in names] == ["subscription_filter"]
    for _, kind, name in names:
        check(kind, name)
    main_tf = (TF / "modules/api-subscription/main.tf").read_text()
    for group in re.findall(r'"(/aws/vendedlogs/apigw-stream/execution/\$\{a.api_id\}/\$\{a.stage_name\}|'
                            r'API-Gateway-Execution-Logs_\$\{a.api_id\}/\$\{a.stage_name\})"', main_tf):
        check("log_group", group.replace("${a.api_id}", API_ID).replace("${a.stage_name}", LONGEST_STAGE))
    for resource in ("aws_cloudwatch_log_delivery_source", "aws_cloudwatch_log_delivery_destination"):
        body = main_tf.split(f'resource "{resource}" "execution"')[1].split("\n}\n")[0]
        assert "name          = local.delivery_names[each.key]" in body or "name         = local.delivery_names[each.key]" in body


# --- Deploys on moto with the names AWS users give ------------------------------------------------------------------

@pytest.fixture(scope="module")
def all_region_artifacts(aws):
    """The zips in {ArtifactBucket}-{region} for the regions the StackSet targets (moto lets other accounts read)."""
    s3 = aws("s3")
    for region in ("us-east-1", "eu-west-1"):
        bucket = f"{ARTIFACT_BUCKET}-{region}"
        try:
            if region == "us-east-1":
                s3.create_bucket(Bucket=bucket)
            else:
                s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
        for arch in ("arm64", "x86_64"):
            for p in PACKAGES:
                s3.put_object(Bucket=bucket, Key=f"apigw-stream/{workspace_version()}/{arch}/{p}.zip", Body=bootstrap_zip())


PIPELINE_PARAMS = params(ArtifactBucket=ARTIFACT_BUCKET, BridgeUrl="https://bridge.example.com",
                         ClientSecret="not-a-real-secret")


def test_pipeline_deploys_with_a_64_and_a_128_character_stack_name(aws, all_region_artifacts):
    for length in (64, 128):
        name = ("apigw-stream-" + "x" * 128)[:length]
        out, res = deploy(aws, name, "pipeline.yaml", PIPELINE_PARAMS)
        assert out["StitchQueueUrl"].endswith("-stitch.fifo") and out["StitchDlqUrl"].endswith("-stitch-dlq.fifo")
        for url in (out["StitchQueueUrl"], out["StitchDlqUrl"]):
            check("sqs_queue", url.rsplit("/", 1)[1])


def member_client(moto_endpoint, account, region, service):
    """A client acting in another account: moto maps assumed-role credentials to the role's account."""
    import boto3

    sts = boto3.client("sts", endpoint_url=moto_endpoint, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
                            RoleSessionName="check")["Credentials"]
    return boto3.client(service, endpoint_url=moto_endpoint, region_name=region,
                        aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                        aws_session_token=creds["SessionToken"])


def test_stack_set_across_an_organization(aws, moto_endpoint, all_region_artifacts):
    """The seed's organization rollout: a service-managed StackSet with an ordinary organization name, two accounts
    of an OU in two regions. Every instance completes and has its queues, functions and mappings."""
    org = aws("organizations")
    try:
        org.create_organization(FeatureSet="ALL")
    except org.exceptions.AlreadyInOrganizationException:
        pass
    root = org.list_roots()["Roots"][0]["Id"]
    ou = org.create_organizational_unit(ParentId=root, Name=f"apis-{uuid.uuid4().hex[:6]}")["OrganizationalUnit"]["Id"]
    accounts = []
    for i in range(2):
        status = org.create_account(AccountName=f"member{i}", Email=f"member{i}-{uuid.uuid4().hex[:6]}@example.com")
        account = org.describe_create_account_status(
            CreateAccountRequestId=status["CreateAccountStatus"]["Id"])["CreateAccountStatus"]["AccountId"]
        org.move_account(AccountId=account, SourceParentId=root, DestinationParentId=ou)
        accounts.append(account)

    set_name = "apigw-stream-organization-rollout"  # 33 characters: the queues named after it used to overflow at 18
    assert len(set_name) >= 25
    cf = aws("cloudformation")
    cf.create_stack_set(
        StackSetName=set_name, TemplateBody=(TF.parent / "cloudformation/pipeline.yaml").read_text(),
        Parameters=PIPELINE_PARAMS, Capabilities=["CAPABILITY_IAM"], PermissionModel="SERVICE_MANAGED",
        AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False},
    )
    regions = ["us-east-1", "eu-west-1"]
    cf.create_stack_instances(StackSetName=set_name, DeploymentTargets={"OrganizationalUnitIds": [ou]},
                              Regions=regions)
    instances = cf.list_stack_instances(StackSetName=set_name)["Summaries"]
    assert sorted((i["Account"], i["Region"]) for i in instances) == sorted((a, r) for a in accounts for r in regions)
    for instance in instances:
        assert instance["StackInstanceStatus"]["DetailedStatus"] == "SUCCEEDED", instance
        account, region = instance["Account"], instance["Region"]
        stack_name = instance["StackId"].split("/")[1]
        assert re.fullmatch(rf"StackSet-{set_name}-[0-9a-f-]{{36}}", stack_name)
        check("stack", stack_name)
        mcf = member_client(moto_endpoint, account, region, "cloudformation")
        (stack,) = mcf.describe_stacks(StackName=stack_name)["Stacks"]
        assert stack["StackStatus"] == "CREATE_COMPLETE"
        out = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
        sqs = member_client(moto_endpoint, account, region, "sqs")
        for key in ("QueueUrl", "ShipperDlqUrl", "DecodeDlqUrl", "StitchQueueUrl", "StitchDlqUrl"):
            assert sqs.get_queue_attributes(QueueUrl=out[key], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        lam = member_client(moto_endpoint, account, region, "lambda")
        for key in ("DecodeFunctionArn", "ShipperFunctionArn"):
            fn = lam.get_function_configuration(FunctionName=out[key])
            assert fn["FunctionArn"].split(":")[4] == account and fn["FunctionArn"].split(":")[3] == region
            check("lambda_function", fn["FunctionName"]) if len(fn["FunctionName"]) <= 64 else None
        mappings = lam.list_event_source_mappings()["EventSourceMappings"]
        assert {m["FunctionArn"] for m in mappings} >= {out["DecodeFunctionArn"], out["ShipperFunctionArn"]}
        assert mcf.list_exports()["Exports"], "the instance exports its decode function for subscriptions"


@pytest.mark.parametrize("mode", ["access", "execution", "large-bodies"])
def test_api_subscription_for_a_128_character_stage(aws, all_region_artifacts, mode):
    """One stack per stage, for the longest stage API Gateway allows, in every mode: large-bodies creates its
    delivery with a name CloudWatch Logs accepts, JSON output and the chosen record fields."""
    pipeline = f"apigw-stream-long-{mode}"
    pipeline_out, _ = deploy(aws, pipeline, "pipeline.yaml", PIPELINE_PARAMS)
    api_id = "".join(c for c in uuid.uuid4().hex if c.isalnum())[:10]
    stage = ("long-stage-" + mode + "-" + "x" * 128)[:128]
    group = f"/aws/apigateway/{api_id}-{stage}"
    stack = ("apigw-stream-api-" + api_id + "-" + "x" * 128)[:128]
    out, res = deploy(aws, stack, "api-subscription.yaml", params(
        PipelineStackName=pipeline, ApiKind="rest", ApiId=api_id, StageName=stage, LogGroupName=group,
        CreateLogGroup="true", ExecutionMode=mode))
    logs = aws("logs")
    (g,) = logs.describe_log_groups(logGroupNamePrefix=out["SubscribedLogGroupName"])["logGroups"]
    (f,) = logs.describe_subscription_filters(logGroupName=g["logGroupName"])["subscriptionFilters"]
    assert f["destinationArn"] == pipeline_out["DecodeFunctionArn"]
    if mode == "access":
        assert "kmsKeyId" not in g, "access logs hold no bodies: not encrypted unless a key is given"
        return
    assert g["kmsKeyId"] == pipeline_out["KeyArn"], "execution logs hold bodies: the pipeline's key by default"
    if mode == "execution":
        return
    stack_uuid = aws("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]["StackId"].rsplit("/", 1)[1]
    name = f"apigw-stream-{api_id}-{stack_uuid}"
    assert out["DeliveryName"] == name and len(name) == 60
    source = logs.get_delivery_source(name=name)["deliverySource"]
    assert source["logType"] == "EXECUTION_LOGS" and source["resourceArns"][0].endswith(f"/restapis/{api_id}/stages/{stage}")
    destination = logs.get_delivery_destination(name=name)["deliveryDestination"]
    assert destination["outputFormat"] == "json"
    assert destination["deliveryDestinationConfiguration"]["destinationResourceArn"].endswith(
        f"log-group:/aws/vendedlogs/apigw-stream/execution/{api_id}/{stage}")
    (delivery,) = [d for d in logs.describe_deliveries()["deliveries"] if d["deliverySourceName"] == name]
    assert delivery["deliveryDestinationArn"] == destination["arn"]
    assert delivery["recordFields"] == ["resource_arn", "event_timestamp", "api_id", "stage", "resource_path",
                                        "http_method", "payload"]


def test_moto_refuses_a_delivery_name_aws_refuses(aws, all_region_artifacts):
    """The thin check in moto_server_cfn.py is AWS's rule: a 61-character name fails the stack."""
    template = json.dumps({"Resources": {"D": {"Type": "AWS::Logs::DeliveryDestination", "Properties": {
        "Name": "n" * 61, "DestinationResourceArn": "arn:aws:logs:us-east-1:123456789012:log-group:/x"}}}})
    cf = aws("cloudformation")
    name = f"too-long-delivery-{uuid.uuid4().hex[:6]}"
    try:
        cf.create_stack(StackName=name, TemplateBody=template)
        status = cf.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
    except cf.exceptions.ClientError:
        status = "refused"
    assert status != "CREATE_COMPLETE"
