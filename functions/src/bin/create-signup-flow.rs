//! The Lambda function behind `POST /admin/v1/flows:createSignup`.

inflow::http_function!(inflow::handlers::endpoints::CREATE_SIGNUP_FLOW);
