//! Seed 001: `/flows/{organization}/{flow}/invitations…`.

use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};

use crate::{
    app::App,
    auth::Schemes,
    error::{Error, Resource},
    http::{serve, Auth, Ctx, Reply, Route},
    invitations::{
        create::{self, InviteRequest},
        import::{self, ImportRequest},
        lifecycle,
    },
    model::Flow,
    wire::{invitations as wire, Family},
};

const MAX_PAGE: usize = 100;

const fn route(name: &'static str) -> Route {
    Route::new(name, Family::Invitations, Auth::Admin(Schemes::Bearer))
}

async fn flow_of(ctx: &Ctx<'_>) -> Result<Flow, Error> {
    let org = ctx
        .path_param("organization")
        .ok_or_else(|| Error::not_found(Resource::Organization, ""))?;
    let flow = ctx
        .path_param("flow")
        .ok_or_else(|| Error::not_found(Resource::Flow, ""))?;
    create::resolve_flow(ctx.app, &ctx.caller, &org, &flow).await
}

fn number_of(ctx: &Ctx<'_>) -> Result<String, Error> {
    ctx.path_param("id")
        .ok_or_else(|| Error::not_found(Resource::Invitation, ""))
}

/// `GET /flows/{organization}/{flow}/invitations`: pending invitations, paginated with
/// `limit` and `after`, and a `Link: <…>; rel="next"` header while there are more.
pub async fn list_invitations(app: &App, req: Request) -> Response<Body> {
    serve(app, req, &route("list-invitations"), |ctx| async move {
        let flow = flow_of(&ctx).await?;
        let limit = match ctx.query("limit") {
            None => MAX_PAGE,
            Some(l) => l
                .parse()
                .ok()
                .filter(|l| (1..=MAX_PAGE).contains(l))
                .ok_or_else(|| Error::invalid("limit", format!("must be 1-{MAX_PAGE}")))?,
        };
        let after = match ctx.query("after") {
            None => 0,
            Some(a) => a
                .parse()
                .map_err(|_| Error::invalid("after", "must be an invitation id"))?,
        };
        let (page, next) =
            lifecycle::list_pending(ctx.app, &ctx.caller, &flow, after, limit, ctx.now).await?;
        let base = ctx.base_url();
        let body: Vec<Value> = page
            .iter()
            .map(|inv| wire::invitation(inv, &base, &ctx.caller.org_slug))
            .collect();
        let reply = Reply::json(200, Value::Array(body));
        Ok(match next {
            Some(after) => {
                let link = format!(
                    "<{base}/flows/{}/{}/invitations?limit={limit}&after={after}>; rel=\"next\"",
                    ctx.caller.org_slug, flow.slug
                );
                reply.with_header("link", link)
            }
            None => reply,
        })
    })
    .await
}

/// `GET /flows/{organization}/{flow}/invitations/{id}`
pub async fn get_invitation(app: &App, req: Request) -> Response<Body> {
    serve(app, req, &route("get-invitation"), |ctx| async move {
        let flow = flow_of(&ctx).await?;
        let inv = lifecycle::by_number(ctx.app, &ctx.caller, &flow, &number_of(&ctx)?).await?;
        Ok(Reply::json(
            200,
            wire::invitation(&inv, &ctx.base_url(), &ctx.caller.org_slug),
        ))
    })
    .await
}

/// `POST /flows/{organization}/{flow}/invitations`: create, or re-send to the same email.
pub async fn create_invitation(app: &App, req: Request) -> Response<Body> {
    serve(
        app,
        req,
        &route("create-invitation").idempotent().json_body(),
        |ctx| async move {
            let request = InviteRequest::validate(wire::parse_create(ctx.body())?)?;
            let flow = flow_of(&ctx).await?;
            let inv = create::invite(
                ctx.app,
                &ctx.caller,
                &flow,
                request,
                &ctx.request_id,
                ctx.mark.as_ref(),
                ctx.now,
            )
            .await?;
            Ok(Reply::json(
                201,
                wire::invitation(&inv, &ctx.base_url(), &ctx.caller.org_slug),
            ))
        },
    )
    .await
}

/// `POST /flows/{organization}/{flow}/invitations/import`
pub async fn import_invitations(app: &App, req: Request) -> Response<Body> {
    serve(app, req, &route("import-invitations").idempotent().json_body(), |ctx| async move {
        let request = ImportRequest::validate(wire::parse_import(ctx.body())?)?;
        let flow = flow_of(&ctx).await?;
        let done = import::import(ctx.app, &ctx.caller, &flow, request, &ctx.request_id, ctx.mark.as_ref(), ctx.now).await?;
        let base = ctx.base_url();
        Ok(Reply::json(200, json!({
            "invitations": done.invitations.iter().map(|inv| wire::invitation(inv, &base, &ctx.caller.org_slug)).collect::<Vec<_>>(),
            "added_users": done.added_users.iter().map(wire::added_user).collect::<Vec<_>>(),
            "erroneous_emails": wire::erroneous(&done.erroneous),
        })))
    })
    .await
}

/// `DELETE /flows/{organization}/{flow}/invitations/{id}`: 204 with no body.
pub async fn delete_invitation(app: &App, req: Request) -> Response<Body> {
    serve(app, req, &route("delete-invitation"), |ctx| async move {
        let flow = flow_of(&ctx).await?;
        lifecycle::delete(
            ctx.app,
            &ctx.caller,
            &flow,
            &number_of(&ctx)?,
            &ctx.request_id,
            ctx.now,
        )
        .await?;
        Ok(Reply::no_content())
    })
    .await
}
