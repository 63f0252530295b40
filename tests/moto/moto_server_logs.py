"""moto's server, plus what its CloudWatch Logs lacks for API Gateway's 1 MB execution-log delivery:

- PutDeliverySource accepts an API Gateway stage (`arn:aws:apigateway:…:/restapis/ID/stages/NAME`)
  with log type EXECUTION_LOGS; moto 5.2 knows only a fixed list of other services and refuses it
  ("Cannot access provided service."). The source is stored by moto's own DeliverySource model, so
  CreateDelivery, DescribeDeliverySources and GetDeliverySource see it as AWS would.
- DescribeConfigurationTemplates (not in moto) answers for service `apigateway`, log type
  EXECUTION_LOGS, with the record fields and output formats given in the environment
  (APIGW_TEMPLATE_FIELDS, APIGW_TEMPLATE_FORMATS: comma-separated), so a test can make AWS offer a
  field the decoder does not know, or withhold one it needs.

Everything else is moto's. Run as moto_server is run:

    python moto_server_logs.py -H 127.0.0.1 -p PORT
"""

import json
import os

from moto.logs.models import DeliverySource, LogsBackend
from moto.logs.responses import LogsResponse
from moto.server import main

DEFAULT_FIELDS = "resource_arn,event_timestamp,api_id,stage,resource_path,http_method,payload"

_moto_put_delivery_source = LogsBackend.put_delivery_source


def put_delivery_source(self, name, resource_arn, log_type, tags):
    if resource_arn.split(":")[2:3] != ["apigateway"]:
        return _moto_put_delivery_source(self, name, resource_arn, log_type, tags)
    if log_type != "EXECUTION_LOGS":
        from moto.logs.exceptions import ValidationException

        raise ValidationException(msg=" This service is not allowed for this LogSource.")
    source = DeliverySource(
        account_id=self.account_id,
        region=self.region_name,
        name=name,
        resource_arn=resource_arn,
        log_type=log_type,
        tags=tags,
    )
    self.delivery_sources[name] = source
    if tags:
        self.tag_resource(source.arn, tags)
    return source


def describe_configuration_templates(self):
    service = self._get_param("service")
    log_types = self._get_param("logTypes") or []
    templates = []
    if service in (None, "apigateway") and (not log_types or "EXECUTION_LOGS" in log_types):
        fields = [f for f in os.environ.get("APIGW_TEMPLATE_FIELDS", DEFAULT_FIELDS).split(",") if f]
        formats = [f for f in os.environ.get("APIGW_TEMPLATE_FORMATS", "json,plain").split(",") if f]
        templates.append(
            {
                "service": "apigateway",
                "logType": "EXECUTION_LOGS",
                "resourceType": "stages",
                "deliveryDestinationType": "CWL",
                "allowedFields": [{"name": f, "mandatory": f == "payload"} for f in fields],
                "allowedOutputFormats": formats,
            }
        )
    return json.dumps({"configurationTemplates": templates})


LogsBackend.put_delivery_source = put_delivery_source
LogsResponse.describe_configuration_templates = describe_configuration_templates

if __name__ == "__main__":
    main()
