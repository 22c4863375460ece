//! The Lambda function behind `GET /v1/webhooks/deliveries`.

inflow::http_function!(inflow::handlers::deliveries::list_webhook_deliveries);
