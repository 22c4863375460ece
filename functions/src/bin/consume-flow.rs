//! The Lambda function behind `POST /user/v1/flows/{flowId}:consume`.

inflow::http_function!(inflow::handlers::flows::consume_flow);
