//! The Lambda function behind `GET /v1/webhooks/endpoints`.

inflow::http_function!(inflow::handlers::endpoints::LIST_WEBHOOK_ENDPOINTS);
