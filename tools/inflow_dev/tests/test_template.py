"""Tests of inflow_dev.template, the one Python reader of template.yaml, on the repository's
template: CloudFormation's short tags in their long forms, the parameters at their defaults, the
event sources the local stack plays (inflow_dev.sources) and the facts the cost model reads. Its
routes, functions, CORS and throttles are tested with the gateway (test_gateway.py)."""

import unittest

from inflow_dev import template


class Template(unittest.TestCase):
    def test_short_tags_are_their_long_forms(self):
        doc = template.load(text="A: !Ref X\nB: !GetAtt T.Arn\nC: !If [c, 1, 2]\nD: !Sub 'x-${Y}'\n")
        self.assertEqual(doc, {"A": {"Ref": "X"}, "B": {"Fn::GetAtt": "T.Arn"},
                               "C": {"Fn::If": ["c", 1, 2]}, "D": {"Fn::Sub": "x-${Y}"}})

    def test_parameters_at_their_defaults(self):
        defaults = template.parameter_defaults(template.load())
        self.assertEqual(defaults["EmailWorkerMaxConcurrency"], 2)
        self.assertIn("ApiRateLimit", defaults)

    def test_the_queues_batch_size_and_maximum_concurrency(self):
        self.assertEqual(template.queue_settings("email-worker"), (10, 2))
        self.assertEqual(template.queue_settings("webhook-worker")[0], 10)
        self.assertEqual(template.queue_settings("get-flow"), (template.BATCH_SIZE, 1), "no SQS event")

    def test_the_relay_s_stream_settings_and_filters(self):
        batch, retries, filters = template.stream_settings("relay")
        self.assertEqual(batch, 100)
        self.assertIsInstance(retries, int)
        self.assertTrue(filters and all(isinstance(f, dict) for f in filters))

    def test_the_cost_model_s_facts(self):
        functions, resources = template.function_facts(template.load())
        self.assertEqual(functions["import-invitations"]["memory"], 1024)
        self.assertTrue(functions["sweeper"]["schedules"])
        self.assertEqual(functions["email-worker"]["sqs_sources"], 1)
        self.assertGreater(resources["AWS::Serverless::Function"], 20)


if __name__ == "__main__":
    unittest.main()
