//! The Lambda function behind `POST /v1/flows/assign`.

inflow::http_function!(inflow::handlers::endpoints::ASSIGN_FLOW);
