//! The Lambda function behind `PATCH /v1/webhooks/endpoints/{endpointId}`.

inflow::http_function!(inflow::handlers::endpoints::UPDATE_WEBHOOK_ENDPOINT);
