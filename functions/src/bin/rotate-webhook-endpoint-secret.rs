//! The Lambda function behind `POST /v1/webhooks/endpoints/{endpointId}/rotate-secret`.

inflow::http_function!(inflow::handlers::webhook_endpoints::rotate_webhook_endpoint_secret);
