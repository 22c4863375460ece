//! The Lambda function behind `GET /v1/webhooks/endpoints/{endpointId}`.

inflow::http_function!(inflow::handlers::webhook_endpoints::get_webhook_endpoint);
