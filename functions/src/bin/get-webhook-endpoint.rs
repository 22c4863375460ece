//! The Lambda function behind `GET /v1/webhooks/endpoints/{endpointId}`.

inflow::http_function!(inflow::handlers::endpoints::GET_WEBHOOK_ENDPOINT);
