"""moto's server, plus what moto 5.2's CloudWatch Logs lacks for a central pipeline: a subscription filter whose
destination is a CloudWatch Logs *destination* (`arn:…:logs:{region}:{account}:destination:{name}`), possibly in
another account. moto reads any `logs` ARN as a log group's; here a destination ARN is checked as AWS does:
the destination must exist in its account and region, and a caller from another account must be admitted by the
destination's access policy (an `AWS` principal naming the caller's account, or `*` under an
`aws:PrincipalOrgID` condition naming the organization the caller belongs to).

The organization is given in the environment: APIGW_TEST_ORG_ID=o-… and APIGW_TEST_ORG_ACCOUNTS=acct,acct.

    python moto_server_logs.py -H 127.0.0.1 -p PORT
"""

import json
import os
import sys

from moto.logs.exceptions import InvalidParameterException, ResourceNotFoundException
from moto.logs.models import LogsBackend, logs_backends
from moto.server import main

_original = LogsBackend.put_subscription_filter


def _org_of(account):
    members = {a.strip() for a in os.environ.get("APIGW_TEST_ORG_ACCOUNTS", "").split(",") if a.strip()}
    return os.environ.get("APIGW_TEST_ORG_ID") if account in members else None


def _admits(policy_text, caller):
    try:
        policy = json.loads(policy_text or "{}")
    except ValueError:
        return False
    statements = policy.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    for st in statements:
        actions = st.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if st.get("Effect") != "Allow" or not any(a in ("logs:PutSubscriptionFilter", "logs:*", "*") for a in actions):
            continue
        principal = st.get("Principal", {})
        aws = principal.get("AWS", []) if isinstance(principal, dict) else principal
        aws = [aws] if isinstance(aws, str) else aws
        named = any(p == caller or p.endswith(f"::{caller}:root") for p in aws)
        anyone = "*" in aws
        org_condition = st.get("Condition", {}).get("StringEquals", {}).get("aws:PrincipalOrgID")
        if named:
            return True
        if anyone and org_condition is not None:
            wanted = [org_condition] if isinstance(org_condition, str) else org_condition
            if _org_of(caller) in wanted:
                return True
        if anyone and not st.get("Condition"):
            return True
    return False


def put_subscription_filter(self, log_group_name, filter_name, filter_pattern, destination_arn, role_arn):
    parts = destination_arn.split(":", 5)
    if len(parts) == 6 and parts[2] == "logs" and parts[5].startswith("destination:"):
        region, account, name = parts[3], parts[4], parts[5].split(":", 1)[1]
        log_group = self.groups.get(log_group_name)
        if not log_group:
            raise ResourceNotFoundException()
        destination = logs_backends[account][region].destinations.get(destination_arn)
        if destination is None or destination.destination_name != name:
            raise ResourceNotFoundException("The specified destination does not exist.")
        if account != self.account_id and not _admits(destination.access_policy, self.account_id):
            raise InvalidParameterException(
                f"User with accountId: {self.account_id} is not authorized to perform: logs:PutSubscriptionFilter"
                f" on resource: {destination_arn}"
            )
        log_group.put_subscription_filter(filter_name, filter_pattern, destination_arn, role_arn)
        return None
    return _original(self, log_group_name, filter_name, filter_pattern, destination_arn, role_arn)


LogsBackend.put_subscription_filter = put_subscription_filter

if __name__ == "__main__":
    sys.exit(main())
