//! The Lambda function behind `GET /flows/{organization}/{flow}/invitations/{id}`.

inflow::http_function!(inflow::handlers::endpoints::GET_INVITATION);
