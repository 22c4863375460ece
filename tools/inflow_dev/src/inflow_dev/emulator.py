"""The local AWS emulator: moto's server, with DynamoDB calls serialized and three of moto's
DynamoDB costs that real DynamoDB does not have taken out (each below).

moto evaluates a condition expression and applies the write as separate Python steps, and
its server is threaded, so two concurrent conditional writes to one item can both pass their
condition. Real DynamoDB applies each conditional write atomically, and our rate limiter and
uniqueness claims rely on that. Serializing DynamoDB requests restores it; other services
(SQS long polls above all) stay concurrent.

TransactWriteItems backs up the items it touches rather than whole tables: moto deep-copies
every table in the transaction, once per item, to roll back on failure, so one transaction cost
O(table size) (tens of milliseconds once a table held a few thousand items), which no real
DynamoDB call does. The outcome is the same: all of the writes, or none. A cancelled
transaction also takes back the stream records its parts added (moto keeps them), so that the
table's stream, like DynamoDB's, shows only what was written.

A key over DynamoDB's size limits is refused on reads too (moto checks only the keys it writes).

A send or a receive does not count the queue's messages (moto's did, three times, per message).

Standard queues share their receives fairly among message groups, as SQS fair queues do (a
tenant's backlog does not hold up another tenant's messages; see `fair_queues_share_receives`).

DynamoDB Streams calls are serialized with the DynamoDB ones (a GetRecords never sees a
transaction half applied), and moto's shard iterators, which it keeps forever (one per
GetRecords call, about a kilobyte each), are kept to the newest 10,000, as DynamoDB's expire
after 15 minutes.

Query reads only the items its key condition can match. moto sorts the whole table (with a
Python comparison per pair of keys) and then filters it, for every Query, so a query's cost grew
with the table (34 ms for an index query of a 2,000-item table, against 1 ms for a GetItem);
DynamoDB's does not. moto's own query then runs on those items, so the answer is the same.

Attribute values are written into a response directly. moto's response serializer looks up
each of an AttributeValue's ten possible members, under several spellings, through the service
model, for every value of every item it returns: most of a Query's time, and 0.15 ms per item
of a few attributes. The JSON written is the same (tools/inflow_dev/tests/test_emulator.py compares them).

It answers POST /_inflow/faults with a rule for errors it then answers in place of a service
(see `Faults`), so tests can show what a throttle or an outage does.

It answers POST /_inflow/delays with a latency model: how long each operation takes, as it
would in AWS (see `Delays`; also INFLOW_DELAYS at start), so that a benchmark on this machine
shows what a request waits for in a region rather than what moto costs.

It counts DynamoDB's read and write units for each call when asked, as on-demand bills them:
item sizes before and after, each global secondary index's writes, transactions at twice the
units, and the partition key each unit lands on (see `Capacity`, /_inflow/capacity).

It also answers GET /_inflow/sent-mail with the mail SES has sent (v1 and v2 API), as a JSON
list of {id, source, destinations, subject, body}. moto's own /moto-api/data.json has it too,
but it dumps every model of every service (megabytes with many test tables) and fails outright
once some DynamoDB items are in memory ("keys must be str ..., not DynamoType").

Usage: .venv/bin/python -m inflow_dev.emulator HOST PORT   (scripts/moto.sh start PORT runs it)
"""

import collections
import json
import math
import os
import sys
import threading
import time

from werkzeug.serving import run_simple

from moto.moto_server.threaded_moto_server import MotoRequestHandler  # noqa: F401 (same handler moto uses)
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

class FifoLock:
    """A lock granted in the order it was asked for. threading.Lock is not fair: a thread that
    releases it and asks again at once (a poller reading the stream in a loop) can win it again
    and again while another request waits, which DynamoDB, serving each call on its own, never
    does. In arrival order, every call waits at most for the calls that came before it. The lock
    is handed straight to the next waiter, waking only that one."""

    def __init__(self):
        self._mutex = threading.Lock()
        self._waiters = collections.deque()
        self._held = False

    def __enter__(self):
        with self._mutex:
            if not self._held:
                self._held = True
                return self
            turn = threading.Event()
            self._waiters.append(turn)
        turn.wait()
        return self

    def __exit__(self, *exc):
        with self._mutex:
            if self._waiters:
                self._waiters.popleft().set()
            else:
                self._held = False
        return False


