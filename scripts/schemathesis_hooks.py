"""schemathesis hooks for scripts/schemathesis.sh (loaded through scripts/schemathesis.toml).

filter_case: cases that only the local router cannot carry are not sent. The local stand-in for
API Gateway, `cargo lambda watch`, answers 500 by itself, before any function runs, to
  - a header value with a byte over 0x7F (`curl -H $'X-Anything: \\xd7' …`), and
  - a body that is not UTF-8 sent as `Content-Type: application/json`.
Such a case would test the emulator, not Inflow. The functions read such header values as absent
or invalid (unit tests in shared/src/auth.rs), and answer 400 to a non-UTF-8 body (unit test
`bodies_must_be_json_objects` in shared/src/wire/mod.rs).

before_call: every well-formed `Idempotency-Key` gets a unique suffix (a malformed one, which a
negative case sends on purpose, is left as it is). Schemathesis sends the document's example key,
or the same few short drawn keys, again and again, so most creating calls were answered 422 (key
reused with another body) and never reached their handler or their body checks. Replays, 422
and 409 are tested in tests/tests/*.rs.

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


def _ascii(value) -> bool:
    return not isinstance(value, str) or value.isascii()


def _utf8(body) -> bool:
    raw = getattr(body, "data", body)
    if isinstance(raw, (bytes, bytearray)):
        try:
            bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            return False
    return True


@schemathesis.hook
def filter_case(context, case):
    return all(_ascii(v) for v in (case.headers or {}).values()) and _utf8(case.body)


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
