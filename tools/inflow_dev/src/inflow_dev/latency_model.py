"""The latency model of `make bench`: docs/cost-inputs.toml's `[latency]` figures (ms per call,
same region, warm connection; each with its source there) as the JSON that the emulator's
`POST /_inflow/delays` and the bench harness take:
    {"operations": {"GetItem": 4.0, ...}, "default": 0, "mode": "pad"}
Operations the table names no figure for take no modelled time (the emulator's own).

    .venv/bin/python -m inflow_dev.latency_model [docs/cost-inputs.toml] > model.json
"""
import json
import sys
import tomllib
from pathlib import Path

from inflow_dev import ROOT

# cost-inputs.toml key -> the AWS operation (as the SDK and the emulator name it).
OPERATIONS = {
    "dynamodb_get_item_ms": "GetItem",
    "dynamodb_put_item_ms": "PutItem",
    "dynamodb_update_item_ms": "UpdateItem",
    "dynamodb_delete_item_ms": "DeleteItem",
    "dynamodb_query_ms": "Query",
    "dynamodb_transact_write_items_ms": "TransactWriteItems",
    "dynamodb_batch_write_item_ms": "BatchWriteItem",
    "dynamodb_batch_get_item_ms": "BatchGetItem",
    "sqs_send_message_ms": "SendMessage",
    "sqs_send_message_batch_ms": "SendMessageBatch",
    "ses_send_email_ms": "SendEmail",
    "secrets_manager_get_secret_value_ms": "GetSecretValue",
}


def model(inputs):
    latency = inputs.get("latency", {})
    return {
        "operations": {op: float(latency[key]) for key, op in OPERATIONS.items() if key in latency},
        "default": 0.0,
        "mode": "pad",
    }


def main():
    path = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "docs/cost-inputs.toml")
    with open(path, "rb") as f:
        print(json.dumps(model(tomllib.load(f)), indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