_dynamodb = FifoLock()


def cheap_transaction_rollback():
    import copy

    import moto.dynamodb.models as models
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    class CopyKeepingTables:
        """The copy module for moto's DynamoDB backend, except that a Table is not copied."""

        def __getattr__(self, name):
            return getattr(copy, name)

        @staticmethod
        def deepcopy(value, memo=None):
            return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    def touched(backend, transact_items):
        """(table, hash, range, a copy of the item or None) for each item a transaction names."""
        found = []
        for entry in transact_items:
            try:
                _, op = next(iter(entry.items()))
                table = backend.tables.get(op.get("TableName"))
                if table is None:
                    continue
                key = op.get("Key") or op["Item"]
                hash_value = DynamoType(key[table.hash_key_attr])
                range_value = DynamoType(key[table.range_key_attr]) if table.has_range_key else None
                item = table.get_item(hash_value, range_value)
            except Exception:  # moto itself rejects it, before writing it
                continue
            found.append((table, hash_value, range_value, copy.deepcopy(item)))
        return found

    def restore(found):
        for table, hash_value, range_value, item in reversed(found):
            if range_value is None:
                table.items.pop(hash_value, None)
                if item is not None:
                    table.items[hash_value] = item
            else:
                table.items[hash_value].pop(range_value, None)
                if item is not None:
                    table.items[hash_value][range_value] = item

    original = models.DynamoDBBackend.transact_write_items

    def stream_lengths(found):
        """How many records each touched table's stream holds now."""
        return {id(table): (table.stream_shard, len(table.stream_shard.items))
                for table, *_ in found if table.stream_shard is not None}

    def transact_write_items(self, transact_items):
        found = touched(self, transact_items)
        streams = stream_lengths(found)
        try:
            return original(self, transact_items)
        except Exception:
            restore(found)
            # moto applies the parts one by one and each adds its stream record; a cancelled
            # transaction wrote nothing, so its records go too.
            for shard, length in streams.values():
                del shard.items[length:]
            raise

    models.copy = CopyKeepingTables()
    models.DynamoDBBackend.transact_write_items = transact_write_items


def queries_read_one_partition():
    from collections import defaultdict

    from moto.dynamodb.models.table import Table

    original = Table.query

    def candidates(table, hash_key, index_name, conditions):
        """The table's items, as moto stores them, that the query's key condition can match."""
        if not index_name:
            found = defaultdict(dict)
            if hash_key is not None and hash_key in table.items:
                found[hash_key] = table.items[hash_key]
            return found

        def matches(item):
            for name, value in conditions:
                found = item.attrs.get(name)
                if found is None:
                    return False
                # Strings compare as they are; moto's != converts both sides on every call.
                if found.type == value.type == "S":
                    if found.value != value.value:
                        return False
                elif found != value:
                    return False
            return True

        found = defaultdict(dict)
        for hash_value, stored in table.items.items():
            if not table.range_key_attr:
                if matches(stored):
                    found[hash_value] = stored
                continue
            kept = {r: item for r, item in stored.items() if matches(item)}
            if kept:
                found[hash_value] = kept
        return found

    def query(self, hash_key, *args, **kwargs):
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        conditions = kwargs.get("hash_key_conditions") or []
        if index_name and not conditions:
            return original(self, hash_key, *args, **kwargs)
        everything = self.items
        # Safe: serialize_dynamodb runs one DynamoDB request at a time.
        self.items = candidates(self, hash_key, index_name, conditions)
        try:
            return original(self, hash_key, *args, **kwargs)
        finally:
            self.items = everything

    query.moto_query = original
    Table.query = query


