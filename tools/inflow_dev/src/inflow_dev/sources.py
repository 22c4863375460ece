"""The event sources of template.yaml, on this machine, for `make dev`.

In AWS, Lambda reads the table's stream and hands batches to the relay, polls each queue and
hands batches to its worker function, and EventBridge runs the sweeper every minute. Locally,
this script does all three against the emulator and invokes the functions through the local
API Gateway's Lambda Invoke endpoint (inflow_dev.gateway, `POST /2015-03-31/functions/{name}/
invocations`), so they run exactly as the binaries deployed:

- the table's stream is read with DynamoDB Streams' API from where the last run stopped (the
  checkpoint is kept in .dev/, per stream), filtered by the relay's FilterCriteria, and handed to
  the relay as DynamoDB stream events of at most its BatchSize; after a batch whose answer names
  failed records, the next starts at the first of them (ReportBatchItemFailures); a batch that
  still fails after MaximumRetryAttempts is given up and described in the relay's DLQ
  (RELAY_DLQ_URL), as Lambda's on-failure destination would be. Every setting is read from
  template.yaml. tests/src/stream.rs does the same for the integration tests;

- each queue of QUEUE_WORKERS is long-polled; a batch (up to 10) becomes an SQS event in
  Lambda's shape; after the invocation, only the messages not named in the response's
  `batchItemFailures` are deleted (ReportBatchItemFailures). When the invocation itself fails,
  nothing is deleted: the messages come back after the queue's visibility timeout, as in AWS.
- each function of SCHEDULES is invoked with a scheduled event at start and then every period.

A function whose binary (functions/src/bin/<name>.rs) does not exist is skipped.

Usage (run with the project venv's python; scripts/env.sh provides the environment):
    .venv/bin/python -m inflow_dev.sources [--invoke-url http://127.0.0.1:9000]
Stops on SIGINT or SIGTERM.
"""

import argparse
import base64
import datetime
import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

import boto3

from inflow_dev import ROOT
from inflow_dev.template import BATCH_SIZE, queue_settings, stream_settings

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
# Functions fed from the table's stream (template.yaml's DynamoDB events).
STREAM_WORKERS = ["relay"]
# Pollers per queue at most, whatever MaximumConcurrency says: the local gateway runs at most
# --concurrency instances of a function anyway (inflow_dev.gateway).
MAX_POLLERS = 4
WAIT_SECONDS = 5  # long poll; short enough to stop promptly
# Longer than any function's Timeout in template.yaml (the gateway ends an invocation there).
INVOKE_TIMEOUT = 300

REGION = os.environ.get("AWS_REGION", "us-east-1")


def log(message):
    print(f"workers: {message}", flush=True)


def has_binary(function):
    return (ROOT / "functions" / "src" / "bin" / f"{function}.rs").is_file()


def invoke(invoke_url, function, event):
    """Invokes a function through the gateway's Lambda Invoke API; its JSON answer, or None when
    the invocation failed (as Lambda's API says it: 200 with X-Amz-Function-Error)."""
    request = urllib.request.Request(
        f"{invoke_url}/2015-03-31/functions/{function}/invocations",
        data=json.dumps(event).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=INVOKE_TIMEOUT) as response:
            body = response.read()
            if response.headers.get("X-Amz-Function-Error"):
                log(f"{function}: the function failed: {body[:300].decode(errors='replace')}")
                return None
            return json.loads(body or b"null")
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


def release(sqs, queue_url, messages):
    entries = [
        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
        for i, m in enumerate(messages)
    ]
    sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)
    log(f"released {len(messages)} message(s) on stopping")


def poll(stop, invoke_url, env_name, function, batch_size=BATCH_SIZE):
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
                MaxNumberOfMessages=batch_size,
                WaitTimeSeconds=WAIT_SECONDS,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            messages = out.get("Messages", [])
            if messages and stop.is_set():
                # Stopping (its gateway may be gone): hand them back at once rather than hold
                # them for the queue's visibility timeout, out of the next poller's reach.
                release(sqs, queue_url, messages)
            elif messages:
                handle_batch(sqs, invoke_url, queue_url, queue_arn, function, messages)
        except Exception as err:  # keep polling: the emulator may restart, a function may be rebuilt
            log(f"{function}: {type(err).__name__}: {err}")
            stop.wait(2)


