//! The Lambda function behind `PATCH /v1/webhooks/endpoints/{endpointId}`.

inflow::http_function!(inflow::handlers::webhook_endpoints::update_webhook_endpoint);
