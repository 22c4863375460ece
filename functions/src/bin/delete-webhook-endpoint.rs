//! The Lambda function behind `DELETE /v1/webhooks/endpoints/{endpointId}`.

inflow::http_function!(inflow::handlers::endpoints::DELETE_WEBHOOK_ENDPOINT);
