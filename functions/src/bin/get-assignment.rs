//! The Lambda function behind `GET /v1/assignments/{assignmentId}`.

inflow::http_function!(inflow::handlers::endpoints::GET_ASSIGNMENT);
