//! The Lambda function behind `PATCH /v1/organization`.

inflow::http_function!(inflow::handlers::endpoints::UPDATE_ORGANIZATION);
