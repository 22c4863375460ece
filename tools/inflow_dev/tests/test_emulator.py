"""Tests of inflow_dev.emulator's changes to moto, against moto's in-process backend with the
emulator's patches applied:
- a TransactWriteItems that fails leaves every item as it was (all or nothing), one that
  succeeds applies every write, and neither copies the table;
- a Query that reads only the partition its key names answers exactly what moto's own Query,
  which sorts and filters the whole table, answers;
- responses with attribute values of every type are the same JSON whether the emulator writes
  the values or moto's serializer does;
- a TransactWriteItems that fails leaves nothing on the table's stream, one that succeeds
  leaves a record per write, and shard iterators are not kept without bound;
- the latency model answers each operation after its modelled time (moto's own work counted
  toward it, or added to it), and concurrent calls overlap;
- a key over DynamoDB's size limits is refused on reads as on writes;
- a standard queue's receives take message groups in turn (SQS fair queues);
- the capacity counter bills read and write units as on-demand DynamoDB does, index writes
  and the partition keys they land on included.

    .venv/bin/python -m pytest tools/inflow_dev/tests/test_emulator.py        (make test runs it)
"""
import copy
import json
import os
import random
import time
import unittest
from unittest import mock

import boto3
from moto import mock_aws

from inflow_dev import emulator

emulator.cheap_transaction_rollback()
emulator.queries_read_one_partition()
emulator.attribute_values_written_directly()
emulator.shard_iterators_expire()
emulator.keys_are_checked_on_reads()
emulator.queues_are_not_counted_per_message()
emulator.fair_queues_share_receives()

# moto's in-process backend, not a running emulator that make test's environment points at.
for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
    del os.environ[name]

TABLE = "t"


def key(pk, sk="S"):
    return {"PK": {"S": pk}, "SK": {"S": sk}}


class TransactionRollback(unittest.TestCase):
    def setUp(self):
        self.mock = mock_aws()
        self.mock.start()
        self.ddb = boto3.client("dynamodb", region_name="us-east-1")
        self.ddb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}, {"AttributeName": "SK", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        for i in range(200):
            self.ddb.put_item(TableName=TABLE, Item={**key(f"other{i}"), "v": {"N": "0"}})
        self.ddb.put_item(TableName=TABLE, Item={**key("a"), "v": {"N": "1"}})
        self.ddb.put_item(TableName=TABLE, Item={**key("gone"), "v": {"N": "1"}})

    def tearDown(self):
        self.mock.stop()

    def get(self, pk):
        return self.ddb.get_item(TableName=TABLE, Key=key(pk), ConsistentRead=True).get("Item")

    def transaction(self, last_condition):
        return [
            {"Update": {"TableName": TABLE, "Key": key("a"), "UpdateExpression": "SET v = :two",
                        "ExpressionAttributeValues": {":two": {"N": "2"}}}},
            {"Put": {"TableName": TABLE, "Item": {**key("b"), "v": {"N": "1"}}}},
            {"Delete": {"TableName": TABLE, "Key": key("gone")}},
            {"ConditionCheck": {"TableName": TABLE, "Key": key("c"), "ConditionExpression": last_condition}},
        ]

    def test_a_failed_transaction_changes_nothing(self):
        with self.assertRaises(self.ddb.exceptions.TransactionCanceledException):
            self.ddb.transact_write_items(TransactItems=self.transaction("attribute_exists(PK)"))
        self.assertEqual(self.get("a")["v"], {"N": "1"})
        self.assertIsNone(self.get("b"))
        self.assertEqual(self.get("gone")["v"], {"N": "1"})
        # What moto applied and took back is a real item again: it can be updated.
        self.ddb.update_item(TableName=TABLE, Key=key("a"), UpdateExpression="SET v = :three",
                             ExpressionAttributeValues={":three": {"N": "3"}})
        self.assertEqual(self.get("a")["v"], {"N": "3"})

    def test_a_transaction_naming_one_item_twice_changes_nothing(self):
        items = self.transaction("attribute_not_exists(PK)")[:2]
        items.append({"Put": {"TableName": TABLE, "Item": {**key("a"), "v": {"N": "9"}}}})
        with self.assertRaises(Exception):
            self.ddb.transact_write_items(TransactItems=items)
        self.assertEqual(self.get("a")["v"], {"N": "1"})
        self.assertIsNone(self.get("b"))

    def test_a_successful_transaction_applies_every_write_without_copying_the_table(self):
        with mock.patch.object(copy, "deepcopy", wraps=copy.deepcopy) as deepcopy:
            self.ddb.transact_write_items(TransactItems=self.transaction("attribute_not_exists(PK)"))
        copied_tables = [c for c in deepcopy.call_args_list if type(c.args[0]).__name__ == "Table"]
        self.assertEqual(copied_tables, [])
        self.assertEqual(self.get("a")["v"], {"N": "2"})
        self.assertEqual(self.get("b")["v"], {"N": "1"})
        self.assertIsNone(self.get("gone"))


class KeySizes(unittest.TestCase):
    """DynamoDB refuses a key over its limits on every call that names it, reads included."""

    def setUp(self):
        self.mock = mock_aws()
        self.mock.start()
        self.ddb = boto3.client("dynamodb", region_name="us-east-1")
        self.ddb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}, {"AttributeName": "SK", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )

    def tearDown(self):
        self.mock.stop()

    def test_an_oversized_sort_or_partition_key_is_refused_by_reads_and_writes(self):
        for oversized in (key("a", "s" * 1025), key("p" * 2049)):
            calls = [
                lambda: self.ddb.get_item(TableName=TABLE, Key=oversized),
                lambda: self.ddb.batch_get_item(RequestItems={TABLE: {"Keys": [oversized]}}),
                lambda: self.ddb.delete_item(TableName=TABLE, Key=oversized),
                lambda: self.ddb.update_item(TableName=TABLE, Key=oversized, UpdateExpression="SET v = :v",
                                             ExpressionAttributeValues={":v": {"N": "1"}}),
                lambda: self.ddb.put_item(TableName=TABLE, Item=oversized),
            ]
            for call in calls:
                with self.assertRaises(self.ddb.exceptions.ClientError) as caught:
                    call()
                self.assertEqual(caught.exception.response["Error"]["Code"], "ValidationException")
        self.assertNotIn("Item", self.ddb.get_item(TableName=TABLE, Key=key("a", "s" * 1024)))


