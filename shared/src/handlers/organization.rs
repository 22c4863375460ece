//! The organization's own settings over the API, with its admin key (seed 000's error shape).

use lambda_http::{Body, Request, Response};

use super::entry;
use crate::{
    app::App,
    auth::Schemes,
    http::{serve, Auth, Endpoint, Reply},
    org_settings,
    wire::{organization as wire, Family},
};

/// `GET /v1/organization`
async fn get_organization(app: &App, req: Request, endpoint: &Endpoint) -> Response<Body> {
    serve(app, req, endpoint, |ctx| async move {
        let org = org_settings::get(ctx.app, &ctx.caller.org_id).await?;
        Ok(Reply::json(200, wire::organization(&org)))
    })
    .await
}

/// `PATCH /v1/organization` with `{name?, acceptUrlTemplate?, invitationTtl?}`.
async fn update_organization(app: &App, req: Request, endpoint: &Endpoint) -> Response<Body> {
    serve(app, req, endpoint, |ctx| async move {
        let input = wire::parse_settings(ctx.body())?;
        let change = crate::model::SettingsChange::validate(input, &ctx.app.config)?;
        let org = org_settings::update(ctx.app, &ctx.caller.org_id, &change, ctx.now).await?;
        Ok(Reply::json(200, wire::organization(&org)))
    })
    .await
}

/// This family's endpoints (`handlers::endpoints` has every family's).
pub mod endpoints {
    use super::*;

    pub const GET_ORGANIZATION: Endpoint = entry!(
        "get-organization",
        Family::Inflow,
        Auth::Admin(Schemes::Bearer),
        [("GET", "/v1/organization")],
        get_organization
    );
    pub const UPDATE_ORGANIZATION: Endpoint = entry!(
        "update-organization",
        Family::Inflow,
        Auth::Admin(Schemes::Bearer),
        [("PATCH", "/v1/organization")],
        update_organization
    )
    .json_body();
}

pub(super) const ENDPOINTS: &[Endpoint] =
    &[endpoints::GET_ORGANIZATION, endpoints::UPDATE_ORGANIZATION];
