//! Seeds 003 and 004: `/admin/v1/flows…` and `/user/v1/flows/{flowId}:consume`. API Gateway
//! cannot route `{flowId}:action` inside one segment, so these take the whole segment.

use lambda_http::{Body, Request, RequestExt, Response};

use super::entry;
use crate::{
    app::App,
    auth::{self, Schemes},
    error::{Error, Resource},
    http::{serve, serve_prefetched, Auth, Ctx, Endpoint, Reply},
    invitations::{self, consume, create, lifecycle},
    model::{Invitation, InvitationKind},
    wire::{flows as wire, Family},
};

/// The id (or secret) and action of a `{flowId}` segment; a plain id for `GET`.
fn target(ctx: &Ctx<'_>, action: Option<&str>) -> Result<String, Error> {
    let segment = ctx.path_param("flowId").unwrap_or_default();
    let not_found = || Error::not_found(Resource::Invitation, "");
    match action {
        None => Ok(percent_encoding::percent_decode_str(&segment)
            .decode_utf8()
            .map_err(|_| not_found())?
            .into_owned()),
        Some(wanted) => match wire::split_action(&segment) {
            Some((id, found)) if found == wanted => Ok(id),
            _ => Err(not_found()),
        },
    }
}

/// The `{flowId}` of a request, read before authentication (see [`prefetch`]).
fn segment_of(req: &Request) -> String {
    req.path_parameters_ref()
        .and_then(|p| p.first("flowId"))
        .unwrap_or_default()
        .to_owned()
}

/// Starts reading the invitation a `{flowId}` segment names, so that it runs at once with
/// authentication (`http::serve_prefetched`). What it finds is used only for the authenticated
/// caller's organization.
fn prefetch<'a>(
    app: &'a App,
    req: &Request,
    action: Option<&'static str>,
) -> impl std::future::Future<Output = Result<Option<Invitation>, Error>> + 'a {
    let segment = segment_of(req);
    let id = match action {
        None => percent_encoding::percent_decode_str(&segment)
            .decode_utf8()
            .ok()
            .map(|s| s.into_owned()),
        Some(wanted) => wire::split_action(&segment)
            .filter(|(_, found)| found == wanted)
            .map(|(id, _)| id),
    };
    async move {
        match id {
            Some(id) => lifecycle::fetch(app, &id).await,
            None => Ok(None),
        }
    }
}

/// `GET /admin/v1/flows/{flowId}`
async fn get_flow(app: &App, req: Request, endpoint: &Endpoint) -> Response<Body> {
    serve_prefetched(
        app,
        req,
        endpoint,
        |req| prefetch(app, req, None),
        |ctx, found| async move {
            let inv = lifecycle::owned(&ctx.caller, &target(&ctx, None)?, found)?;
            let view = lifecycle::view(ctx.app, inv).await?;
            Ok(Reply::json(200, wire::flow(&view, ctx.now, None)))
        },
    )
    .await
}

/// `POST /admin/v1/flows/{flowId}:cancel`
async fn cancel_flow(app: &App, req: Request, endpoint: &Endpoint) -> Response<Body> {
    serve_prefetched(
        app,
        req,
        endpoint,
        |req| prefetch(app, req, Some("cancel")),
        |ctx, found| async move {
            let current = lifecycle::owned(&ctx.caller, &target(&ctx, Some("cancel"))?, found)?;
            // The view's organization and users do not change with the cancel: read at once.
            let (inv, parts) = futures::try_join!(
                lifecycle::cancel_found(
                    ctx.app,
                    &ctx.caller,
                    current.clone(),
                    &ctx.request_id,
                    ctx.now
                ),
                lifecycle::view_parts(ctx.app, &current),
            )?;
            let view = lifecycle::assemble(inv, parts)?;
            Ok(Reply::json(200, wire::flow(&view, ctx.now, None)))
        },
    )
    .await
}

async fn create_flow(ctx: Ctx<'_>, kind: InvitationKind) -> Result<Reply, Error> {
    let input = wire::parse_create(kind, ctx.body())?;
    let (view, secret) = create::create_flow(
        ctx.app,
        &ctx.caller,
        create::FlowRequest::validate(input, &ctx.caller, ctx.now)?,
        &ctx.request_id,
        ctx.mark.as_ref(),
        ctx.now,
    )
    .await?;
    Ok(Reply::json(200, wire::flow(&view, ctx.now, Some(&secret))))
}

