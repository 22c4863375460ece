//! The Lambda function behind `POST /admin/v1/flows/{flowId}:cancel`.

inflow::http_function!(inflow::handlers::endpoints::CANCEL_FLOW);