def attribute_values_written_directly():
    import base64

    from moto.core.serialize import BaseJSONSerializer

    original = BaseJSONSerializer._serialize_type_structure

    def blob(value):
        return base64.b64encode(value).strip().decode() if isinstance(value, bytes) else None

    def strings(values):
        return list(values) if all(isinstance(v, str) for v in values) else None

    def plain(value):
        """The wire form of one attribute value from moto's result, or None to let moto write it."""
        if not isinstance(value, dict) or len(value) != 1:
            return None
        ((kind, inner),) = value.items()
        if kind in ("S", "N"):
            found = inner if isinstance(inner, str) else None
        elif kind in ("NULL", "BOOL"):
            found = inner if isinstance(inner, bool) else None
        elif kind == "B":
            found = blob(inner)
        elif kind in ("SS", "NS"):
            found = strings(inner) if isinstance(inner, list) else None
        elif kind == "BS":
            found = [blob(v) for v in inner] if isinstance(inner, list) else None
            found = None if found is None or None in found else found
        elif kind == "M" and isinstance(inner, dict):
            found = {k: plain(v) for k, v in inner.items()}
            found = None if None in found.values() else found
        elif kind == "L" and isinstance(inner, list):
            found = [plain(v) for v in inner]
            found = None if None in found else found
        else:
            return None
        return None if found is None else {kind: found}

    def serialize_structure(self, serialized, value, shape, key):
        if key and shape.name == "AttributeValue":
            written = plain(value)
            if written is not None:
                self._default_serialize(serialized, written, shape, key)
                return
        original(self, serialized, value, shape, key)

    serialize_structure.moto_serialize = original
    BaseJSONSerializer._serialize_type_structure = serialize_structure


SHARD_ITERATORS_KEPT = 10_000


def shard_iterators_expire():
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend

    original = DynamoDBStreamsBackend.get_records

    def get_records(self, iterator_arn, limit):
        result = original(self, iterator_arn, limit)
        excess = len(self.shard_iterators) - SHARD_ITERATORS_KEPT
        if excess > 0:  # dicts keep insertion order: the oldest go first
            for arn in list(self.shard_iterators)[:excess]:
                del self.shard_iterators[arn]
        return result

    get_records.moto_get_records = original
    DynamoDBStreamsBackend.get_records = get_records


def keys_are_checked_on_reads():
    """A key over DynamoDB's size limits (a partition key of 2,048 bytes, a sort key of 1,024) is a
    ValidationException on every call that names it, as in DynamoDB; moto checks only the keys it
    writes, so a GetItem, BatchGetItem, UpdateItem or DeleteItem of an oversized key found nothing
    where DynamoDB refuses the call."""
    from moto.dynamodb.models import DynamoDBBackend

    original = DynamoDBBackend.get_keys_value

    def get_keys_value(self, table, keys):
        table._validate_key_sizes(keys)
        return original(self, table, keys)

    DynamoDBBackend.get_keys_value = get_keys_value


def queues_are_not_counted_per_message():
    """A send or a receive costs what its messages cost, not what the queue holds. moto's
    SendMessage reads the queue's whole attribute set for one flag, and its ReceiveMessage reads
    it again for every message it hands out (to check the retention period); that set counts
    every message three times (visible, in flight, delayed), each count asking the clock once
    per message. With an import's 5,000 jobs waiting, each call cost tens of milliseconds of the
    one Python process that serves every service, and the jobs starved every other request.
    Here a send reads its flag, a receive the retention period, and a count reads the clock once;
    GetQueueAttributes answers the same numbers."""
    from moto.core.utils import unix_time_millis
    from moto.sqs.models import Queue, SQSBackend

    sending = threading.local()
    full = Queue.attributes

    def attributes(self):
        if getattr(sending, "on", False):
            flag = getattr(self, "content_based_deduplication", False)
            return {"ContentBasedDeduplication": str(flag).lower()}
        return full.fget(self)

    original_send = SQSBackend.send_message

    def send_message(self, *args, **kwargs):
        sending.on = True
        try:
            return original_send(self, *args, **kwargs)
        finally:
            sending.on = False

    def valid_for_retention(self, queue_name, message):
        period = self.get_queue(queue_name).message_retention_period
        return int(period) * 1000 + message.sent_timestamp > unix_time_millis()

    def visible_now(self):
        now = unix_time_millis()
        return [m for m in self._messages if now > m.visible_at and not now < m.delayed_until]

    def delayed(self):
        now = unix_time_millis()
        return sum(1 for m in self._messages if now < m.delayed_until)

    def not_visible(self):
        now = unix_time_millis()
        return sum(1 for m in self._messages if not now > m.visible_at)

    Queue.attributes = property(attributes)
    Queue.messages = property(visible_now)
    Queue.approximate_number_of_messages_delayed = property(delayed)
    Queue.approximate_number_of_messages_not_visible = property(not_visible)
    SQSBackend.send_message = send_message
    SQSBackend.is_message_valid_based_on_retention_period = valid_for_retention


