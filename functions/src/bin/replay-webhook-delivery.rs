//! The Lambda function behind `POST /v1/webhooks/deliveries/{deliveryId}/replay`.

inflow::http_function!(inflow::handlers::endpoints::REPLAY_WEBHOOK_DELIVERY);
