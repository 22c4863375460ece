"""Tests of scripts/emulator.py's change to moto: a TransactWriteItems that fails leaves every
item as it was (all or nothing), one that succeeds applies every write, and neither copies the
table. Runs against moto's in-process backend, with the emulator's patch applied.

    .venv/bin/python scripts/test_emulator.py        (make test runs it)
"""
import copy
import os
import sys
import unittest
from pathlib import Path
from unittest import mock

import boto3
from moto import mock_aws

sys.path.insert(0, str(Path(__file__).resolve().parent))
import emulator  # noqa: E402

emulator.cheap_transaction_rollback()

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


if __name__ == "__main__":
    unittest.main()
