//! The Lambda function behind `POST /api/user`.

inflow::http_function!(inflow::handlers::endpoints::CREATE_USER_GROUP);
