//! The webhook worker: SQS-triggered, with partial batch failures.

inflow::event_function!(
    inflow::delivery::WebhookWorker::from_env,
    deadline inflow::delivery::handle_by
);
