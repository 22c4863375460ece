//! Seed 002's endpoint: create a user group, or rotate its token.

use lambda_http::{Body, Request, Response};

use crate::{
    app::App,
    auth::Schemes,
    http::{serve, Auth, Reply, Route},
    user_groups::{self, UserGroupRequest},
    wire::{user_groups as wire, Family},
};

/// The seed sends `Authorization: Token <key>`; Bearer works too. Creating, so idempotent.
const ROUTE: Route = Route {
    name: "create-user-group",
    family: Family::UserGroups,
    auth: Auth::Admin(Schemes::BearerOrToken),
    idempotent: true,
    json_body: true,
};

/// `POST /api/user`
pub async fn create_user_group(app: &App, req: Request) -> Response<Body> {
    serve(app, req, &ROUTE, |ctx| async move {
        let request = UserGroupRequest::validate(wire::parse_user_group(ctx.body())?)?;
        let issued = user_groups::create_or_rotate(
            ctx.app,
            &ctx.caller,
            request,
            ctx.mark.as_ref(),
            ctx.now,
        )
        .await?;
        Ok(Reply::json(200, wire::user_group(&issued)))
    })
    .await
}
