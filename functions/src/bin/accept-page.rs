//! The Lambda function behind the hosted accept page: `GET /accept?secret=…` and `POST /accept`.

inflow::http_function!(inflow::handlers::accept::accept_page);
