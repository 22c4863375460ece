//! The Lambda function behind `POST /v1/webhooks/endpoints`.

inflow::http_function!(inflow::handlers::endpoints::create_webhook_endpoint);
