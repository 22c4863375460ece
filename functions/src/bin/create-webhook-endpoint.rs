//! The Lambda function behind `POST /v1/webhooks/endpoints`.

inflow::http_function!(inflow::handlers::webhook_endpoints::create_webhook_endpoint);
