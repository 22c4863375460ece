//! The Lambda function behind `GET /admin/v1/flows/{flowId}`.

inflow::http_function!(inflow::handlers::endpoints::GET_FLOW);
