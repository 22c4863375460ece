"""Checks delivered webhook events against openapi.yaml's `webhooks:` section.

Reads JSON lines on stdin, each a delivery as a receiver got it: {"headers": {...}, "body": "..."}.
For each, the body must be JSON that validates (JSON Schema 2020-12, formats checked) against the
request body schema of `webhooks.<its type>.post`, and the headers against that operation's
header parameters (webhook-id, webhook-timestamp, webhook-signature); its `webhook-id` must be the
event's id. With --all, every event type the document lists must have been seen, so a type added
to the document (or the code) without the other fails too.

    .venv/bin/python -m inflow_dev.validate_events [--all] [--spec openapi.yaml] < deliveries.jsonl

Exit 0 when every delivery validates; else 1, naming each failure. tests/it/event_schemas.rs
runs it on what the real code delivered.
"""

import argparse
import json
import sys

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

ROOT = "urn:inflow:openapi"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="openapi.yaml")
    parser.add_argument("--all", action="store_true")
    args = parser.parse_args()
    with open(args.spec) as f:
        doc = yaml.safe_load(f)
    registry = Registry().with_resource(ROOT, Resource.from_contents(doc, default_specification=DRAFT202012))
    hooks = doc.get("webhooks") or {}

    def validator(pointer):
        return Draft202012Validator({"$ref": f"{ROOT}#{pointer}"}, registry=registry,
                                    format_checker=Draft202012Validator.FORMAT_CHECKER)

    def resolve(node):
        while isinstance(node, dict) and "$ref" in node:
            node = registry.resolver(ROOT).lookup(f"{ROOT}{node['$ref']}").contents
        return node

    failures, seen, count = [], set(), 0
    for line in sys.stdin:
        if not line.strip():
            continue
        count += 1
        delivery = json.loads(line)
        try:
            event = json.loads(delivery["body"])
        except ValueError as err:
            failures.append(f"a body that is not JSON: {err}")
            continue
        kind = event.get("type") if isinstance(event, dict) else None
        if kind not in hooks:
            failures.append(f"event type {kind!r} is not in openapi.yaml's webhooks")
            continue
        seen.add(kind)
        pointer = f"/webhooks/{kind}/post/requestBody/content/application~1json/schema"
        for err in validator(pointer).iter_errors(event):
            failures.append(f"{kind} body: {err.message} at {list(err.absolute_path)}")
        headers = {k.lower(): v for k, v in delivery["headers"].items()}
        for param in hooks[kind]["post"].get("parameters", []):
            param = resolve(param)
            if param.get("in") != "header":
                continue
            name = param["name"].lower()
            if name not in headers:
                if param.get("required"):
                    failures.append(f"{kind}: no {name} header")
                continue
            for err in Draft202012Validator(param["schema"]).iter_errors(headers[name]):
                failures.append(f"{kind} header {name}: {err.message}")
        if headers.get("webhook-id") != event.get("id"):
            failures.append(f"{kind}: webhook-id {headers.get('webhook-id')!r} is not the event id")
    if args.all:
        for kind in sorted(set(hooks) - seen):
            failures.append(f"{kind}: documented, never delivered")
    for failure in failures:
        print(f"  FAIL  {failure}")
    print(f"events: {count} deliveries of {len(seen)} types checked against openapi.yaml; "
          f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
