//! The Lambda function behind `POST /v1/webhooks/endpoints/{endpointId}/test`.

inflow::http_function!(inflow::handlers::endpoints::TEST_WEBHOOK_ENDPOINT);
