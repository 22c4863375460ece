//! One handler per endpoint; each `functions/` binary calls exactly one of these.

pub mod accept;
pub mod assignments;
pub mod deliveries;
pub mod flows;
pub mod invitations;
pub mod organization;
pub mod user_groups;
pub mod webhook_endpoints;

use std::{future::Future, pin::Pin};

use lambda_http::{Body, Request, Response};

use crate::App;

/// A handler's answer to one request, boxed so that every handler has one type.
pub type Answer<'a> = Pin<Box<dyn Future<Output = Response<Body>> + Send + 'a>>;

/// Any handler of [`ENDPOINTS`].
pub type Handler = for<'a> fn(&'a App, Request) -> Answer<'a>;

/// One HTTP function: its binary, the routes API Gateway sends it and its handler.
pub struct Endpoint {
    /// The binary (`functions/src/bin/<name>.rs`), its function in template.yaml (by
    /// `x-inflow-function` in openapi.yaml) and its sample, `events/<name>.json`.
    pub name: &'static str,
    /// (method, path) as template.yaml's HttpApi events name them.
    pub routes: &'static [(&'static str, &'static str)],
    /// The handler as its binary names it (`handlers::flows::get_flow`).
    pub handler_path: &'static str,
    pub handler: Handler,
}

macro_rules! endpoint {
    ($name:literal, [$(($method:literal, $path:literal)),+ $(,)?], $($handler:ident)::+) => {
        Endpoint {
            name: $name,
            routes: &[$(($method, $path)),+],
            handler_path: concat!("handlers", $("::", stringify!($handler)),+),
            handler: |app, req| Box::pin($($handler)::+(app, req)),
        }
    };
}

/// Every HTTP function, the one list the tests (which call handlers in-process by name), the
/// bench and the route checks read. tests/it/routes.rs holds it equal to template.yaml's
/// routes and to the binaries; inflow_dev.check_routes holds template.yaml equal to
/// openapi.yaml. A binary calls its handler directly, so it links no other.
pub const ENDPOINTS: &[Endpoint] = &[
    endpoint!(
        "assign-flow",
        [("POST", "/v1/flows/assign")],
        assignments::assign_flow
    ),
    endpoint!(
        "get-assignment",
        [("GET", "/v1/assignments/{assignmentId}")],
        assignments::get_assignment
    ),
    endpoint!(
        "start-assignment",
        [("POST", "/v1/assignments/{assignmentId}/start")],
        assignments::start_assignment
    ),
    endpoint!(
        "complete-assignment",
        [("POST", "/v1/assignments/{assignmentId}/complete")],
        assignments::complete_assignment
    ),
    endpoint!(
        "create-user-group",
        [("POST", "/api/user")],
        user_groups::create_user_group
    ),
    endpoint!(
        "list-invitations",
        [("GET", "/flows/{organization}/{flow}/invitations")],
        invitations::list_invitations
    ),
    endpoint!(
        "create-invitation",
        [("POST", "/flows/{organization}/{flow}/invitations")],
        invitations::create_invitation
    ),
    endpoint!(
        "import-invitations",
        [("POST", "/flows/{organization}/{flow}/invitations/import")],
        invitations::import_invitations
    ),
    endpoint!(
        "get-invitation",
        [("GET", "/flows/{organization}/{flow}/invitations/{id}")],
        invitations::get_invitation
    ),
    endpoint!(
        "delete-invitation",
        [("DELETE", "/flows/{organization}/{flow}/invitations/{id}")],
        invitations::delete_invitation
    ),
    endpoint!(
        "get-flow",
        [("GET", "/admin/v1/flows/{flowId}")],
        flows::get_flow
    ),
    endpoint!(
        "cancel-flow",
        [("POST", "/admin/v1/flows/{flowId}")],
        flows::cancel_flow
    ),
    endpoint!(
        "create-join-organization-flow",
        [("POST", "/admin/v1/flows:createJoinOrganization")],
        flows::create_join_organization_flow
    ),
    endpoint!(
        "create-signup-flow",
        [("POST", "/admin/v1/flows:createSignup")],
        flows::create_signup_flow
    ),
    endpoint!(
        "consume-flow",
        [("POST", "/user/v1/flows/{flowId}")],
        flows::consume_flow
    ),
    endpoint!(
        "list-webhook-deliveries",
        [("GET", "/v1/webhooks/deliveries")],
        deliveries::list_webhook_deliveries
    ),
    endpoint!(
        "replay-webhook-delivery",
        [("POST", "/v1/webhooks/deliveries/{deliveryId}/replay")],
        deliveries::replay_webhook_delivery
    ),
    endpoint!(
        "get-organization",
        [("GET", "/v1/organization")],
        organization::get_organization
    ),
    endpoint!(
        "update-organization",
        [("PATCH", "/v1/organization")],
        organization::update_organization
    ),
    endpoint!(
        "create-webhook-endpoint",
        [("POST", "/v1/webhooks/endpoints")],
        webhook_endpoints::create_webhook_endpoint
    ),
    endpoint!(
        "list-webhook-endpoints",
        [("GET", "/v1/webhooks/endpoints")],
        webhook_endpoints::list_webhook_endpoints
    ),
    endpoint!(
        "get-webhook-endpoint",
        [("GET", "/v1/webhooks/endpoints/{endpointId}")],
        webhook_endpoints::get_webhook_endpoint
    ),
    endpoint!(
        "update-webhook-endpoint",
        [("PATCH", "/v1/webhooks/endpoints/{endpointId}")],
        webhook_endpoints::update_webhook_endpoint
    ),
    endpoint!(
        "delete-webhook-endpoint",
        [("DELETE", "/v1/webhooks/endpoints/{endpointId}")],
        webhook_endpoints::delete_webhook_endpoint
    ),
    endpoint!(
        "rotate-webhook-endpoint-secret",
        [("POST", "/v1/webhooks/endpoints/{endpointId}/rotate-secret")],
        webhook_endpoints::rotate_webhook_endpoint_secret
    ),
    endpoint!(
        "test-webhook-endpoint",
        [("POST", "/v1/webhooks/endpoints/{endpointId}/test")],
        webhook_endpoints::test_webhook_endpoint
    ),
    endpoint!(
        "accept-page",
        [("GET", "/accept"), ("POST", "/accept")],
        accept::accept_page
    ),
];

/// The endpoint of the binary `name`.
pub fn endpoint(name: &str) -> Option<&'static Endpoint> {
    ENDPOINTS.iter().find(|e| e.name == name)
}
