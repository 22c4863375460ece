//! The Lambda function behind `POST /flows/{organization}/{flow}/invitations/import`.

inflow::http_function!(inflow::handlers::endpoints::IMPORT_INVITATIONS);
