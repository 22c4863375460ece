//! The webhook worker: SQS-triggered, with partial batch failures.

inflow::event_function!(
    inflow::delivery::WebhookWorker::from_env,
    inflow::delivery::handle
);
