//! One handler per endpoint, and each family's list of its endpoints (`<family>::endpoints`):
//! an endpoint is described once, by its [`Endpoint`] entry beside its handler. Its binary
//! names that entry; tests/it/routes.rs holds the entries equal to template.yaml's routes, to
//! the binaries and to openapi.yaml's functions.

pub mod accept;
pub mod assignments;
pub mod deliveries;
pub mod flows;
pub mod invitations;
pub mod organization;
pub mod user_groups;
pub mod webhook_endpoints;

pub use crate::http::Endpoint;

/// Every endpoint by its constant (`ASSIGN_FLOW` for `assign-flow`), as binaries and tests name
/// them.
pub mod endpoints {
    pub use super::{
        accept::endpoints::*, assignments::endpoints::*, deliveries::endpoints::*,
        flows::endpoints::*, invitations::endpoints::*, organization::endpoints::*,
        user_groups::endpoints::*, webhook_endpoints::endpoints::*,
    };
}

/// Each family's endpoints.
const FAMILIES: &[&[Endpoint]] = &[
    assignments::ENDPOINTS,
    user_groups::ENDPOINTS,
    invitations::ENDPOINTS,
    flows::ENDPOINTS,
    deliveries::ENDPOINTS,
    organization::ENDPOINTS,
    webhook_endpoints::ENDPOINTS,
    accept::ENDPOINTS,
];

/// Every HTTP function: the one list the tests (which call handlers in-process), the bench and
/// the route checks read.
pub fn all() -> impl Iterator<Item = &'static Endpoint> {
    FAMILIES.iter().flat_map(|family| family.iter())
}

/// The endpoint of the binary `name`.
pub fn endpoint(name: &str) -> Option<&'static Endpoint> {
    all().find(|e| e.name == name)
}

/// An endpoint's entry: `entry!("name", family, auth, [(method, path), …],
/// handler)`, whose handler is `async fn(&App, Request, &Endpoint) -> Response<Body>`.
macro_rules! entry {
    ($name:literal, $family:expr, $auth:expr, [$(($method:literal, $path:literal)),+ $(,)?], $handler:path) => {
        $crate::http::Endpoint::new(
            $name,
            &[$(($method, $path)),+],
            $family,
            $auth,
            |app, req, endpoint| Box::pin($handler(app, req, endpoint)),
        )
    };
}
pub(crate) use entry;
