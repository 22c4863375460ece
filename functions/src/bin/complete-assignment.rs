//! The Lambda function behind `POST /v1/assignments/{assignmentId}/complete`.

inflow::http_function!(inflow::handlers::endpoints::COMPLETE_ASSIGNMENT);
