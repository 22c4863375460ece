//! The Lambda function behind `GET /v1/webhooks/deliveries`.

inflow::http_function!(inflow::handlers::endpoints::LIST_WEBHOOK_DELIVERIES);
