//! The Lambda function behind `POST /v1/assignments/{assignmentId}/start`.

inflow::http_function!(inflow::handlers::endpoints::START_ASSIGNMENT);
