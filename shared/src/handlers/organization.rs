//! The organization's own settings over the API, with its admin key (seed 000's error shape).

use lambda_http::{Body, Request, Response};

use crate::{
    app::App,
    auth::Schemes,
    http::{serve, Auth, Reply, Route},
    org_settings,
    wire::{organization as wire, Family},
};

const fn route(name: &'static str) -> Route {
    Route::new(name, Family::Webhooks, Auth::Admin(Schemes::Bearer))
}

/// `GET /v1/organization`
pub async fn get_organization(app: &App, req: Request) -> Response<Body> {
    serve(app, req, &route("get-organization"), |ctx| async move {
        let org = org_settings::get(ctx.app, &ctx.caller.org_id).await?;
        Ok(Reply::json(200, wire::organization(&org)))
    })
    .await
}

/// `PATCH /v1/organization` with `{name?, acceptUrlTemplate?, invitationTtl?}`.
pub async fn update_organization(app: &App, req: Request) -> Response<Body> {
    serve(
        app,
        req,
        &route("update-organization").json_body(),
        |ctx| async move {
            let input = wire::parse_settings(ctx.body())?;
            let change = crate::model::SettingsChange::validate(input, &ctx.app.config)?;
            let org = org_settings::update(ctx.app, &ctx.caller.org_id, &change, ctx.now).await?;
            Ok(Reply::json(200, wire::organization(&org)))
        },
    )
    .await
}
