//! The Lambda function behind `POST /api/user`.

inflow::http_function!(inflow::handlers::user_groups::create_user_group);
