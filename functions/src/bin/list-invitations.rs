//! The Lambda function behind `GET /flows/{organization}/{flow}/invitations`.

inflow::http_function!(inflow::handlers::invitations::list_invitations);
