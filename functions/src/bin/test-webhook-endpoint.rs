//! The Lambda function behind `POST /v1/webhooks/endpoints/{endpointId}/test`.

inflow::http_function!(inflow::handlers::webhook_endpoints::test_webhook_endpoint);
