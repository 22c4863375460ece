"""schemathesis hooks for scripts/schemathesis.sh (loaded through scripts/schemathesis.toml).

before_call: every well-formed `Idempotency-Key` gets a unique suffix (a malformed one, which a
negative case sends on purpose, is left as it is). Schemathesis sends the document's example key,
or the same few short drawn keys, again and again, so most creating calls were answered 422 (key
reused with another body) and never reached their handler or their body checks. Replays, 422
and 409 are tested in tests/it/*.rs.

map_case, positive cases only: every other assign names the seeded flow and user
(INFLOW_FLOW_ID, INFLOW_USER_EMAIL), so that some assigns succeed and the document's links lead
on to real assignments (get, start, complete).
"""

import itertools
import os
import re
import uuid

import schemathesis

_assigns = itertools.count()
# openapi.yaml's pattern for Idempotency-Key, with its length bounds.
_KEY = re.compile(r"[!-~]([ -~]{0,253}[!-~])?")


def _positive(case) -> bool:
    meta = case.meta
    return meta is not None and meta.generation.mode.is_positive


@schemathesis.hook
def map_case(context, case):
    if (
        _positive(case)
        and case.operation.method.upper() == "POST"
        and case.operation.path == "/v1/flows/assign"
        and isinstance(case.body, dict)
        and next(_assigns) % 2 == 0
    ):
        case.body["flowId"] = os.environ["INFLOW_FLOW_ID"]
        case.body["userEmail"] = os.environ["INFLOW_USER_EMAIL"]
    return case


@schemathesis.hook
def before_call(context, case, kwargs):
    headers = case.headers or {}
    for name in list(headers):
        value = headers[name]
        if name.lower() == "idempotency-key" and isinstance(value, str) and _KEY.fullmatch(value):
            headers[name] = f"{value[:200]}-{uuid.uuid4().hex}"
