"""The plain-Python baseline of the `decode_cli` bench: what a hand-written forwarder does with a
subscription payload, and no more. For each Lambda event file: base64 -> gunzip -> JSON envelope,
then for each log event: parse the access-log JSON line, map it to a small record, dump it as one
NDJSON line. No validation, filters or redaction, so it is a generous baseline."""

import base64
import gzip
import json
import sys


def records(event):
    data = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    for ev in data["logEvents"]:
        line = json.loads(ev["message"])
        yield {
            "id": line.get("requestId"),
            "time_ms": ev["timestamp"],
            "request": {
                "method": line.get("httpMethod"),
                "path": line.get("path"),
                "route": line.get("resourcePath"),
                "client_ip": line.get("ip"),
                "headers": {"user-agent": [line.get("userAgent")]},
            },
            "response": {
                "status": int(line.get("status") or 0),
                "length": int(line.get("responseLength") or 0),
                "latency_ms": int(line.get("responseLatency") or 0),
            },
            "api": {"id": line.get("apiId"), "stage": line.get("stage")},
            "source": {"log_group": data["logGroup"], "event_id": ev["id"]},
        }


def main(out_path, inputs):
    n = 0
    with open(out_path, "w") as out:
        for path in inputs:
            with open(path) as f:
                event = json.load(f)
            for r in records(event):
                out.write(json.dumps(r))
                out.write("\n")
                n += 1
    print(n, file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
