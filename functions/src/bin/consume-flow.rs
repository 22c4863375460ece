//! The Lambda function behind `POST /user/v1/flows/{flowId}:consume`.

inflow::http_function!(inflow::handlers::endpoints::CONSUME_FLOW);
