//! The Lambda function behind `POST /v1/webhooks/endpoints/{endpointId}/rotate-secret`.

inflow::http_function!(inflow::handlers::endpoints::ROTATE_WEBHOOK_ENDPOINT_SECRET);
