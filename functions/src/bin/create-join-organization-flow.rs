//! The Lambda function behind `POST /admin/v1/flows:createJoinOrganization`.

inflow::http_function!(inflow::handlers::endpoints::CREATE_JOIN_ORGANIZATION_FLOW);
