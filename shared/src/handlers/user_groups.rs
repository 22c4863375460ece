//! Seed 002's endpoint: create a user group, or rotate its token.

use lambda_http::{Body, Request, Response};

use super::entry;
use crate::{
    app::App,
    auth::Schemes,
    http::{serve, Auth, Endpoint, Reply},
    user_groups::{self, UserGroupRequest},
    wire::{user_groups as wire, Family},
};

/// `POST /api/user`
async fn create_user_group(app: &App, req: Request, endpoint: &Endpoint) -> Response<Body> {
    serve(app, req, endpoint, |ctx| async move {
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

/// This family's endpoints (`handlers::endpoints` has every family's).
pub mod endpoints {
    use super::*;

    pub const CREATE_USER_GROUP: Endpoint = entry!(
        "create-user-group",
        Family::UserGroups,
        Auth::Admin(Schemes::BearerOrToken),
        [("POST", "/api/user")],
        create_user_group
    )
    .idempotent()
    .json_body();
}

pub(super) const ENDPOINTS: &[Endpoint] = &[endpoints::CREATE_USER_GROUP];