def fair_queues_share_receives():
    """SQS fair queues: on a standard queue, messages sent with a MessageGroupId belong to that
    group (a tenant), and a group with a backlog does not hold up the others' messages. moto
    keeps the group but hands messages out in the order they came, so one tenant's 5,000 jobs
    would be received before another's one. Here a receive takes the visible messages group by
    group in turn (each group's own order kept; messages without a group are one group), which
    gives the same guarantee: a message of a quiet group is among the first received."""
    from moto.sqs.models import Queue

    original = Queue.messages

    def messages(self):
        visible = original.fget(self)
        if self.fifo_queue:
            return visible
        groups = {}
        for message in visible:
            groups.setdefault(message.group_id, []).append(message)
        if len(groups) < 2:
            return visible
        fair = []
        queues = [iter(g) for g in groups.values()]
        while queues:
            still = []
            for group in queues:
                message = next(group, None)
                if message is not None:
                    fair.append(message)
                    still.append(group)
            queues = still
        return fair

    Queue.messages = property(messages)


def serialize_dynamodb(app):
    def wrapped(environ, start_response):
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target.startswith(("DynamoDB_", "DynamoDBStreams_")):
            return app(environ, start_response)
        with _dynamodb:
            # Consume the whole response inside the lock: moto may build it lazily.
            return list(app(environ, start_response))

    return wrapped


SENT_MAIL_PATH = "/_inflow/sent-mail"


def sent_mail(app):
    def wrapped(environ, start_response):
        if environ.get("PATH_INFO") != SENT_MAIL_PATH:
            return app(environ, start_response)
        from moto.ses.models import ses_backends

        messages = []
        for account_id in list(ses_backends.keys()):
            for region, backend in list(ses_backends[account_id].items()):
                for m in list(backend.sent_messages):
                    messages.append({
                        "id": getattr(m, "id", None),
                        "region": region,
                        "source": getattr(m, "source", None),
                        "destinations": getattr(m, "destinations", None),
                        "subject": getattr(m, "subject", None),
                        "body": getattr(m, "body", getattr(m, "raw_data", None)),
                    })
        body = json.dumps(messages, default=str).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    return wrapped


FAULTS_PATH = "/_inflow/faults"


class Faults:
    """Errors the emulator answers in place of the service, for tests of what a throttle or an
    outage does (moto itself never throttles). `POST /_inflow/faults` with a rule:
        {"match": {"target": "...", "path": "...", "method": "POST", "body_contains": "..."},
         "status": 429, "error": "TooManyRequestsException", "message": "...", "times": 2}
    Every given `match` field must hold (`target` is the X-Amz-Target header); the next `times`
    matching requests get `status` with the error as AWS's JSON protocols carry it (the
    `x-amzn-ErrorType` header and `__type` in the body). A rule with `"empty_page": true`
    answers a DynamoDB Streams GetRecords with no records and the same iterator, as DynamoDB
    Streams may anywhere in a shard. Rules should match something a test owns (its sender, its
    table), since tests share the emulator."""

    def __init__(self):
        self.rules = []
        self.lock = threading.Lock()

    def add(self, rule):
        with self.lock:
            self.rules.append(dict(rule, times=int(rule.get("times", 1))))

    def take(self, environ, body):
        with self.lock:
            for rule in self.rules:
                if rule["times"] > 0 and self.matches(rule.get("match", {}), environ, body):
                    rule["times"] -= 1
                    return rule
        return None

    @staticmethod
    def matches(match, environ, body):
        checks = {
            "target": environ.get("HTTP_X_AMZ_TARGET", ""),
            "path": environ.get("PATH_INFO", ""),
            "method": environ.get("REQUEST_METHOD", ""),
        }
        for name, want in match.items():
            if name == "body_contains":
                if want.encode() not in body:
                    return False
            elif checks.get(name) != want:
                return False
        return True


