//! The Lambda function behind `DELETE /v1/webhooks/endpoints/{endpointId}`.

inflow::http_function!(inflow::handlers::webhook_endpoints::delete_webhook_endpoint);
