//! The Lambda function behind `POST /admin/v1/flows:createJoinOrganization`.

inflow::http_function!(inflow::handlers::flows::create_join_organization_flow);
