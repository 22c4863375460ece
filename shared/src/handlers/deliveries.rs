//! Failed webhook deliveries as a product feature: list them, replay one.

use lambda_http::{Body, Request, Response};

use crate::{
    app::App,
    auth::Schemes,
    delivery,
    error::{Error, Resource},
    http::{serve, Auth, Reply, Route},
    store,
    wire::{deliveries as wire, Family},
};

const fn route(name: &'static str) -> Route {
    Route::new(name, Family::Webhooks, Auth::Admin(Schemes::Bearer))
}

/// `GET /v1/webhooks/deliveries?status=failed|pending|delivered&limit=1-100`
pub async fn list_webhook_deliveries(app: &App, req: Request) -> Response<Body> {
    serve(
        app,
        req,
        &route("list-webhook-deliveries"),
        |ctx| async move {
            let (status, limit) = wire::parse_list(
                ctx.query("status").as_deref(),
                ctx.query("limit").as_deref(),
            )?;
            let found =
                store::deliveries::by_status(&ctx.app.table, &ctx.caller.org_id, status, limit)
                    .await?;
            Ok(Reply::json(200, wire::list(&found)))
        },
    )
    .await
}

/// `POST /v1/webhooks/deliveries/{deliveryId}/replay`: 202, the delivery pending again.
pub async fn replay_webhook_delivery(app: &App, req: Request) -> Response<Body> {
    serve(
        app,
        req,
        &route("replay-webhook-delivery"),
        |ctx| async move {
            let id = ctx
                .path_param("deliveryId")
                .ok_or_else(|| Error::not_found(Resource::Delivery, ""))?;
            let d = delivery::replay(ctx.app, &ctx.caller.org_id, &id, ctx.now).await?;
            Ok(Reply::json(202, wire::replayed(&d)))
        },
    )
    .await
}
