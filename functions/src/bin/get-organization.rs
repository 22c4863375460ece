//! The Lambda function behind `GET /v1/organization`.

inflow::http_function!(inflow::handlers::endpoints::GET_ORGANIZATION);
