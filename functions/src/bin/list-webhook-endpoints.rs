//! The Lambda function behind `GET /v1/webhooks/endpoints`.

inflow::http_function!(inflow::handlers::webhook_endpoints::list_webhook_endpoints);
