//! The Lambda function behind the hosted accept page: `GET /accept?secret=…` and `POST /accept`.

inflow::http_function!(inflow::handlers::endpoints::ACCEPT_PAGE);
