"""moto's server, made faithful where the tests rely on AWS behaviour moto 5.2 does not have.

SQS FIFO receives (ReceiveMessage on a .fifo queue), as SQS documents them: a message group with
a message in flight is served to no one else, and a receive returns a group's visible messages
together, in order (a group that does not fit the room left in a batch waits for the next receive,
unless it is the first: then it fills the batch). moto 5.2 fills a batch message by message in
queue order (so a group's later messages can stay behind older messages of other groups, receive
after receive) and computes the groups in flight once per long poll (so concurrent polls can hand
out a group already in flight). Receives here run one at a time, on standard queues too (moto checks
a message's visibility and marks it received in two steps, so concurrent polls could both take it).

CloudWatch Logs, for API Gateway's 1 MB execution-log delivery:

- PutDeliverySource accepts an API Gateway stage (`arn:aws:apigateway:…:/restapis/ID/stages/NAME`)
  with log type EXECUTION_LOGS; moto 5.2 knows only a fixed list of other services and refuses it
  ("Cannot access provided service."). The source is stored by moto's own DeliverySource model, so
  CreateDelivery, DescribeDeliverySources and GetDeliverySource see it as AWS would.
- DescribeConfigurationTemplates (not in moto) answers for service `apigateway`, log type
  EXECUTION_LOGS, with the record fields and output formats given in the environment
  (APIGW_TEMPLATE_FIELDS, APIGW_TEMPLATE_FORMATS: comma-separated), so a test can make AWS offer a
  field the decoder does not know, or withhold one it needs.

Everything else is moto's. Run as moto_server is run:

    python moto_server_ext.py -H 127.0.0.1 -p PORT
"""

import json
import os
import threading
import time
from copy import deepcopy

from moto.core.utils import unix_time
from moto.logs.models import DeliverySource, LogsBackend
from moto.logs.responses import LogsResponse
from moto.server import main
from moto.sqs.models import SQSBackend, _filter_message_attributes

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


_moto_receive_message = SQSBackend.receive_message
_receive_lock = threading.Lock()


def _fifo_take(queue, count, visibility_timeout, message_attribute_names):
    # Messages whose visibility ran out are no longer in flight.
    for m in list(queue.pending_messages):
        if m.visible:
            queue.pending_messages.remove(m)
    in_flight = queue.pending_message_groups
    groups = {}
    for m in queue.messages:  # visible, in send order
        groups.setdefault(m.group_id, []).append(m)
    result = []
    to_dlq = []
    for group_id, messages in groups.items():
        if group_id in in_flight:
            continue
        room = count - len(result)
        if room <= 0:
            break
        if result and len(messages) > room:
            continue  # the whole group next time
        for m in messages[:room]:
            if (
                queue.dead_letter_queue is not None
                and queue.redrive_policy
                and m.approximate_receive_count >= queue.redrive_policy["maxReceiveCount"]
            ):
                to_dlq.append(m)
                continue
            queue.pending_messages.add(m)
            m.mark_received(visibility_timeout=visibility_timeout)
            copy = deepcopy(m)
            _filter_message_attributes(copy, message_attribute_names or [])
            result.append(copy)
    for m in to_dlq:
        queue._messages.remove(m)
        queue.dead_letter_queue.add_message(m)
    return result


def receive_message(
    self, queue_name, count, wait_seconds_timeout, visibility_timeout, message_attribute_names=None
):
    queue = self.get_queue(queue_name)
    deadline = unix_time() + (wait_seconds_timeout or 0)
    while True:
        # One receive at a time, as SQS hands a message to one receiver: moto checks visibility and
        # marks a message received in two steps, so two concurrent polls could both take it.
        with _receive_lock:
            if queue.fifo_queue:
                result = _fifo_take(queue, count, visibility_timeout, message_attribute_names)
            else:
                result = _moto_receive_message(
                    self, queue_name, count, 0, visibility_timeout, message_attribute_names
                )
        if result or unix_time() >= deadline:
            return result
        time.sleep(0.05)


SQSBackend.receive_message = receive_message
LogsBackend.put_delivery_source = put_delivery_source
LogsResponse.describe_configuration_templates = describe_configuration_templates

if __name__ == "__main__":
    main()
