//! Seeds 003 and 004: `/admin/v1/flows…` and `/user/v1/flows/{flowId}:consume`. API Gateway
//! cannot route `{flowId}:action` inside one segment, so these take the whole segment.

use lambda_http::{Body, Request, Response};

use crate::{
    app::App,
    auth::Schemes,
    error::{Error, Resource},
    http::{serve, Auth, Ctx, Endpoint, Reply},
    invitations::{consume, create, lifecycle},
    model::InvitationKind,
    wire::{flows as wire, Family},
};

const fn admin(name: &'static str, idempotent: bool, json_body: bool) -> Endpoint {
    Endpoint {
        name,
        family: Family::Flows,
        auth: Auth::Admin(Schemes::Bearer),
        idempotent,
        json_body,
    }
}

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

/// `GET /admin/v1/flows/{flowId}`
pub async fn get_flow(app: &App, req: Request) -> Response<Body> {
    serve(
        app,
        req,
        &admin("get-flow", false, false),
        |ctx| async move {
            let inv = lifecycle::get(ctx.app, &ctx.caller, &target(&ctx, None)?).await?;
            let view = lifecycle::view(ctx.app, inv).await?;
            Ok(Reply::json(200, wire::flow(&view, ctx.now, None)))
        },
    )
    .await
}

/// `POST /admin/v1/flows/{flowId}:cancel`
pub async fn cancel_flow(app: &App, req: Request) -> Response<Body> {
    serve(
        app,
        req,
        &admin("cancel-flow", false, false),
        |ctx| async move {
            let inv = lifecycle::cancel(
                ctx.app,
                &ctx.caller,
                &target(&ctx, Some("cancel"))?,
                &ctx.request_id,
                ctx.now,
            )
            .await?;
            let view = lifecycle::view(ctx.app, inv).await?;
            Ok(Reply::json(200, wire::flow(&view, ctx.now, None)))
        },
    )
    .await
}

async fn create_flow(ctx: Ctx<'_>, kind: InvitationKind) -> Result<Reply, Error> {
    let request = wire::parse_create(kind, ctx.body())?;
    let (view, secret) = create::create_flow(
        ctx.app,
        &ctx.caller,
        request.validate(&ctx.caller, ctx.now)?,
        &ctx.request_id,
        ctx.mark.as_ref(),
        ctx.now,
    )
    .await?;
    Ok(Reply::json(200, wire::flow(&view, ctx.now, Some(&secret))))
}

/// `POST /admin/v1/flows:createJoinOrganization`
pub async fn create_join_organization_flow(app: &App, req: Request) -> Response<Body> {
    serve(
        app,
        req,
        &admin("create-join-organization-flow", true, true),
        |ctx| create_flow(ctx, InvitationKind::JoinOrganization),
    )
    .await
}

/// `POST /admin/v1/flows:createSignup`
pub async fn create_signup_flow(app: &App, req: Request) -> Response<Body> {
    serve(app, req, &admin("create-signup-flow", true, true), |ctx| {
        create_flow(ctx, InvitationKind::Signup)
    })
    .await
}

/// `POST /user/v1/flows/{flowId}:consume` with `UserHub-Api-Key`; by flow secret, or by flow id
/// with `Authorization: Bearer <user access token>`.
pub async fn consume_flow(app: &App, req: Request) -> Response<Body> {
    let endpoint = Endpoint {
        name: "consume-flow",
        family: Family::Flows,
        auth: Auth::User,
        idempotent: false,
        json_body: false,
    };
    serve(app, req, &endpoint, |ctx| async move {
        let id_or_secret = target(&ctx, Some("consume"))?;
        let bearer = ctx
            .header("authorization")
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim);
        let proof = consume::proof(&id_or_secret, bearer)?;
        let inv = consume::consume(ctx.app, &ctx.caller, proof, &ctx.request_id, ctx.now).await?;
        let view = lifecycle::view(ctx.app, inv).await?;
        Ok(Reply::json(200, wire::flow(&view, ctx.now, None)))
    })
    .await
}