def faults(app, table):
    import io

    def wrapped(environ, start_response):
        if environ.get("PATH_INFO") == FAULTS_PATH and environ.get("REQUEST_METHOD") == "POST":
            size = int(environ.get("CONTENT_LENGTH") or 0)
            table.add(json.loads(environ["wsgi.input"].read(size) or b"{}"))
            start_response("204 No Content", [("Content-Length", "0")])
            return [b""]
        if not table.rules:
            return app(environ, start_response)
        size = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(size) if size else b""
        environ["wsgi.input"] = io.BytesIO(body)
        rule = table.take(environ, body)
        if rule is None:
            return app(environ, start_response)
        if rule.get("empty_page"):
            iterator = json.loads(body or b"{}").get("ShardIterator")
            page = json.dumps({"Records": [], "NextShardIterator": iterator}).encode()
            start_response("200 OK", [("Content-Type", "application/x-amz-json-1.0"),
                                      ("Content-Length", str(len(page)))])
            return [page]
        error = rule.get("error", "ServiceUnavailable")
        payload = json.dumps({"__type": error, "message": rule.get("message", "injected fault")}).encode()
        status = int(rule.get("status", 500))
        reason = {400: "Bad Request", 429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}
        start_response(f"{status} {reason.get(status, 'Error')}", [
            ("Content-Type", "application/x-amz-json-1.0"),
            ("x-amzn-ErrorType", error),
            ("Content-Length", str(len(payload))),
        ])
        return [payload]

    return wrapped


DELAYS_PATH = "/_inflow/delays"