class FairQueues(unittest.TestCase):
    """One group's backlog does not hold up another group's messages."""

    def setUp(self):
        self.mock = mock_aws()
        self.mock.start()
        self.sqs = boto3.client("sqs", region_name="us-east-1")
        self.url = self.sqs.create_queue(QueueName="jobs")["QueueUrl"]

    def tearDown(self):
        self.mock.stop()

    def send(self, group, n):
        for start in range(0, n, 10):
            entries = [{"Id": str(i), "MessageBody": f"{group}-{start + i}", "MessageGroupId": group}
                       for i in range(min(10, n - start))]
            self.sqs.send_message_batch(QueueUrl=self.url, Entries=entries)

    def receive(self):
        out = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10)
        return [m["Body"] for m in out.get("Messages", [])]

    def test_a_quiet_group_is_received_before_a_busy_group_s_backlog(self):
        self.send("a:bulk", 200)
        self.send("b", 1)
        self.send("a", 1)
        first = self.receive()
        self.assertIn("b-0", first)
        self.assertIn("a-0", first)
        self.assertEqual([b for b in first if b.startswith("a:bulk")], [f"a:bulk-{i}" for i in range(8)],
                         "a group's own order is kept")

    def test_sends_still_leave_the_counts_right(self):
        self.send("g", 25)
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["All"])["Attributes"]
        self.assertEqual(attributes["ApproximateNumberOfMessages"], "25")
        self.receive()
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["All"])["Attributes"]
        self.assertEqual(attributes["ApproximateNumberOfMessagesNotVisible"], "10")
        fifo = self.sqs.create_queue(QueueName="jobs.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"})
        for _ in range(2):
            self.sqs.send_message(QueueUrl=fifo["QueueUrl"], MessageBody="same", MessageGroupId="g")
        attributes = self.sqs.get_queue_attributes(QueueUrl=fifo["QueueUrl"], AttributeNames=["All"])["Attributes"]
        self.assertEqual(attributes["ApproximateNumberOfMessages"], "1", "content-based deduplication still holds")

    def test_without_groups_the_order_is_moto_s(self):
        for i in range(12):
            self.sqs.send_message(QueueUrl=self.url, MessageBody=str(i))
        self.assertEqual(self.receive(), [str(i) for i in range(10)])


