"""Write copies of the CloudFormation templates whose parameter defaults switch every optional resource on.

checkov evaluates conditions with the default parameter values and skips resources whose condition is false,
so the templates as shipped would leave the alarm topic, the created secret's key grant, the created access-log
group ... unscanned. `python cfn_variants.py OUT_DIR` writes the variants as JSON for a second checkov run."""

import json
import sys
from pathlib import Path

from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parents[2]
ARN = "arn:aws:{}:us-east-1:123456789012:{}"
VARIANTS = {
    "pipeline.yaml": {
        "all-on": {
            "ClientSecret": "scan-only",
            "ClientSecretArn": ARN.format("secretsmanager", "secret:scan-only"),
            "ClientSecretKmsKeyArn": ARN.format("kms", "key/scan-only"),
            "CreateAlarmTopic": "true",
            "AlarmEmail": "scan@example.com",
            "DecodeReservedConcurrency": 20,
            "ShipperReservedConcurrency": 10,
            "ArchiveBucket": "scan-only-archive",
            "ArchiveKmsKeyArn": ARN.format("kms", "key/scan-only-archive"),
            "CreateApiGatewayAccountRole": "true",
        },
    },
    "api-subscription.yaml": {
        "all-on": {
            "CreateLogGroup": "true",
            "LogGroupKmsKeyArn": ARN.format("kms", "key/scan-only"),
            "DecodeFunctionArn": ARN.format("lambda", "function:scan-only"),
        },
        # The 1 MB execution-log delivery's resources.
        "large-bodies": {
            "ApiKind": "rest",
            "ExecutionMode": "large-bodies",
            "LogGroupKmsKeyArn": ARN.format("kms", "key/scan-only"),
            "DecodeFunctionArn": ARN.format("lambda", "function:scan-only"),
        },
    },
}


def main(out_dir):
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, variants in VARIANTS.items():
        for variant, defaults in variants.items():
            template, errors = decode(str(ROOT / "cloudformation" / name))
            if errors:
                sys.exit(f"{name}: {errors}")
            for key, value in defaults.items():
                template["Parameters"][key]["Default"] = value
            (out / f"{Path(name).stem}.{variant}.json").write_text(json.dumps(template, indent=1, default=str))

if __name__ == "__main__":
    main(sys.argv[1])
