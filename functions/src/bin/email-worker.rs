//! The Lambda function behind the email queue: sends invitation emails with SES.

inflow::event_function!(inflow::email::EmailWorker::from_env, inflow::email::handle);