def operation_of(environ, body=b""):
    """The AWS operation a request calls: from X-Amz-Target for the JSON protocols (DynamoDB,
    Streams, SQS, Secrets Manager), from the path for SES v2 (REST), from Action= for the query
    protocol (SES v1); "" when unknown."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return target.rsplit(".", 1)[-1]
    path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
    if path.startswith("/v2/email/outbound-emails") and method == "POST":
        return "SendEmail"
    if b"Action=" in body[:200]:
        for pair in body[:200].split(b"&"):
            if pair.startswith(b"Action="):
                return pair[len(b"Action="):].decode("ascii", "replace")
    return ""


class Delays:
    """A latency model: how long each operation takes, in ms, as it would in a region.
    `POST /_inflow/delays` replaces it, `GET` shows it:
        {"operations": {"GetItem": 4.0, "SendEmail": 50.0, ...}, "default": 0, "mode": "pad"}
    In "pad" mode (the default) a call answers no sooner than its operation's time after it
    arrived: moto's own work counts toward it, so a call costs what the model says, not the
    model plus moto (unless moto alone takes longer). In "add" mode the time is added to
    moto's. The wait happens outside the DynamoDB lock (`serialize_dynamodb`), so concurrent
    calls overlap as they would in AWS. INFLOW_DELAYS (the same JSON) sets it at start."""

    def __init__(self, config=None):
        self.lock = threading.Lock()
        self.set(config or {})

    def set(self, config):
        operations = {str(k): float(v) for k, v in (config.get("operations") or {}).items()}
        mode = config.get("mode", "pad")
        if mode not in ("pad", "add"):
            raise ValueError(f"mode must be pad or add, not {mode!r}")
        with self.lock:
            self.operations = operations
            self.default = float(config.get("default", 0))
            self.mode = mode

    def show(self):
        with self.lock:
            return {"operations": dict(self.operations), "default": self.default, "mode": self.mode}

    def of(self, operation):
        """Seconds the operation takes in the model, and the mode."""
        with self.lock:
            return self.operations.get(operation, self.default) / 1000.0, self.mode

    def wait(self, operation, arrived, now=None):
        """How long to wait before answering a call of `operation` that arrived at `arrived`."""
        seconds, mode = self.of(operation)
        if seconds <= 0:
            return 0.0
        if mode == "add":
            return seconds
        return max(0.0, arrived + seconds - (time.monotonic() if now is None else now))


def delays(app, model):
    import io

    def wrapped(environ, start_response):
        path = environ.get("PATH_INFO")
        if path == DELAYS_PATH:
            if environ.get("REQUEST_METHOD") == "POST":
                size = int(environ.get("CONTENT_LENGTH") or 0)
                try:
                    model.set(json.loads(environ["wsgi.input"].read(size) or b"{}"))
                except (ValueError, TypeError, AttributeError) as err:
                    body = json.dumps({"message": str(err)}).encode()
                    start_response("400 Bad Request", [("Content-Type", "application/json"),
                                                       ("Content-Length", str(len(body)))])
                    return [body]
            body = json.dumps(model.show()).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        arrived = time.monotonic()
        if not model.operations and model.default <= 0:
            return app(environ, start_response)
        body = b""
        if not environ.get("HTTP_X_AMZ_TARGET"):  # only the query protocol needs the body
            size = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(size) if size else b""
            environ["wsgi.input"] = io.BytesIO(body)
        operation = operation_of(environ, body)
        answer = list(app(environ, start_response))
        wait = model.wait(operation, arrived)
        if wait > 0:
            time.sleep(wait)
        return answer

    return wrapped


CAPACITY_PATH = "/_inflow/capacity"
WRITE_UNIT = 1024
READ_UNIT = 4096


def write_units(size):
    return max(1, math.ceil(size / WRITE_UNIT))


class Capacity:
    """DynamoDB's capacity units for each call, counted as on-demand bills them, and where each
    lands. Off until `POST /_inflow/capacity {"enabled": true}` (`{"reset": true}` clears the
    log); `GET /_inflow/capacity` answers {"calls": [...]}, one entry per call:
        {"t": seconds since the epoch, "op": "PutItem", "table": "...", "rcu": 0, "wcu": 2,
         "index_wcu": {"GSI1": 1}, "partitions": [["", "INV#...", "w", 1], ["GSI1", "DUE#3", "w", 1]]}
    The rules (aws.amazon.com/dynamodb/pricing/on-demand, the developer guide):
    - a write costs a unit per KB (rounded up) of the larger of the item before and after it,
      at least one; a failed condition still costs that; a transaction's parts cost twice
      (a ConditionCheck counted as a write of the item it checks);
    - each global secondary index costs a write per KB of the projected item when the item
      enters it, leaves it (a delete) or changes in it, and two (a delete and a put) when its
      key attributes change;
    - a read costs a unit per 4 KB (a Query adds up the items it returns before rounding),
      half for an eventually consistent read, at least half a unit.
    Runs inside the DynamoDB lock, so the items before and after a call are that call's."""

    def __init__(self):
        self.enabled = False
        self.calls = []
        self.lock = threading.Lock()

    def control(self, config):
        with self.lock:
            if config.get("reset"):
                self.calls = []
            if "enabled" in config:
                self.enabled = bool(config["enabled"])

    def add(self, record):
        with self.lock:
            self.calls.append(record)

    def show(self):
        with self.lock:
            return {"enabled": self.enabled, "calls": list(self.calls)}

    # -- moto's tables ---------------------------------------------------------------------

    @staticmethod
    def table(name, region):
        from moto.dynamodb.models import dynamodb_backends

        for account in list(dynamodb_backends.keys()):
            regions = dynamodb_backends[account]
            for r, backend in list(regions.items()):
                if (region is None or r == region) and name in backend.tables:
                    return backend.tables[name]
        return None

    @staticmethod
    def stored(table, key):
        """The stored item of `key` (a wire-format key or item), or None."""
        from moto.dynamodb.models.dynamo_type import DynamoType

        try:
            hash_value = DynamoType(key[table.hash_key_attr])
            range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
            return table.get_item(hash_value, range_value)
        except Exception:
            return None

    @staticmethod
    def snapshot(table, item):
        """What a write's cost depends on, taken now (moto changes items in place):
        (size, partition key, {index: (key, projected JSON, projected size)})."""
        if item is None:
            return None
        indexes = {}
        for index in getattr(table, "global_indexes", []) or []:
            names = index.schema_key_attrs
            if all(n in item.attrs for n in names):
                projected = index.project(item)
                indexes[index.name] = (
                    json.dumps([item.attrs[n].to_json() for n in names], sort_keys=True, default=str),
                    json.dumps(projected.to_json(), sort_keys=True, default=str),
                    projected.size(),
                    str(item.attrs[names[0]].value),
                )
        hash_value = item.attrs.get(table.hash_key_attr)
        return item.size(), str(hash_value.value) if hash_value is not None else "", indexes

    @staticmethod
    def write_cost(before, after, factor):
        """(table units, {index: units}, partitions) of one item's write."""
        sizes = [s[0] for s in (before, after) if s is not None]
        units = write_units(max(sizes or [0])) * factor
        partition = (after or before or (0, ""))[1]
        partitions = [["", partition, "w", units]]
        index_units = {}
        names = set((before or (0, "", {}))[2]) | set((after or (0, "", {}))[2])
        for name in sorted(names):
            old = before[2].get(name) if before else None
            new = after[2].get(name) if after else None
            writes = []
            if old and new:
                if old[0] != new[0]:
                    writes = [old, new]
                elif old[1] != new[1]:
                    writes = [new]
            elif old or new:
                writes = [old or new]
            for entry in writes:
                u = write_units(entry[2])
                index_units[name] = index_units.get(name, 0) + u
                partitions.append([name, entry[3], "w", u])
        return units, index_units, partitions

    @staticmethod
    def read_units(size, consistent, factor=1):
        units = max(1, math.ceil(size / READ_UNIT)) * factor
        return units if consistent else units / 2

    # -- one call ----------------------------------------------------------------------------

    def writes_of(self, op, body, region):
        """[(table, key, transaction factor)] of the items a write names."""
        if op in ("PutItem", "UpdateItem", "DeleteItem"):
            return [(body.get("TableName"), body.get("Key") or body.get("Item") or {}, 1)]
        if op == "TransactWriteItems":
            found = []
            for entry in body.get("TransactItems", []):
                for part in entry.values():
                    found.append((part.get("TableName"), part.get("Key") or part.get("Item") or {}, 2))
            return found
        if op == "BatchWriteItem":
            found = []
            for name, requests in (body.get("RequestItems") or {}).items():
                for r in requests:
                    if "PutRequest" in r:
                        found.append((name, r["PutRequest"].get("Item", {}), 1))
                    elif "DeleteRequest" in r:
                        found.append((name, r["DeleteRequest"].get("Key", {}), 1))
            return found
        return []

    def account(self, app, environ, start_response, op, body):
        import re

        auth = environ.get("HTTP_AUTHORIZATION", "")
        m = re.search(r"Credential=[^/]+/[^/]+/([^/]+)/", auth)
        region = m.group(1) if m else None
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            request = {}
        writes = []
        for name, key, factor in self.writes_of(op, request, region):
            table = self.table(name, region)
            if table is not None:
                writes.append((table, key, factor, self.snapshot(table, self.stored(table, key))))
        status = []

        def starting(code, headers, *rest):
            status.append(int(code.split(" ", 1)[0]))
            return start_response(code, headers, *rest)

        answer = list(app(environ, starting))
        code = status[0] if status else 500
        if code >= 400:
            text = b"".join(answer)
            if b"ConditionalCheckFailed" not in text and b"TransactionCanceled" not in text:
                return answer  # refused before it touched anything: no units
        record = {"t": time.time(), "op": op, "table": request.get("TableName"), "rcu": 0.0,
                  "wcu": 0, "index_wcu": {}, "index_rcu": {}, "partitions": [], "status": code}
        for table, key, factor, before in writes:
            after = self.snapshot(table, self.stored(table, key)) if code < 400 else before
            units, index_units, partitions = self.write_cost(before, after, factor)
            if before is None and after is None:
                partitions[0][1] = str((key.get(table.hash_key_attr) or {}).get("S", ""))
            record["table"] = record["table"] or table.name
            record["wcu"] += units
            for name, u in index_units.items():
                record["index_wcu"][name] = record["index_wcu"].get(name, 0) + u
            record["partitions"].extend(partitions)
        if op in ("GetItem", "BatchGetItem", "Query", "TransactGetItems"):
            self.reads(record, op, request, answer, region)
        self.add(record)
        return answer

    def reads(self, record, op, request, answer, region):
        if op == "GetItem":
            gets = [(request.get("TableName"), request.get("Key", {}), request.get("ConsistentRead", False), 1)]
        elif op == "TransactGetItems":
            gets = [(e["Get"].get("TableName"), e["Get"].get("Key", {}), True, 2)
                    for e in request.get("TransactItems", []) if "Get" in e]
        elif op == "BatchGetItem":
            gets = [(name, key, spec.get("ConsistentRead", False), 1)
                    for name, spec in (request.get("RequestItems") or {}).items() for key in spec.get("Keys", [])]
        else:
            gets = []
        for name, key, consistent, factor in gets:
            table = self.table(name, region)
            item = self.stored(table, key) if table is not None else None
            units = self.read_units(item.size() if item is not None else 0, consistent, factor)
            record["rcu"] += units
            record["table"] = record["table"] or name
            partition = str((key.get(table.hash_key_attr) if table else {}).get("S", "")) if key else ""
            record["partitions"].append(["", partition, "r", units])
        if op == "Query":
            try:
                result = json.loads(b"".join(answer) or b"{}")
            except ValueError:
                return
            table = self.table(request.get("TableName"), region)
            index_name = request.get("IndexName")
            index = next((i for i in (getattr(table, "global_indexes", None) or []) if i.name == index_name), None)
            size, partition = 0, ""
            for returned in result.get("Items", []):
                item = self.stored(table, returned) if table is not None else None
                if item is not None:
                    shown = index.project(item) if index is not None else item
                    size += shown.size()
                else:
                    size += len(json.dumps(returned))
                hash_attr = index.schema_key_attrs[0] if index is not None else (table.hash_key_attr if table else None)
                partition = partition or str((returned.get(hash_attr) or {}).get("S", ""))
            units = self.read_units(size, bool(request.get("ConsistentRead")))
            record["rcu"] += units
            if index_name:
                record["index_rcu"][index_name] = units
            record["partitions"].append([index_name or "", partition, "r", units])