class StreamRecords(unittest.TestCase):
    """The table's stream shows what was written, and only that."""

    def setUp(self):
        self.mock = mock_aws()
        self.mock.start()
        self.ddb = boto3.client("dynamodb", region_name="us-east-1")
        table = self.ddb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}, {"AttributeName": "SK", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        self.arn = table["TableDescription"]["LatestStreamArn"]
        self.ddb.put_item(TableName=TABLE, Item={**key("a"), "v": {"N": "1"}})

    def tearDown(self):
        self.mock.stop()

    def records(self):
        """The stream's records, through moto's streams backend (moto's in-process mock does not
        route the DynamoDB Streams API; its server, which make test runs, does)."""
        from moto.dynamodbstreams.models import dynamodbstreams_backends
        backend = dynamodbstreams_backends["123456789012"]["us-east-1"]
        shard = backend.describe_stream(self.arn)["Shards"][0]["ShardId"]
        iterator = backend.get_shard_iterator(self.arn, shard, "TRIM_HORIZON")
        return backend.get_records(iterator.arn, 1000)["Records"]

    def transaction(self, condition):
        return [
            {"Put": {"TableName": TABLE, "Item": {**key("b"), "v": {"N": "1"}}}},
            {"Update": {"TableName": TABLE, "Key": key("a"), "UpdateExpression": "SET v = :two",
                        "ExpressionAttributeValues": {":two": {"N": "2"}}, "ConditionExpression": condition}},
        ]

    def test_a_failed_transaction_leaves_no_record(self):
        with self.assertRaises(self.ddb.exceptions.TransactionCanceledException):
            self.ddb.transact_write_items(TransactItems=self.transaction("attribute_not_exists(PK)"))
        self.assertEqual([r["eventName"] for r in self.records()], ["INSERT"])

    def test_a_transaction_leaves_a_record_per_write(self):
        self.ddb.transact_write_items(TransactItems=self.transaction("attribute_exists(PK)"))
        records = self.records()
        self.assertEqual([r["eventName"] for r in records], ["INSERT", "INSERT", "MODIFY"])
        self.assertEqual(records[2]["dynamodb"]["OldImage"]["v"], {"N": "1"})
        self.assertEqual(records[2]["dynamodb"]["NewImage"]["v"], {"N": "2"})

    def test_shard_iterators_are_not_kept_without_bound(self):
        from moto.dynamodbstreams.models import dynamodbstreams_backends
        backend = dynamodbstreams_backends["123456789012"]["us-east-1"]
        for _ in range(30):
            self.records()
        with mock.patch.object(emulator, "SHARD_ITERATORS_KEPT", 5):
            self.records()
        self.assertLessEqual(len(backend.shard_iterators), 5)


class InjectedFaults(unittest.TestCase):
    """The emulator answers a registered error in place of the service, as often as asked."""

    def call(self, app, path, method="POST", body=b"", target=None):
        import io
        environ = {"PATH_INFO": path, "REQUEST_METHOD": method, "CONTENT_LENGTH": str(len(body)),
                   "wsgi.input": io.BytesIO(body)}
        if target:
            environ["HTTP_X_AMZ_TARGET"] = target
        seen = {}

        def start_response(status, headers):
            seen["status"], seen["headers"] = status, dict(headers)

        out = b"".join(app(environ, start_response))
        return seen["status"], seen["headers"], out

    def test_a_rule_answers_its_error_the_given_number_of_times(self):
        def service(environ, start_response):
            start_response("200 OK", [])
            return [environ["wsgi.input"].read()]

        app = emulator.faults(service, emulator.Faults())
        rule = {"match": {"path": "/v2/email/outbound-emails", "body_contains": "throttled@"},
                "status": 429, "error": "TooManyRequestsException", "times": 2}
        self.assertEqual(self.call(app, emulator.FAULTS_PATH, body=json.dumps(rule).encode())[0], "204 No Content")
        mine = b'{"FromEmailAddress": "throttled@x.example"}'
        for _ in range(2):
            status, headers, body = self.call(app, "/v2/email/outbound-emails", body=mine)
            self.assertEqual(status, "429 Too Many Requests")
            self.assertEqual(headers["x-amzn-ErrorType"], "TooManyRequestsException")
            self.assertEqual(json.loads(body)["__type"], "TooManyRequestsException")
        # Spent: the service answers, with the body it was sent.
        self.assertEqual(self.call(app, "/v2/email/outbound-emails", body=mine), ("200 OK", {}, mine))
        # Another test's request never matched.
        self.assertEqual(self.call(app, "/v2/email/outbound-emails", body=b"{}")[0], "200 OK")


class PartitionQueries(unittest.TestCase):
    """The same queries, answered by the patched Query and by moto's own, on one table."""

    def setUp(self):
        self.mock = mock_aws()
        self.mock.start()
        self.ddb = boto3.client("dynamodb", region_name="us-east-1")
        string_keys = ["PK", "SK", "GSI1PK", "GSI1SK"]
        self.ddb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in string_keys]
            + [{"AttributeName": "n", "AttributeType": "N"}],
            GlobalSecondaryIndexes=[
                {"IndexName": "GSI1", "Projection": {"ProjectionType": "ALL"},
                 "KeySchema": [{"AttributeName": "GSI1PK", "KeyType": "HASH"},
                               {"AttributeName": "GSI1SK", "KeyType": "RANGE"}]},
                {"IndexName": "ByNumber", "Projection": {"ProjectionType": "KEYS_ONLY"},
                 "KeySchema": [{"AttributeName": "GSI1PK", "KeyType": "HASH"},
                               {"AttributeName": "n", "KeyType": "RANGE"}]},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        rng = random.Random(7)
        for i in range(300):
            item = {"PK": {"S": f"p{rng.randrange(8)}"}, "SK": {"S": f"s{i:03}"}, "v": {"N": str(i)}}
            if rng.random() < 0.8:  # the rest are not in the indexes
                item["GSI1PK"] = {"S": f"g{rng.randrange(5)}"}
                item["GSI1SK"] = {"S": f"{rng.randrange(50):02}"}
                item["n"] = {"N": str(rng.randrange(-20, 20))}
            self.ddb.put_item(TableName=TABLE, Item=item)

    def tearDown(self):
        self.mock.stop()

    def every_page(self, request):
        pages, start = [], None
        # More pages than items means the paging went round in circles: fail, do not hang.
        for _ in range(300):
            page = self.ddb.query(**request, **({"ExclusiveStartKey": start} if start else {}))
            page.pop("ResponseMetadata")
            pages.append(page)
            start = page.get("LastEvaluatedKey")
            if not start:
                return pages
        self.fail(f"paging never ended: {request}")

    def requests(self):
        def query(key, values, **more):
            values = {k: ({"N": v} if k in (":n", ":v") else {"S": v}) for k, v in values.items()}
            return {"TableName": TABLE, "KeyConditionExpression": key,
                    "ExpressionAttributeValues": values, **more}

        for p in ["p0", "p3", "p7", "nobody"]:
            yield query("PK = :p", {":p": p})
            yield query("PK = :p AND SK > :s", {":p": p, ":s": "s150"}, Limit=7)
            yield query("PK = :p AND begins_with(SK, :s)", {":p": p, ":s": "s1"},
                        ScanIndexForward=False, Limit=4)
            yield query("PK = :p", {":p": p, ":v": "100"}, FilterExpression="v > :v", Limit=9)
        for g in ["g0", "g1", "g2", "g3", "g4", "nobody"]:
            yield query("GSI1PK = :g", {":g": g}, IndexName="GSI1")
            yield query("GSI1PK = :g AND GSI1SK BETWEEN :a AND :b", {":g": g, ":a": "10", ":b": "30"},
                        IndexName="GSI1", Limit=5, ScanIndexForward=False)
            yield query("GSI1PK = :g AND n < :n", {":g": g, ":n": "0"}, IndexName="ByNumber", Limit=6)

    def test_answers_what_moto_answers_page_by_page(self):
        from moto.dynamodb.models.table import Table

        patched = Table.query
        self.assertTrue(hasattr(patched, "moto_query"), "the patch is applied")
        answered = 0
        for request in self.requests():
            ours = self.every_page(request)
            with mock.patch.object(Table, "query", patched.moto_query):
                theirs = self.every_page(request)
            self.assertEqual(ours, theirs, request)
            answered += any(p["Count"] for p in ours)
        self.assertGreaterEqual(answered, 20, "most requests found items")

    def test_does_not_read_other_partitions(self):
        from moto.dynamodb.models.dynamo_type import DynamoType

        with mock.patch.object(DynamoType, "__lt__", wraps=DynamoType.__lt__, autospec=True) as compared:
            self.ddb.query(TableName=TABLE, KeyConditionExpression="PK = :p",
                           ExpressionAttributeValues={":p": {"S": "p1"}})
        # Sorting one partition of ~40 items, not the 300-item table.
        self.assertLess(compared.call_count, 400)


class DirectAttributeValues(unittest.TestCase):
    """Raw response bodies through moto's server app, written both ways."""

    ITEM = {
        "PK": {"S": "a"}, "SK": {"S": "b"}, "empty": {"S": ""}, "n": {"N": "-1.50"},
        "bin": {"B": "AAEC/w=="}, "ss": {"SS": ["x", "y"]}, "ns": {"NS": ["1", "2.5"]},
        "bs": {"BS": ["AA==", "/w=="]}, "null": {"NULL": True}, "yes": {"BOOL": True},
        "no": {"BOOL": False}, "list": {"L": [{"S": "s"}, {"N": "3"}, {"L": []}, {"M": {}}]},
        "map": {"M": {"deep": {"M": {"b": {"B": "AQ=="}, "l": {"L": [{"NULL": True}]}}}}},
    }

    def setUp(self):
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.test import Client

        self.mock = mock_aws()
        self.mock.start()
        self.client = Client(DomainDispatcherApplication(create_backend_app))
        self.call("CreateTable", {
            "TableName": TABLE, "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
            "AttributeDefinitions": [{"AttributeName": "PK", "AttributeType": "S"},
                                     {"AttributeName": "SK", "AttributeType": "S"}],
        })
        self.call("PutItem", {"TableName": TABLE, "Item": self.ITEM})

    def tearDown(self):
        self.mock.stop()

    def call(self, operation, body):
        response = self.client.post("/", data=json.dumps(body), headers={
            "Host": "dynamodb.us-east-1.amazonaws.com",
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": f"DynamoDB_20120810.{operation}",
            "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, "
                             "SignedHeaders=host, Signature=0",
        })
        return response.status_code, json.loads(response.get_data())

    def both_ways(self, operation, body):
        from moto.core.serialize import BaseJSONSerializer

        patched = BaseJSONSerializer._serialize_type_structure
        ours = self.call(operation, body)
        with mock.patch.object(BaseJSONSerializer, "_serialize_type_structure", patched.moto_serialize):
            theirs = self.call(operation, body)
        return ours, theirs

    def test_every_kind_of_value_is_written_as_moto_writes_it(self):
        key = {"PK": {"S": "a"}, "SK": {"S": "b"}}
        requests = [
            ("GetItem", {"TableName": TABLE, "Key": key}),
            ("PutItem", {"TableName": TABLE, "Item": self.ITEM, "ReturnValues": "ALL_OLD",
                         "ReturnConsumedCapacity": "TOTAL"}),
            ("UpdateItem", {"TableName": TABLE, "Key": key, "UpdateExpression": "SET extra = :v",
                            "ExpressionAttributeValues": {":v": {"M": {"k": {"NS": ["7"]}}}},
                            "ReturnValues": "ALL_NEW"}),
            ("Query", {"TableName": TABLE, "KeyConditionExpression": "PK = :p",
                       "ExpressionAttributeValues": {":p": {"S": "a"}}, "Limit": 1}),
            ("Scan", {"TableName": TABLE}),
            ("BatchGetItem", {"RequestItems": {TABLE: {"Keys": [key]}}}),
            ("TransactGetItems", {"TransactItems": [{"Get": {"TableName": TABLE, "Key": key}}]}),
            # An error that carries the item.
            ("PutItem", {"TableName": TABLE, "Item": self.ITEM, "ConditionExpression": "attribute_not_exists(PK)",
                         "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}),
            ("DescribeTable", {"TableName": TABLE}),
        ]
        for operation, body in requests:
            ours, theirs = self.both_ways(operation, body)
            self.assertEqual(ours, theirs, operation)
        status, got = self.call("GetItem", {"TableName": TABLE, "Key": key})
        self.assertEqual(status, 200)
        self.assertEqual({k: v for k, v in got["Item"].items() if k != "extra"}, self.ITEM)


def wsgi_call(app, path, method="POST", body=b"", target=None, headers=None):
    """Calls a WSGI app: (status line, headers, body)."""
    import io
    environ = {"PATH_INFO": path, "REQUEST_METHOD": method, "CONTENT_LENGTH": str(len(body)),
               "wsgi.input": io.BytesIO(body)}
    if target:
        environ["HTTP_X_AMZ_TARGET"] = target
    environ.update(headers or {})
    seen = {}

    def start_response(status, headers):
        seen["status"], seen["headers"] = status, dict(headers)

    out = b"".join(app(environ, start_response))
    return seen["status"], seen["headers"], out


class LatencyModel(unittest.TestCase):
    """Each operation answers after the time the model gives it, moto's own work included."""

    def service(self, work):
        def app(environ, start_response):
            time.sleep(work)
            start_response("200 OK", [])
            return [b"{}"]
        return app

    def timed(self, app, target="DynamoDB_20120810.GetItem", path="/"):
        started = time.monotonic()
        wsgi_call(app, path, target=target)
        return time.monotonic() - started

    def configure(self, app, config):
        status, _, body = wsgi_call(app, emulator.DELAYS_PATH, body=json.dumps(config).encode())
        self.assertEqual(status, "200 OK")
        return json.loads(body)

    def test_operations_are_named_as_aws_names_them(self):
        self.assertEqual(emulator.operation_of({"HTTP_X_AMZ_TARGET": "DynamoDB_20120810.UpdateItem"}), "UpdateItem")
        self.assertEqual(emulator.operation_of({"HTTP_X_AMZ_TARGET": "AmazonSQS.SendMessageBatch"}), "SendMessageBatch")
        self.assertEqual(emulator.operation_of({"HTTP_X_AMZ_TARGET": "secretsmanager.GetSecretValue"}), "GetSecretValue")
        self.assertEqual(emulator.operation_of({"PATH_INFO": "/v2/email/outbound-emails", "REQUEST_METHOD": "POST"}), "SendEmail")
        self.assertEqual(emulator.operation_of({}, b"Action=SendRawEmail&Version=2010-12-01"), "SendRawEmail")

    def test_pad_mode_hides_the_emulators_own_time_under_the_model(self):
        app = emulator.delays(self.service(0.010), emulator.Delays())
        shown = self.configure(app, {"operations": {"GetItem": 60}})
        self.assertEqual(shown, {"operations": {"GetItem": 60.0}, "default": 0.0, "mode": "pad"})
        took = self.timed(app)
        self.assertGreaterEqual(took, 0.060)
        self.assertLess(took, 0.060 + 0.010 + 0.5)  # not 70 ms + noise... at most what a busy machine adds
        # An operation the model does not name: moto's time only.
        self.assertLess(self.timed(app, target="DynamoDB_20120810.PutItem"), 0.060)

    def test_add_mode_adds_the_model_to_the_emulators_time(self):
        app = emulator.delays(self.service(0.020), emulator.Delays({"operations": {"GetItem": 40}, "mode": "add"}))
        self.assertGreaterEqual(self.timed(app), 0.060)

    def test_pad_waits_only_for_what_is_left(self):
        model = emulator.Delays({"operations": {"Query": 5}})
        self.assertAlmostEqual(model.wait("Query", arrived=10.0, now=10.002), 0.003)
        self.assertEqual(model.wait("Query", arrived=10.0, now=10.009), 0.0)
        self.assertEqual(model.wait("GetItem", arrived=10.0, now=10.0), 0.0)

    def test_concurrent_calls_overlap(self):
        import concurrent.futures
        app = emulator.delays(self.service(0.0), emulator.Delays({"operations": {"GetItem": 200}}))
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda _: self.timed(app), range(4)))
        self.assertLess(time.monotonic() - started, 0.2 * 4)

    def test_a_bad_model_is_refused_and_the_old_one_kept(self):
        app = emulator.delays(self.service(0.0), emulator.Delays({"operations": {"GetItem": 4}}))
        status, _, _ = wsgi_call(app, emulator.DELAYS_PATH, body=b'{"mode": "sideways"}')
        self.assertEqual(status, "400 Bad Request")
        self.assertEqual(json.loads(wsgi_call(app, emulator.DELAYS_PATH, method="GET")[2])["operations"], {"GetItem": 4.0})


class CapacityUnits(unittest.TestCase):
    """Read and write units as on-demand bills them, GSI writes included, by partition."""

    def setUp(self):
        self.mock = mock_aws()
        self.mock.start()
        self.ddb = boto3.client("dynamodb", region_name="us-east-1")
        self.ddb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("PK", "SK", "GSI1PK", "GSI1SK")],
            GlobalSecondaryIndexes=[{
                "IndexName": "GSI1",
                "KeySchema": [{"AttributeName": "GSI1PK", "KeyType": "HASH"}, {"AttributeName": "GSI1SK", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "ALL"},
            }],
            BillingMode="PAY_PER_REQUEST",
        )
        self.counter = emulator.Capacity()
        self.counter.control({"enabled": True})
        self.app = emulator.capacity(self.service, self.counter)

    def tearDown(self):
        self.mock.stop()

    def service(self, environ, start_response):
        """The DynamoDB API, by moto's in-process backend (what the emulator's server runs)."""
        op = environ["HTTP_X_AMZ_TARGET"].rsplit(".", 1)[-1]
        request = json.loads(environ["wsgi.input"].read())
        method = "".join("_" + c.lower() if c.isupper() else c for c in op).lstrip("_")
        try:
            result = getattr(self.ddb, method)(**request)
        except self.ddb.exceptions.ConditionalCheckFailedException:
            start_response("400 Bad Request", [])
            return [b'{"__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"}']
        result.pop("ResponseMetadata", None)
        start_response("200 OK", [])
        return [json.dumps(result).encode()]

    def call(self, op, **request):
        wsgi_call(self.app, "/", body=json.dumps(request).encode(), target=f"DynamoDB_20120810.{op}")
        return self.counter.show()["calls"][-1]

    @staticmethod
    def item(pk, size_kb, gsi=None, **extra):
        item = {"PK": {"S": pk}, "SK": {"S": "S"}, "pad": {"S": "x" * int(size_kb * 1024 - 20)}}
        if gsi:
            item.update({"GSI1PK": {"S": gsi}, "GSI1SK": {"S": "1"}})
        return {**item, **extra}

    def test_a_put_costs_a_unit_per_kb_on_the_table_and_on_each_index_it_enters(self):
        c = self.call("PutItem", TableName=TABLE, Item=self.item("INV#1", 1.5, gsi="DUE#3"))
        self.assertEqual((c["wcu"], c["index_wcu"]), (2, {"GSI1": 2}))
        self.assertIn(["GSI1", "DUE#3", "w", 2], c["partitions"])
        self.assertIn(["", "INV#1", "w", 2], c["partitions"])
        # Outside the index: no index write.
        c = self.call("PutItem", TableName=TABLE, Item=self.item("INV#2", 0.2))
        self.assertEqual((c["wcu"], c["index_wcu"]), (1, {}))

    def test_an_update_that_moves_an_index_key_costs_a_delete_and_a_put(self):
        self.call("PutItem", TableName=TABLE, Item=self.item("INV#1", 0.5, gsi="DUE#3"))
        c = self.call("UpdateItem", TableName=TABLE, Key={"PK": {"S": "INV#1"}, "SK": {"S": "S"}},
                      UpdateExpression="SET GSI1PK = :k", ExpressionAttributeValues={":k": {"S": "DUE#4"}})
        self.assertEqual((c["wcu"], c["index_wcu"]), (1, {"GSI1": 2}))
        self.assertEqual(sorted(p[1] for p in c["partitions"] if p[0] == "GSI1"), ["DUE#3", "DUE#4"])
        # A change of another attribute: one index write (projection ALL).
        c = self.call("UpdateItem", TableName=TABLE, Key={"PK": {"S": "INV#1"}, "SK": {"S": "S"}},
                      UpdateExpression="SET v = :v", ExpressionAttributeValues={":v": {"N": "1"}})
        self.assertEqual(c["index_wcu"], {"GSI1": 1})

    def test_a_failed_condition_costs_the_write_but_no_index_write(self):
        self.call("PutItem", TableName=TABLE, Item=self.item("INV#1", 2.5, gsi="DUE#3"))
        c = self.call("PutItem", TableName=TABLE, Item=self.item("INV#1", 0.1, gsi="DUE#9"),
                      ConditionExpression="attribute_not_exists(PK)")
        self.assertEqual((c["wcu"], c["index_wcu"], c["status"]), (3, {}, 400))

    def test_transactions_cost_twice(self):
        c = self.call("TransactWriteItems", TransactItems=[
            {"Put": {"TableName": TABLE, "Item": self.item("A", 0.5)}},
            {"Put": {"TableName": TABLE, "Item": self.item("B", 1.5, gsi="G")}},
        ])
        self.assertEqual((c["wcu"], c["index_wcu"]), (2 + 4, {"GSI1": 2}))

    def test_reads_cost_a_unit_per_4_kb_half_when_eventually_consistent(self):
        for i in range(3):
            self.call("PutItem", TableName=TABLE, Item=self.item("P", 2, SK={"S": f"{i}"}))
        key = {"PK": {"S": "P"}, "SK": {"S": "0"}}
        self.assertEqual(self.call("GetItem", TableName=TABLE, Key=key)["rcu"], 0.5)
        self.assertEqual(self.call("GetItem", TableName=TABLE, Key=key, ConsistentRead=True)["rcu"], 1)
        # A missing item still costs the minimum.
        self.assertEqual(self.call("GetItem", TableName=TABLE, Key={"PK": {"S": "none"}, "SK": {"S": "0"}})["rcu"], 0.5)
        # 3 items of 2 KB: 6 KB, 2 units, halved.
        c = self.call("Query", TableName=TABLE, KeyConditionExpression="PK = :p",
                      ExpressionAttributeValues={":p": {"S": "P"}})
        self.assertEqual(c["rcu"], 1)
        self.assertIn(["", "P", "r", 1], c["partitions"])
        c = self.call("BatchGetItem", RequestItems={TABLE: {"Keys": [key, {"PK": {"S": "P"}, "SK": {"S": "1"}}]}})
        self.assertEqual(c["rcu"], 1)

    def test_batch_writes_cost_each_item(self):
        c = self.call("BatchWriteItem", RequestItems={TABLE: [
            {"PutRequest": {"Item": self.item(f"INV#{i}", 0.3, gsi=f"INVNUM#{i % 2}")}} for i in range(4)]})
        self.assertEqual((c["wcu"], c["index_wcu"]), (4, {"GSI1": 4}))
        by_partition = {}
        for index, pk, _, units in c["partitions"]:
            if index == "GSI1":
                by_partition[pk] = by_partition.get(pk, 0) + units
        self.assertEqual(by_partition, {"INVNUM#0": 2, "INVNUM#1": 2})

    def test_off_unless_enabled(self):
        self.counter.control({"enabled": False, "reset": True})
        wsgi_call(self.app, "/", body=json.dumps({"TableName": TABLE, "Item": self.item("X", 0.1)}).encode(),
                  target="DynamoDB_20120810.PutItem")
        self.assertEqual(self.counter.show()["calls"], [])


if __name__ == "__main__":
    unittest.main()
