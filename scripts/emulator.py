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
of a few attributes. The JSON written is the same (scripts/test_emulator.py compares them).

It answers POST /_inflow/faults with a rule for errors it then answers in place of a service
(see `Faults`), so tests can show what a throttle or an outage does.

It also answers GET /_inflow/sent-mail with the mail SES has sent (v1 and v2 API), as a JSON
list of {id, source, destinations, subject, body}. moto's own /moto-api/data.json has it too,
but it dumps every model of every service (megabytes with many test tables) and fails outright
once some DynamoDB items are in memory ("keys must be str ..., not DynamoType").

Usage: python emulator.py HOST PORT
"""

import json
import sys
import threading

from werkzeug.serving import run_simple

from moto.moto_server.threaded_moto_server import MotoRequestHandler  # noqa: F401 (same handler moto uses)
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

_dynamodb = threading.Lock()


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
    `x-amzn-ErrorType` header and `__type` in the body). Rules should match something a test
    owns (its sender, its table), since tests share the emulator."""

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


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    cheap_transaction_rollback()
    queries_read_one_partition()
    attribute_values_written_directly()
    shard_iterators_expire()
    app = DomainDispatcherApplication(create_backend_app)
    app = faults(sent_mail(serialize_dynamodb(app)), Faults())
    run_simple(host, port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