def capacity(app, counter):
    def wrapped(environ, start_response):
        if environ.get("PATH_INFO") == CAPACITY_PATH:
            if environ.get("REQUEST_METHOD") == "POST":
                size = int(environ.get("CONTENT_LENGTH") or 0)
                counter.control(json.loads(environ["wsgi.input"].read(size) or b"{}"))
                start_response("204 No Content", [("Content-Length", "0")])
                return [b""]
            body = json.dumps(counter.show()).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not counter.enabled or not target.startswith("DynamoDB_"):
            return app(environ, start_response)
        import io

        size = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(size) if size else b""
        environ["wsgi.input"] = io.BytesIO(body)
        return counter.account(app, environ, start_response, target.rsplit(".", 1)[-1], body)

    return wrapped


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    cheap_transaction_rollback()
    queries_read_one_partition()
    attribute_values_written_directly()
    shard_iterators_expire()
    keys_are_checked_on_reads()
    queues_are_not_counted_per_message()
    fair_queues_share_receives()
    app = DomainDispatcherApplication(create_backend_app)
    model = Delays(json.loads(os.environ.get("INFLOW_DELAYS") or "{}"))
    # Capacity inside the DynamoDB lock (it reads the items before and after each call); the
    # delays outside it, so that waiting calls overlap.
    app = delays(faults(sent_mail(serialize_dynamodb(capacity(app, Capacity()))), Faults()), model)
    run_simple(host, port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