/// `POST /admin/v1/flows:createJoinOrganization`
async fn create_join_organization_flow(
    app: &App,
    req: Request,
    endpoint: &Endpoint,
) -> Response<Body> {
    serve(app, req, endpoint, |ctx| {
        create_flow(ctx, InvitationKind::JoinOrganization)
    })
    .await
}

/// `POST /admin/v1/flows:createSignup`
async fn create_signup_flow(app: &App, req: Request, endpoint: &Endpoint) -> Response<Body> {
    serve(app, req, endpoint, |ctx| {
        create_flow(ctx, InvitationKind::Signup)
    })
    .await
}

/// `POST /user/v1/flows/{flowId}:consume` with `UserHub-Api-Key`; by flow secret, or by flow id
/// with `Authorization: Bearer <user access token>`.
async fn consume_flow(app: &App, req: Request, endpoint: &Endpoint) -> Response<Body> {
    // A flow secret is the proof and names its invitation: read it at once with authentication.
    let by_secret = |req: &Request| {
        let secret = wire::split_action(&segment_of(req))
            .filter(|(id, action)| action == "consume" && invitations::id_in_secret(id).is_some())
            .map(|(secret, _)| secret);
        async move {
            match secret {
                Some(secret) => Some(consume::by_secret(app, &secret).await),
                None => None,
            }
        }
    };
    serve_prefetched(app, req, endpoint, by_secret, |ctx, found| async move {
        let id_or_secret = target(&ctx, Some("consume"))?;
        let bearer = auth::bearer(ctx.req.headers());
        let proof = consume::proof(&id_or_secret, bearer)?;
        let inv = match (proof, found) {
            (consume::Proof::Secret(_), Some(found)) => {
                consume::consume_secret_found(ctx.app, &ctx.caller, found, &ctx.request_id, ctx.now)
                    .await?
            }
            (proof, _) => {
                consume::consume(ctx.app, &ctx.caller, proof, &ctx.request_id, ctx.now).await?
            }
        };
        let view = lifecycle::view(ctx.app, inv).await?;
        Ok(Reply::json(200, wire::flow(&view, ctx.now, None)))
    })
    .await
}

/// This family's endpoints (`handlers::endpoints` has every family's).
pub mod endpoints {
    use super::*;

    pub const GET_FLOW: Endpoint = entry!(
        "get-flow",
        Family::Flows,
        Auth::Admin(Schemes::Bearer),
        [("GET", "/admin/v1/flows/{flowId}")],
        get_flow
    );
    pub const CANCEL_FLOW: Endpoint = entry!(
        "cancel-flow",
        Family::Flows,
        Auth::Admin(Schemes::Bearer),
        [("POST", "/admin/v1/flows/{flowId}")],
        cancel_flow
    );
    pub const CREATE_JOIN_ORGANIZATION_FLOW: Endpoint = entry!(
        "create-join-organization-flow",
        Family::Flows,
        Auth::Admin(Schemes::Bearer),
        [("POST", "/admin/v1/flows:createJoinOrganization")],
        create_join_organization_flow
    )
    .idempotent()
    .json_body();
    pub const CREATE_SIGNUP_FLOW: Endpoint = entry!(
        "create-signup-flow",
        Family::Flows,
        Auth::Admin(Schemes::Bearer),
        [("POST", "/admin/v1/flows:createSignup")],
        create_signup_flow
    )
    .idempotent()
    .json_body();
    pub const CONSUME_FLOW: Endpoint = entry!(
        "consume-flow",
        Family::Flows,
        Auth::User,
        [("POST", "/user/v1/flows/{flowId}")],
        consume_flow
    );
}

pub(super) const ENDPOINTS: &[Endpoint] = &[
    endpoints::GET_FLOW,
    endpoints::CANCEL_FLOW,
    endpoints::CREATE_JOIN_ORGANIZATION_FLOW,
    endpoints::CREATE_SIGNUP_FLOW,
    endpoints::CONSUME_FLOW,
];