def matches(pattern, event):
    """Lambda's event filter, for the patterns the template uses: nested objects, lists of
    literal values, `exists` and `prefix`."""
    if isinstance(pattern, dict):
        return all(matches(p, event.get(k) if isinstance(event, dict) else None) for k, p in pattern.items())
    if isinstance(pattern, list):
        for option in pattern:
            if isinstance(option, dict):
                if "exists" in option and option["exists"] == (event is not None):
                    return True
                if "prefix" in option and isinstance(event, str) and event.startswith(option["prefix"]):
                    return True
            elif option == event:
                return True
    return False


def lambda_value(value):
    """A stream record's value as JSON, as Lambda hands it over (bytes in base64, times in epoch
    seconds)."""
    if isinstance(value, dict):
        return {k: lambda_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [lambda_value(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    return value


def stream_record(record, stream_arn):
    out = lambda_value(record)
    out["eventSourceARN"] = stream_arn
    return out


class Checkpoint:
    """The sequence number of the last record read, per stream, kept in .dev/ across runs."""

    def __init__(self, function):
        self.path = ROOT / ".dev" / f"{function}-stream-checkpoint.json"

    def get(self, stream_arn):
        try:
            return json.loads(self.path.read_text()).get(stream_arn)
        except (OSError, ValueError):
            return None

    def put(self, stream_arn, sequence_number):
        try:
            known = json.loads(self.path.read_text())
        except (OSError, ValueError):
            known = {}
        known.pop(stream_arn, None)
        known[stream_arn] = sequence_number
        # Each emulator run (make dev, make test) has its own streams; the newest few are kept.
        known = dict(list(known.items())[-20:])
        self.path.parent.mkdir(exist_ok=True)
        self.path.write_text(json.dumps(known))


def hand_over(invoke_url, function, records, batch_size, max_retries, give_up):
    """Invokes the function on the records in order, as Lambda's stream event source would,
    waiting a little longer after each failed try (the relay's own SQS calls back off too)."""
    pending = list(records)
    retries = 0
    while pending:
        batch = pending[:batch_size]
        answer = invoke(invoke_url, function, {"Records": batch})
        if isinstance(answer, dict):
            failed = {f.get("itemIdentifier") for f in answer.get("batchItemFailures") or []}
            sequence = [r["dynamodb"]["SequenceNumber"] for r in batch]
            # Lambda resumes at the first failed record; an unknown identifier fails the batch.
            first = min((sequence.index(f) if f in sequence else 0 for f in failed), default=None)
        else:
            first = 0  # the invocation itself failed: the whole batch again
        if first is None:
            del pending[: len(batch)]
            retries = 0
            continue
        del pending[:first]
        retries = 1 if first > 0 else retries + 1
        # -1 (the template's default): retried for as long as the stream keeps the record.
        if 0 <= max_retries < retries:
            given_up = pending[:batch_size]
            del pending[:batch_size]
            give_up(given_up)
            retries = 0
        else:
            time.sleep(min(0.2 * retries, 2))


def batch_info(batch, stream_arn, shard_id, max_retries):
    """What Lambda sends an on-failure destination for a stream batch it gave up on."""
    return {
        "requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": max_retries + 1},
        "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": batch[0]["dynamodb"]["SequenceNumber"],
            "endSequenceNumber": batch[-1]["dynamodb"]["SequenceNumber"],
            "approximateArrivalOfFirstRecord": batch[0]["dynamodb"].get("ApproximateCreationDateTime"),
            "approximateArrivalOfLastRecord": batch[-1]["dynamodb"].get("ApproximateCreationDateTime"),
            "batchSize": len(batch),
            "streamArn": stream_arn,
        },
    }


def stream_poll(stop, invoke_url, function):
    table = os.environ.get("TABLE_NAME")
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if not table:
        log(f"{function}: TABLE_NAME is not set; the stream is not read")
        return
    batch_size, max_retries, filters = stream_settings(function)
    ddb = boto3.client("dynamodb", region_name=REGION)
    # boto3's streams client does not take AWS_ENDPOINT_URL: it is passed explicitly.
    streams = boto3.client("dynamodbstreams", region_name=REGION, endpoint_url=endpoint)
    sqs = boto3.client("sqs", region_name=REGION)
    dlq_url = os.environ.get("RELAY_DLQ_URL")
    checkpoint = Checkpoint(function)
    iterator = stream_arn = shard_id = None
    while not stop.is_set():
        try:
            if iterator is None:
                stream_arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
                shard_id = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
                after = checkpoint.get(stream_arn)
                request = {"StreamArn": stream_arn, "ShardId": shard_id}
                if after:
                    request.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=after)
                else:
                    request.update(ShardIteratorType="TRIM_HORIZON")
                iterator = streams.get_shard_iterator(**request)["ShardIterator"]
            out = streams.get_records(ShardIterator=iterator, Limit=1000)
            iterator = out.get("NextShardIterator")
            records = [stream_record(r, stream_arn) for r in out.get("Records", [])]
            if not records:
                stop.wait(0.25)  # Lambda polls a shard four times a second
                continue
            wanted = [r for r in records if any(matches(p, r) for p in filters)]

            def give_up(batch):
                info = batch_info(batch, stream_arn, shard_id, max_retries)
                if dlq_url:
                    sqs.send_message(QueueUrl=dlq_url, MessageBody=json.dumps(info))
                log(f"{function}: gave up on {len(batch)} record(s): {json.dumps(info['DDBStreamBatchInfo'])}")

            if wanted:
                hand_over(invoke_url, function, wanted, batch_size, max_retries, give_up)
                log(f"{function}: {len(wanted)} record(s) of {len(records)} handed over")
            checkpoint.put(stream_arn, records[-1]["dynamodb"]["SequenceNumber"])
        except Exception as err:  # keep polling: the emulator may restart, a function may be rebuilt
            log(f"{function}: {type(err).__name__}: {err}")
            iterator = None
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
    parser.add_argument("--invoke-url", default="http://127.0.0.1:9000", help="the local gateway's address")
    args = parser.parse_args()
    invoke_url = args.invoke_url.rstrip("/")

    stop = threading.Event()
    # The handler only records the signal: Event.set() there could deadlock, when the signal
    # lands while the main thread holds the event's own lock (seen once: a `make dev` stopped
    # with SIGTERM left this process running). The main thread sets `stop` itself.
    signalled = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, _: signalled.append(signum))

    threads = []
    for function in STREAM_WORKERS:
        if has_binary(function):
            threads.append(threading.Thread(target=stream_poll, args=(stop, invoke_url, function), daemon=True))
        else:
            log(f"{function}: no functions/src/bin/{function}.rs yet; the stream is not read")
    for env_name, function in QUEUE_WORKERS.items():
        if has_binary(function):
            # As Lambda's event source: up to MaximumConcurrency invocations at once, each a
            # batch of at most BatchSize.
            batch_size, concurrency = queue_settings(function)
            for _ in range(min(concurrency, MAX_POLLERS)):
                threads.append(threading.Thread(target=poll, args=(stop, invoke_url, env_name, function, batch_size),
                                                daemon=True))
        else:
            log(f"{function}: no functions/src/bin/{function}.rs yet; {env_name} is not polled")
    for function, period in SCHEDULES.items():
        if has_binary(function):
            threads.append(threading.Thread(target=schedule, args=(stop, invoke_url, function, period), daemon=True))
        else:
            log(f"{function}: no functions/src/bin/{function}.rs yet; not scheduled")
    for thread in threads:
        thread.start()
    log(f"reading the table's stream for {', '.join(STREAM_WORKERS)}; polling {', '.join(QUEUE_WORKERS.values())}; "
        f"{', '.join(SCHEDULES)} every minute; invoking via {invoke_url}")
    while not signalled:
        time.sleep(0.2)
    stop.set()
    # Daemon threads end with the process; an unfinished batch simply comes back later.
    log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
