"""The event sources of template.yaml, on this machine, for `make dev`.

In AWS, Lambda polls each queue and hands batches to its worker function, and EventBridge runs
the sweeper every minute. Locally, this script does both against the emulator and invokes the
functions through `cargo lambda watch` (its Lambda Invoke endpoint), so they run exactly as the
binaries deployed:

- each queue of QUEUE_WORKERS is long-polled; a batch (up to 10) becomes an SQS event in
  Lambda's shape; after the invocation, only the messages not named in the response's
  `batchItemFailures` are deleted (ReportBatchItemFailures). When the invocation itself fails,
  nothing is deleted: the messages come back after the queue's visibility timeout, as in AWS.
- each function of SCHEDULES is invoked with a scheduled event at start and then every period.

A function whose binary (functions/src/bin/<name>.rs) does not exist is skipped.

Usage (run with the project venv's python; scripts/env.sh provides the environment):
    .venv/bin/python scripts/local_workers.py [--invoke-url http://127.0.0.1:9000]
Stops on SIGINT or SIGTERM.
"""

import argparse
import base64
import datetime
import json
import os
import pathlib
import signal
import sys
import threading
import urllib.error
import urllib.request
import uuid

import boto3

# Environment variable holding the queue URL -> the function (binary) fed from that queue;
# the same pairs as the SQS events in template.yaml.
QUEUE_WORKERS = {
    "EMAIL_QUEUE_URL": "email-worker",
    "WEBHOOK_QUEUE_URL": "webhook-worker",
}
# Function -> seconds between runs (template.yaml's Schedule events).
SCHEDULES = {
    "sweeper": 60,
}
BATCH_SIZE = 10  # template.yaml's BatchSize
WAIT_SECONDS = 5  # long poll; short enough to stop promptly
# The first invocation of a function may compile it under watch.
INVOKE_TIMEOUT = 300

ROOT = pathlib.Path(__file__).resolve().parent.parent
REGION = os.environ.get("AWS_REGION", "us-east-1")


def log(message):
    print(f"workers: {message}", flush=True)


def has_binary(function):
    return (ROOT / "functions" / "src" / "bin" / f"{function}.rs").is_file()


def invoke(invoke_url, function, event):
    """Invokes a function through watch; its JSON answer, or None when the invocation failed."""
    request = urllib.request.Request(
        f"{invoke_url}/2015-03-31/functions/{function}/invocations",
        data=json.dumps(event).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=INVOKE_TIMEOUT) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        detail = err.read()[:300].decode(errors="replace")
        log(f"{function}: invocation failed ({err.code}): {detail}")
    except (urllib.error.URLError, TimeoutError, ValueError) as err:
        log(f"{function}: invocation failed: {err}")
    return None


def lambda_attribute(value):
    """An SQS message attribute as Lambda shows it to the function."""
    out = {
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": value.get("DataType", "String"),
    }
    if "StringValue" in value:
        out["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        out["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    return out


def sqs_record(message, queue_arn):
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {
            name: lambda_attribute(value)
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def handle_batch(sqs, invoke_url, queue_url, queue_arn, function, messages):
    event = {"Records": [sqs_record(m, queue_arn) for m in messages]}
    answer = invoke(invoke_url, function, event)
    if not isinstance(answer, dict):
        log(f"{function}: {len(messages)} message(s) left for redelivery")
        return
    failed = {f.get("itemIdentifier") for f in answer.get("batchItemFailures") or []}
    done = [m for m in messages if m["MessageId"] not in failed]
    if done:
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)]
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)
    log(f"{function}: {len(done)} done, {len(failed)} left for redelivery")


def poll(stop, invoke_url, env_name, function):
    queue_url = os.environ.get(env_name)
    if not queue_url:
        log(f"{function}: {env_name} is not set; not polling")
        return
    sqs = boto3.client("sqs", region_name=REGION)
    queue_arn = None
    while not stop.is_set():
        try:
            if queue_arn is None:
                attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
                queue_arn = attributes["Attributes"]["QueueArn"]
            out = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=BATCH_SIZE,
                WaitTimeSeconds=WAIT_SECONDS,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            messages = out.get("Messages", [])
            if messages:
                handle_batch(sqs, invoke_url, queue_url, queue_arn, function, messages)
        except Exception as err:  # keep polling: the emulator may restart, watch may rebuild
            log(f"{function}: {type(err).__name__}: {err}")
            stop.wait(2)


def scheduled_event(function):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": now,
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:123456789012:rule/inflow-{function}"],
        "detail": {},
    }


def schedule(stop, invoke_url, function, period):
    while not stop.is_set():
        answer = invoke(invoke_url, function, scheduled_event(function))
        if answer is not None:
            log(f"{function}: {json.dumps(answer, separators=(',', ':'))}")
        stop.wait(period)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoke-url", default="http://127.0.0.1:9000", help="cargo lambda watch's address")
    args = parser.parse_args()
    invoke_url = args.invoke_url.rstrip("/")

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())

    threads = []
    for env_name, function in QUEUE_WORKERS.items():
        if has_binary(function):
            threads.append(threading.Thread(target=poll, args=(stop, invoke_url, env_name, function), daemon=True))
        else:
            log(f"{function}: no functions/src/bin/{function}.rs yet; {env_name} is not polled")
    for function, period in SCHEDULES.items():
        if has_binary(function):
            threads.append(threading.Thread(target=schedule, args=(stop, invoke_url, function, period), daemon=True))
        else:
            log(f"{function}: no functions/src/bin/{function}.rs yet; not scheduled")
    for thread in threads:
        thread.start()
    log(f"polling {', '.join(QUEUE_WORKERS.values())}; {', '.join(SCHEDULES)} every minute; invoking via {invoke_url}")
    stop.wait()
    # Daemon threads end with the process; an unfinished batch simply comes back later.
    log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
