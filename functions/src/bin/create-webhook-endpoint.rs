//! The Lambda function behind `POST /v1/webhooks/endpoints`.

inflow::http_function!(inflow::handlers::endpoints::CREATE_WEBHOOK_ENDPOINT);
