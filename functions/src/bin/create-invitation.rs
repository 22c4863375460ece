//! The Lambda function behind `POST /flows/{organization}/{flow}/invitations`.

inflow::http_function!(inflow::handlers::endpoints::CREATE_INVITATION);
