//! The Lambda function behind `GET /flows/{organization}/{flow}/invitations`.

inflow::http_function!(inflow::handlers::endpoints::LIST_INVITATIONS);
