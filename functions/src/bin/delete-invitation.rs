//! The Lambda function behind `DELETE /flows/{organization}/{flow}/invitations/{id}`.

inflow::http_function!(inflow::handlers::endpoints::DELETE_INVITATION);
